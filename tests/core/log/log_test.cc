// core/log: levels, the line format, filtering (the stream not evaluated), and the macro as
// the body of an unbraced if/else.

#include "core/log/log.h"

#include <unistd.h>

#include <cstdio>
#include <regex>
#include <string>

#include "gtest/gtest.h"

namespace weft::log {
namespace {

// Runs `f` with stderr redirected to a temporary file; returns what it wrote.
template <typename F>
std::string CaptureStderr(F f) {
  std::FILE* tmp = std::tmpfile();
  int saved = dup(STDERR_FILENO);
  dup2(fileno(tmp), STDERR_FILENO);
  f();
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, tmp)) > 0) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override { SetLevel(Level::kInfo); }
};

TEST_F(LogTest, ParsesLevels) {
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
  EXPECT_EQ(*ParseLevel("warn"), Level::kWarning);
  EXPECT_EQ(*ParseLevel("WARNING"), Level::kWarning);
  EXPECT_EQ(*ParseLevel("Info"), Level::kInfo);
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  auto bad = ParseLevel("trace");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("error, warn, info, debug"), std::string::npos);
  for (Level l : {Level::kError, Level::kWarning, Level::kInfo, Level::kDebug}) {
    EXPECT_EQ(*ParseLevel(LevelName(l)), l);
  }
}

TEST_F(LogTest, OneLineWithTimeLevelAndComponent) {
  std::string out = CaptureStderr([] { WEFT_LOG(kInfo, "weft-agent") << "node proxy " << 42; });
  EXPECT_TRUE(std::regex_match(
      out,
      std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info weft-agent: node proxy 42\n)")))
      << out;
}

TEST_F(LogTest, FiltersBelowTheLevelWithoutEvaluating) {
  int evaluated = 0;
  auto count = [&] { return ++evaluated; };
  SetLevel(Level::kWarning);
  std::string out = CaptureStderr([&] {
    WEFT_LOG(kDebug, "c") << "debug " << count();
    WEFT_LOG(kInfo, "c") << "info " << count();
    WEFT_LOG(kWarning, "c") << "warn " << count();
    WEFT_LOG(kError, "c") << "error " << count();
  });
  EXPECT_EQ(evaluated, 2);
  EXPECT_EQ(out.find("debug"), std::string::npos);
  EXPECT_EQ(out.find("info"), std::string::npos);
  EXPECT_NE(out.find(" warn c: warn 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find(" error c: error 2\n"), std::string::npos) << out;
  SetLevel(Level::kDebug);
  EXPECT_TRUE(Enabled(Level::kDebug));
  SetLevel(Level::kError);
  EXPECT_FALSE(Enabled(Level::kWarning));
  EXPECT_TRUE(Enabled(Level::kError));
}

TEST_F(LogTest, SafeAsAnUnbracedIfBody) {
  std::string out = CaptureStderr([] {
    for (bool cond : {true, false}) {
      if (cond)
        WEFT_LOG(kInfo, "c") << "then";
      else
        WEFT_LOG(kInfo, "c") << "else";
    }
  });
  EXPECT_NE(out.find("c: then\n"), std::string::npos) << out;
  EXPECT_NE(out.find("c: else\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace weft::log
