// Reading Nodes and Pods from DIR (tools/netns-cluster/desired.h), including keeping the last
// good version of a resource whose document broke.

#include "tools/netns-cluster/desired.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace weft::cluster {
namespace {

namespace fs = std::filesystem;

class DesiredTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weft_desired_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  std::string AllErrors(const Desired& d) {
    std::string s;
    for (const auto& e : d.errors) s += e + "\n";
    return s;
  }
  fs::path dir_;
};

constexpr char kNodes[] = R"(apiVersion: v1
kind: Node
metadata:
  name: n1
spec:
  podCIDR: 10.244.7.0/24
---
apiVersion: v1
kind: Node
metadata:
  name: n2
)";

constexpr char kPods[] = R"(apiVersion: v1
kind: Pod
metadata:
  name: a
  annotations:
    weft.dev/run: exec weft-testapp serve --port 8080
spec:
  nodeName: n1
  serviceAccountName: sa-a
status:
  podIPs:
  - ip: fd00::1
  - ip: 10.244.7.10
---
apiVersion: v1
kind: Pod
metadata:
  name: b
  namespace: demo
spec:
  nodeName: n2
---
apiVersion: v1
kind: Service
metadata:
  name: ignored
spec:
  ports:
  - port: 80
)";

TEST_F(DesiredTest, ReadsNodesAndPods) {
  Write("nodes.yaml", kNodes);
  Write("pods.yaml", kPods);
  Desired d = LoadDesired(dir_.string());
  EXPECT_TRUE(d.errors.empty()) << AllErrors(d);
  ASSERT_EQ(d.nodes.size(), 2u);
  EXPECT_EQ(d.nodes["n1"].pod_cidr, "10.244.7.0/24");
  EXPECT_EQ(d.nodes["n2"].pod_cidr, "");
  ASSERT_EQ(d.pods.size(), 2u);
  const auto& a = d.pods["default/a"];
  EXPECT_EQ(a.node, "n1");
  EXPECT_EQ(a.ip, "10.244.7.10");  // the first IPv4 of podIPs
  EXPECT_EQ(a.run, "exec weft-testapp serve --port 8080");
  EXPECT_EQ(a.service_account, "sa-a");
  EXPECT_EQ(a.file, (dir_ / "pods.yaml").string());
  EXPECT_EQ(a.line, 1);
  EXPECT_EQ(d.pods["demo/b"].run, "");
  EXPECT_EQ(d.pods["demo/b"].ip, "");
}

TEST_F(DesiredTest, PodWithoutNodeIsAnErrorNamingFileLineAndField) {
  Write("pods.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lost\n");
  Desired d = LoadDesired(dir_.string());
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find((dir_ / "pods.yaml").string() + ":1:1: error: Pod/default/lost: "
                                                             "spec.nodeName: required"),
            std::string::npos)
      << d.errors[0];
  EXPECT_TRUE(d.pods.empty());
}

TEST_F(DesiredTest, OtherInvalidPodsAndNodes) {
  Write("bad.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: v6
spec:
  nodeName: n1
status:
  podIP: fd00::5
---
apiVersion: v1
kind: Pod
metadata:
  name: host
spec:
  nodeName: n1
  hostNetwork: true
---
apiVersion: v1
kind: Node
metadata:
  name: Big_Node
---
apiVersion: v1
kind: Node
metadata:
  name: tiny
spec:
  podCIDR: 10.244.0.0/31
)");
  Desired d = LoadDesired(dir_.string());
  std::string all = AllErrors(d);
  EXPECT_EQ(d.errors.size(), 4u) << all;
  EXPECT_NE(all.find("Pod/default/v6: status.podIP: only IPv4"), std::string::npos) << all;
  EXPECT_NE(all.find("Pod/default/host: spec.hostNetwork"), std::string::npos) << all;
  EXPECT_NE(all.find("Node/Big_Node: metadata.name"), std::string::npos) << all;
  EXPECT_NE(all.find("Node/tiny: spec.podCIDR: the prefix length"), std::string::npos) << all;
  EXPECT_TRUE(d.pods.empty());
  EXPECT_TRUE(d.nodes.empty());
}

TEST_F(DesiredTest, DuplicatePodIsReportedAndTheFirstWins) {
  Write("a.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  nodeName: n1\n");
  Write("b.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  nodeName: n2\n");
  Desired d = LoadDesired(dir_.string());
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("also defined at " + (dir_ / "a.yaml").string() + ":1"),
            std::string::npos)
      << d.errors[0];
  EXPECT_EQ(d.pods["default/x"].node, "n1");
}

TEST_F(DesiredTest, BrokenDocumentKeepsTheLastGoodVersion) {
  Write("nodes.yaml", kNodes);
  Write("pods.yaml", kPods);
  Desired good = LoadDesired(dir_.string());
  ASSERT_EQ(good.pods.size(), 2u);
  // b's document gets a syntax error, a's an invalid value: both stay as they were.
  std::string broken = kPods;
  broken.replace(broken.find("  nodeName: n2"), 13, "  nodeName: [n2");
  broken.replace(broken.find("  nodeName: n1"), 14, "  nodeName: n1\n  hostNetwork: true");
  Write("pods.yaml", broken);
  Desired next = LoadDesired(dir_.string(), &good);
  EXPECT_FALSE(next.errors.empty());
  for (const auto& e : next.errors) {
    EXPECT_NE(e.find("the last good version stays in force"), std::string::npos) << e;
  }
  ASSERT_EQ(next.pods.size(), 2u) << AllErrors(next);
  EXPECT_EQ(next.pods["default/a"], good.pods["default/a"]);
  EXPECT_EQ(next.pods["demo/b"], good.pods["demo/b"]);
  // Without a previous version there is nothing to keep.
  EXPECT_LT(LoadDesired(dir_.string()).pods.size(), 2u);
}

TEST_F(DesiredTest, RemovedFileRemovesItsResources) {
  Write("nodes.yaml", kNodes);
  Write("pods.yaml", kPods);
  Desired good = LoadDesired(dir_.string());
  fs::remove(dir_ / "pods.yaml");
  Desired next = LoadDesired(dir_.string(), &good);
  EXPECT_TRUE(next.errors.empty());
  EXPECT_TRUE(next.pods.empty());
  EXPECT_EQ(next.nodes.size(), 2u);
}

TEST_F(DesiredTest, MissingDirKeepsTheLastGoodState) {
  Write("nodes.yaml", kNodes);
  Write("pods.yaml", kPods);
  Desired good = LoadDesired(dir_.string());
  fs::path moved = dir_.string() + ".moved";
  fs::rename(dir_, moved);
  Desired next = LoadDesired(dir_.string(), &good);
  fs::rename(moved, dir_);
  EXPECT_EQ(next.pods.size(), 2u);
  EXPECT_EQ(next.nodes.size(), 2u);
  ASSERT_EQ(next.warnings.size(), 1u);
  EXPECT_NE(next.warnings[0].find("not a directory any more"), std::string::npos);
}

}  // namespace
}  // namespace weft::cluster
