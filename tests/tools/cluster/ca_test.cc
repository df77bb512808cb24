// The cluster's CA files and command lines (tools/netns-cluster/ca.h), and the CA in the state
// file.

#include "tools/netns-cluster/ca.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/identity/ca.h"
#include "core/identity/trust_bundle.h"
#include "tools/netns-cluster/state.h"
#include "tools/netns-cluster/sys.h"

namespace weft::cluster {
namespace {

class CaFilesTest : public ::testing::Test {
 protected:
  CaFilesTest() {
    char tmpl[] = "/tmp/weft-cluster-ca-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~CaFilesTest() override { std::filesystem::remove_all(dir_); }
  static mode_t Mode(const std::string& p) {
    struct stat st {};
    stat(p.c_str(), &st);
    return st.st_mode & 0777;
  }
  std::string dir_;
};

TEST_F(CaFilesTest, RootIsMadeOnceWithAPrivateKey) {
  std::string ca = dir_ + "/ca";
  bool created = false;
  ASSERT_TRUE(EnsureRoot(ca, "cluster.local", &created).ok());
  EXPECT_TRUE(created);
  EXPECT_EQ(Mode(CaRootKey(ca)), 0600u);
  EXPECT_EQ(Mode(ca), 0700u);
  auto loaded = identity::CertificateAuthority::FromFiles(CaRootCert(ca), CaRootKey(ca));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->trust_domain(), "cluster.local");
  EXPECT_TRUE(loaded->root().IsCa());
  EXPECT_GT(loaded->root().not_after(), identity::Clock::now() + std::chrono::hours(24 * 365 * 9));
  std::string first = *sys::ReadFile(CaRootCert(ca));
  // Kept by a second call; replaced for another trust domain or when damaged.
  ASSERT_TRUE(EnsureRoot(ca, "cluster.local", &created).ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(*sys::ReadFile(CaRootCert(ca)), first);
  ASSERT_TRUE(EnsureRoot(ca, "other.td", &created).ok());
  EXPECT_TRUE(created);
  std::ofstream(CaRootKey(ca)) << "garbage";
  ASSERT_TRUE(EnsureRoot(ca, "other.td", &created).ok());
  EXPECT_TRUE(created);
}

TEST_F(CaFilesTest, NodeCertificateIsANodeIdentityKeptWhileItFits) {
  std::string ca = dir_ + "/ca";
  ASSERT_TRUE(EnsureRoot(ca, "cluster.local").ok());
  std::string crt = dir_ + "/nodes/node1/node.crt", key = dir_ + "/nodes/node1/node.key";
  ASSERT_TRUE(EnsureNodeCertificate(ca, "node1", crt, key).ok());
  EXPECT_EQ(Mode(key), 0600u);
  auto cert = identity::Certificate::FromPem(*sys::ReadFile(crt));
  ASSERT_TRUE(cert.ok());
  auto root = identity::Certificate::FromPem(*sys::ReadFile(CaRootCert(ca)));
  auto bundle = identity::TrustBundle::Create("cluster.local", {*root});
  auto v = bundle->Verify(
      {*cert}, {.kind = identity::SpiffeId::Kind::kNode, .role = identity::PeerRole::kClient});
  ASSERT_TRUE(v.ok()) << v.detail;
  EXPECT_EQ(v.id->str(), "spiffe://cluster.local/weft/node/node1");
  std::string first = *sys::ReadFile(crt);
  ASSERT_TRUE(EnsureNodeCertificate(ca, "node1", crt, key).ok());
  EXPECT_EQ(*sys::ReadFile(crt), first);
  // Another node's name, or a new root: a new certificate.
  ASSERT_TRUE(EnsureNodeCertificate(ca, "node2", crt, key).ok());
  EXPECT_NE(*sys::ReadFile(crt), first);
  first = *sys::ReadFile(crt);
  ASSERT_TRUE(EnsureRoot(ca, "other.td").ok());
  ASSERT_TRUE(EnsureNodeCertificate(ca, "node2", crt, key).ok());
  EXPECT_NE(*sys::ReadFile(crt), first);
}

TEST(CaCommands, AgentAndCaCommandLines) {
  State s;
  s.agent_bin = "/b/weft-agent";
  s.dir = "/demo";
  s.ca_dir = "/run/weft/cluster/ca";
  s.ca_address = "10.250.0.1:15012";
  NodeState n;
  n.node_cert = "/run/weft/cluster/nodes/n1/node.crt";
  n.node_key = "/run/weft/cluster/nodes/n1/node.key";
  EXPECT_EQ(CaCommand(s),
            (std::vector<std::string>{"/b/weft-agent", "ca", "--listen", "10.250.0.1:15012",
                                      "--root-cert", "/run/weft/cluster/ca/root.crt", "--root-key",
                                      "/run/weft/cluster/ca/root.key", "--local-dir", "/demo",
                                      "--trust-domain", "cluster.local"}));
  EXPECT_EQ(AgentCaArgs(s, n),
            (std::vector<std::string>{
                "--ca-address", "10.250.0.1:15012", "--ca-bundle", "/run/weft/cluster/ca/root.crt",
                "--node-cert", "/run/weft/cluster/nodes/n1/node.crt", "--node-key",
                "/run/weft/cluster/nodes/n1/node.key", "--trust-domain", "cluster.local"}));
}

TEST(CaState, RoundTripsAndDefaults) {
  State s;
  s.ca_dir = "/run/weft/cluster/ca";
  s.ca_address = "10.250.0.1:15012";
  s.ca.state = "running";
  s.ca.pid = 42;
  s.ca.restarts = 2;
  NodeState n;
  n.name = "n1";
  n.node_cert = "/x/node.crt";
  n.node_key = "/x/node.key";
  s.nodes.push_back(n);
  auto back = FromJson(ToJson(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ca_dir, s.ca_dir);
  EXPECT_EQ(back->ca_address, s.ca_address);
  EXPECT_EQ(back->trust_domain, "cluster.local");
  EXPECT_EQ(back->ca, s.ca);
  EXPECT_EQ(back->nodes[0].node_cert, "/x/node.crt");
  EXPECT_EQ(back->nodes[0].node_key, "/x/node.key");
  // A state file from before the CA.
  auto old = FromJson(R"({"version": 1, "nodes": [{"name": "a"}]})");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->ca_address, "");
  EXPECT_EQ(old->ca.state, "none");
  EXPECT_EQ(old->nodes[0].node_cert, "");
}

}  // namespace
}  // namespace weft::cluster
