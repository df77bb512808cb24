// `weft-cluster launch`: how the node stand-in runs a container of weft's image — its bind
// mounts in a mount namespace of its own (tools/netns-cluster/launch.cc). Root only.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/command.h"
#include "tools/netns-cluster/kube_pods.h"

namespace weft::cluster {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class Launch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (getenv("CI")) FAIL() << "the launcher needs root (CI is set: no skipping)";
      GTEST_SKIP() << "the launcher needs root";
    }
    char tmpl[] = "/tmp/weft-launch-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // Runs a pod whose main container is `sh -c script` with `mounts`.
  testing::CommandResult Run(const std::vector<k8s::Mount>& mounts, const std::string& script) {
    k8s::LaunchSpec spec;
    spec.pod = "test/launch";
    spec.hostname = "launch";
    spec.main.name = "main";
    spec.main.argv = {"/bin/sh", "-c", script};
    spec.main.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    spec.main.mounts = mounts;
    fs::path file = dir_ / "spec.json";
    std::ofstream(file) << k8s::ToJson(spec).dump();
    return RunCommand("timeout 20 " + std::string(WEFT_BINARY_DIR) +
                      "/bin/weft-cluster launch --spec " + file.string());
  }

  fs::path dir_;
};

// A hostPath mounted over the directory that holds a later volume's source (the agent's
// hostPath /run/weft over the pods' volumes in /run/weft/cluster/pods) must not hide it: every
// source is opened before anything is mounted.
TEST_F(Launch, AMountDoesNotHideALaterMountsSource) {
  fs::create_directories(dir_ / "host-run");
  std::ofstream(dir_ / "host-run" / "marker") << "node's own /run\n";
  fs::create_directories(dir_ / "run" / "pods" / "vol");
  std::ofstream(dir_ / "run" / "pods" / "vol" / "token") << "projected token\n";
  fs::create_directories(dir_ / "ctr" / "token");
  std::vector<k8s::Mount> mounts = {
      {.source = (dir_ / "host-run").string(), .target = (dir_ / "run").string()},
      {.source = (dir_ / "run" / "pods" / "vol").string(),
       .target = (dir_ / "ctr" / "token").string(),
       .readonly = true},
  };
  auto r = Run(mounts, "cat " + (dir_ / "ctr/token/token").string() + " " +
                           (dir_ / "run/marker").string() + "; hostname; touch " +
                           (dir_ / "ctr/token/x").string() + " 2>/dev/null && echo writable");
  EXPECT_EQ(r.exit_code, 1) << r.all();  // touch on the read-only mount fails
  EXPECT_EQ(r.out, "projected token\nnode's own /run\nlaunch\n") << r.all();
  // The mounts were the container's own: the host sees its directories as they were.
  EXPECT_FALSE(fs::exists(dir_ / "run" / "marker"));
  EXPECT_FALSE(fs::exists(dir_ / "ctr" / "token" / "token"));
  EXPECT_EQ(Slurp(dir_ / "run" / "pods" / "vol" / "token"), "projected token\n");
}

// A missing source is an error that names it (not /proc/self/fd/N), before anything runs.
TEST_F(Launch, AMissingSourceIsNamed) {
  fs::create_directories(dir_ / "ctr");
  std::string missing = (dir_ / "no-such-volume").string();
  auto r = Run({{.source = missing, .target = (dir_ / "ctr").string()}}, "echo ran");
  EXPECT_EQ(r.exit_code, 127) << r.all();
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("open " + missing + ": No such file or directory"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace weft::cluster
