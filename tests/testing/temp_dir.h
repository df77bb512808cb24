#pragma once

// A fresh directory for one test, removed with everything in it when the test's fixture goes:
//
//   class MyTest : public ::testing::Test {
//    protected:
//     weft::testing::TempDir tmp_{"weftctl-explain"};   // /tmp/weftctl-explain.XXXXXX
//   };
//   std::string f = tmp_.Write("mesh/a.yaml", text);     // directories made as needed

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace weft::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "weft-test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + ".XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl + " failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

  // Writes `text` to `rel` under the directory; returns the file's full path.
  std::string Write(const std::string& rel, const std::string& text) const {
    std::filesystem::path p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace weft::testing
