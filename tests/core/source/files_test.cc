// The file loader: which files a directory contributes, in which order, and the "io"
// diagnostic class for paths that cannot be read.

#include "core/source/files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace weft::source {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kSa[] = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n";

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weft-files-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  std::string P(const std::string& rel) const { return (dir_ / rel).string(); }
  fs::path dir_;
};

TEST(IsManifestName, Extensions) {
  EXPECT_TRUE(IsManifestName("a.yaml"));
  EXPECT_TRUE(IsManifestName("a.yml"));
  EXPECT_TRUE(IsManifestName("a.json"));
  EXPECT_FALSE(IsManifestName("a.txt"));
  EXPECT_FALSE(IsManifestName("yaml"));
  EXPECT_FALSE(IsManifestName("a.yaml.bak"));
}

TEST_F(FilesTest, MissingPathIsAnIoError) {
  LoadedFiles out = LoadPaths({P("nope.yaml")});
  EXPECT_THAT(out.files, IsEmpty());
  EXPECT_THAT(out.documents, IsEmpty());
  ASSERT_THAT(out.io_errors, SizeIs(1));
  const policy::Diagnostic& d = out.io_errors[0];
  EXPECT_EQ(d.code, policy::code::kIo);
  EXPECT_EQ(d.severity, policy::Severity::kError);
  EXPECT_EQ(d.resource.file, P("nope.yaml"));
  EXPECT_EQ(policy::FormatDiagnostic(d), P("nope.yaml") + ": error: no such file or directory");
}

TEST_F(FilesTest, DirectoriesAreReadRecursivelySortedSkippingHiddenAndOtherFiles) {
  Write("b.yaml", kSa);
  Write("a/z.yml", kSa);
  Write("c.json", R"({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "j"}})");
  Write("notes.txt", "not yaml: [");
  Write(".hidden.yaml", "broken: [");
  Write(".git/x.yaml", "broken: [");
  LoadedFiles out = LoadPaths({dir_.string()});
  EXPECT_THAT(out.io_errors, IsEmpty());
  EXPECT_THAT(out.files, ElementsAre(P("a/z.yml"), P("b.yaml"), P("c.json")));
  ASSERT_THAT(out.documents, SizeIs(3));
  EXPECT_EQ(out.documents[0].ref.file, P("a/z.yml"));
  EXPECT_EQ(out.documents[2].ref.name, "j");
  for (const auto& d : out.documents) EXPECT_FALSE(d.rejected) << d.ref.file;
}

TEST_F(FilesTest, AFileNamedExplicitlyIsReadWhateverItsExtension) {
  Write("manifest.txt", std::string(kSa) + "---\n" + kSa);
  LoadedFiles out = LoadPaths({P("manifest.txt")});
  EXPECT_THAT(out.files, ElementsAre(P("manifest.txt")));
  ASSERT_THAT(out.documents, SizeIs(2));
  EXPECT_EQ(out.documents[1].ref.line, 5u);
}

TEST_F(FilesTest, OneBadPathDoesNotStopTheOthers) {
  Write("good.yaml", kSa);
  LoadedFiles out = LoadPaths({P("missing"), P("good.yaml")});
  EXPECT_THAT(out.io_errors, SizeIs(1));
  EXPECT_THAT(out.documents, SizeIs(1));
}

TEST_F(FilesTest, DefaultNamespaceOptionReachesTheDecoder) {
  Write("sa.yaml", kSa);
  policy::DecodeOptions opt;
  opt.default_namespace = "team";
  LoadedFiles out = LoadPaths({P("sa.yaml")}, opt);
  ASSERT_THAT(out.documents, SizeIs(1));
  EXPECT_EQ(out.documents[0].ref.ns, "team");
}

}  // namespace
}  // namespace weft::source
