// Names and addresses of the netns cluster: naming.h, ipv4.h, and the state file format.

#include <gtest/gtest.h>

#include "tools/netns-cluster/ipv4.h"
#include "tools/netns-cluster/naming.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster {
namespace {

TEST(NamingTest, DefaultCluster) {
  auto n = Naming::For("");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->NodeNetns("node1"), "weft-node-node1");
  EXPECT_EQ(n->PodNetns("demo", "client"), "weft-pod-demo-client");
  EXPECT_EQ(n->Bridge(), "weft-br0");
  EXPECT_EQ(n->NodeHostVeth(3), "weft-n3");
  EXPECT_EQ(n->NodeCgroup("node1"), "weft/node1");
  EXPECT_EQ(n->PodCgroup("node1", "demo", "client"), "weft/node1/demo_client");
  EXPECT_EQ(n->NodeBpfRoot("node1"), "/sys/fs/bpf/weft/node1");
  EXPECT_EQ(n->DefaultStatePath(), "/run/weft/cluster/state.json");
  EXPECT_EQ(n->NodeRunDir("node1"), "/run/weft/cluster/nodes/node1");
  EXPECT_EQ(n->ClusterRunDir(), "/run/weft/cluster");
  EXPECT_EQ(n->CaDir(), "/run/weft/cluster/ca");
}

TEST(NamingTest, NamedClusterStaysApartFromTheDefaultOne) {
  auto n = Naming::For("ab12");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->NodeNetns("x"), "weft-ab12-node-x");
  EXPECT_EQ(n->Bridge(), "weft-ab12-br0");
  EXPECT_EQ(n->DefaultStatePath(), "/run/weft/cluster-ab12/state.json");
  auto d = Naming::For("");
  // Agents' runtime dirs too: equal node names in two clusters get two proxy sockets.
  EXPECT_EQ(n->NodeRunDir("x"), "/run/weft/cluster-ab12/nodes/x");
  EXPECT_EQ(n->CaDir(), "/run/weft/cluster-ab12/ca");
  EXPECT_NE(n->CaDir(), d->CaDir());
  EXPECT_NE(n->NodeRunDir("x"), d->NodeRunDir("x"));
  // The default cluster's sweep prefixes never match a named cluster's objects.
  EXPECT_FALSE(StartsWith(n->NodeNetns("x"), d->NodeNetnsPrefix()));
  EXPECT_FALSE(StartsWith(n->PodNetns("a", "b"), d->PodNetnsPrefix()));
  EXPECT_FALSE(d->IsNodeHostVeth(n->NodeHostVeth(0)));
  EXPECT_TRUE(n->IsNodeHostVeth(n->NodeHostVeth(0)));
  EXPECT_FALSE(n->IsNodeHostVeth("weft-ab12-nx"));
  EXPECT_FALSE(n->IsNodeHostVeth("weft-ab12-n"));
}

TEST(NamingTest, InterfaceNamesFitIfnamsiz) {
  auto n = Naming::For("abcde");
  ASSERT_TRUE(n.ok());
  EXPECT_LE(n->NodeHostVeth(999).size(), 15u);
  EXPECT_LE(n->Bridge().size(), 15u);
  std::string v = Naming::PodNodeVeth("some-long-namespace", "a-very-long-pod-name-indeed");
  EXPECT_EQ(v.size(), 12u);
  EXPECT_EQ(v, Naming::PodNodeVeth("some-long-namespace", "a-very-long-pod-name-indeed"));
  EXPECT_NE(v, Naming::PodNodeVeth("some-long-namespace", "a-very-long-pod-name-indeeD"));
}

TEST(NamingTest, RejectsBadClusterNames) {
  for (const char* bad : {"abcdef", "a-b", "A", "node", "pod", "a/b"}) {
    EXPECT_FALSE(Naming::For(bad).ok()) << bad;
  }
}

TEST(NamingTest, ObjectNames) {
  EXPECT_TRUE(IsValidObjectName("node-1.x"));
  EXPECT_FALSE(IsValidObjectName(""));
  EXPECT_FALSE(IsValidObjectName("-a"));
  EXPECT_FALSE(IsValidObjectName("a_b"));
  EXPECT_FALSE(IsValidObjectName("a/b"));
  EXPECT_FALSE(IsValidObjectName("Upper"));
  EXPECT_FALSE(IsValidObjectName(std::string(64, 'a')));
}

TEST(Ipv4Test, ParseFormatAndPrefixes) {
  EXPECT_EQ(FormatIpv4(*ParseIpv4("10.1.2.3")), "10.1.2.3");
  EXPECT_FALSE(ParseIpv4("10.1.2"));
  EXPECT_FALSE(ParseIpv4("::1"));
  auto c = Cidr::Parse("10.244.7.0/24");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->ToString(), "10.244.7.0/24");
  EXPECT_TRUE(c->Contains(*ParseIpv4("10.244.7.255")));
  EXPECT_FALSE(c->Contains(*ParseIpv4("10.244.8.0")));
  EXPECT_TRUE(c->IsHost(*ParseIpv4("10.244.7.1")));
  EXPECT_FALSE(c->IsHost(*ParseIpv4("10.244.7.0")));
  EXPECT_FALSE(c->IsHost(*ParseIpv4("10.244.7.255")));
  EXPECT_EQ(FormatIpv4(c->At(2)), "10.244.7.2");
  EXPECT_TRUE(c->Overlaps(*Cidr::Parse("10.244.0.0/16")));
  EXPECT_FALSE(c->Overlaps(*Cidr::Parse("10.244.8.0/24")));
  EXPECT_FALSE(Cidr::Parse("10.244.7.1/24"));  // host bits set
  EXPECT_FALSE(Cidr::Parse("10.244.7.0/33"));
  EXPECT_FALSE(Cidr::Parse("10.244.7.0"));
  EXPECT_FALSE(Cidr::Parse("10.244.7.0/"));
}

TEST(StateTest, JsonRoundTrip) {
  State s;
  s.cluster = "t1";
  s.prefix = "weft-t1-";
  s.dir = "/d";
  s.underlay = "10.250.3.0/24";
  s.agent_args = {"--workers=2"};
  s.agents = false;
  NodeState n;
  n.name = "n1";
  n.index = 2;
  n.pod_cidr = "10.244.2.0/24";
  n.pod_cidr_assigned = true;
  n.run_dir = "/run/weft/cluster-t1/nodes/n1";
  n.agent.state = "missing";
  s.nodes.push_back(n);
  PodState p;
  p.ns = "demo";
  p.name = "x";
  p.ip = "10.244.2.2";
  p.run = "exec weft-testapp serve --port 8080";
  p.process.state = "running";
  p.process.pid = 42;
  p.process.restarts = 3;
  s.pods.push_back(p);
  s.errors = {"e1"};
  auto back = FromJson(ToJson(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->cluster, "t1");
  EXPECT_EQ(back->agent_args, s.agent_args);
  EXPECT_FALSE(back->agents);
  ASSERT_EQ(back->nodes.size(), 1u);
  EXPECT_EQ(back->nodes[0].index, 2);
  EXPECT_TRUE(back->nodes[0].pod_cidr_assigned);
  EXPECT_EQ(back->nodes[0].run_dir, n.run_dir);
  EXPECT_EQ(back->nodes[0].agent.state, "missing");
  ASSERT_EQ(back->pods.size(), 1u);
  EXPECT_EQ(back->pods[0].process, p.process);
  EXPECT_EQ(back->pods[0].run, p.run);
  EXPECT_EQ(back->errors, s.errors);
  ASSERT_NE(back->FindPod("demo", "x"), nullptr);
  EXPECT_EQ(back->FindPod("demo", "y"), nullptr);
}

TEST(StateTest, RejectsOtherVersionsAndGarbage) {
  EXPECT_FALSE(FromJson("{\"version\": 2}").ok());
  EXPECT_FALSE(FromJson("not json").ok());
  EXPECT_FALSE(FromJson("{\"version\": 1, \"nodes\": [{\"index\": 1}]}").ok());  // no name
}

}  // namespace
}  // namespace weft::cluster
