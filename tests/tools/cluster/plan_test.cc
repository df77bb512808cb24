// Allocation of the netns cluster (tools/netns-cluster/plan.h): pure, no root.

#include "tools/netns-cluster/plan.h"

#include <gtest/gtest.h>

namespace weft::cluster {
namespace {

Naming DefaultNaming() {
  return *Naming::For("");
}

State Settings() {
  State s;
  s.underlay = "10.250.0.0/24";
  s.cgroup2 = "/sys/fs/cgroup";
  s.dir = "/d";
  return s;
}

DesiredNode Node(const std::string& name, const std::string& cidr = "") {
  return DesiredNode{name, cidr, "/d/nodes.yaml", 1, {}};
}

DesiredPod Pod(const std::string& ns, const std::string& name, const std::string& node,
               const std::string& ip = "", const std::string& run = "") {
  DesiredPod p;
  p.ns = ns;
  p.name = name;
  p.node = node;
  p.ip = ip;
  p.run = run;
  p.file = "/d/pods.yaml";
  p.line = 1;
  return p;
}

void Add(Desired& d, DesiredNode n) {
  d.nodes[n.name] = n;
}
void Add(Desired& d, DesiredPod p) {
  d.pods[p.key()] = p;
}

const NodeState& FindNode(const Plan& p, const std::string& name) {
  for (const auto& n : p.nodes) {
    if (n.name == name) return n;
  }
  ADD_FAILURE() << "no node " << name;
  static NodeState none;
  return none;
}

const PodState& FindPod(const Plan& p, const std::string& key) {
  for (const auto& x : p.pods) {
    if (x.key() == key) return x;
  }
  ADD_FAILURE() << "no pod " << key;
  static PodState none;
  return none;
}

TEST(PlanTest, NodesGetIndexUnderlayAndAssignedOrGivenCidr) {
  Desired d;
  Add(d, Node("a"));
  Add(d, Node("b", "10.244.9.0/24"));
  Add(d, Node("c"));
  Plan p = MakePlan(d, Settings(), DefaultNaming());
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  const auto& a = FindNode(p, "a");
  EXPECT_EQ(a.index, 0);
  EXPECT_EQ(a.underlay_ip, "10.250.0.2");
  EXPECT_EQ(a.pod_cidr, "10.244.0.0/24");
  EXPECT_TRUE(a.pod_cidr_assigned);
  EXPECT_EQ(a.bridge_ip, "10.244.0.1");
  EXPECT_EQ(a.netns, "weft-node-a");
  EXPECT_EQ(a.host_veth, "weft-n0");
  EXPECT_EQ(a.cgroup, "/sys/fs/cgroup/weft/a");
  EXPECT_EQ(a.bpf_root, "/sys/fs/bpf/weft/a");
  EXPECT_EQ(a.run_dir, "/run/weft/cluster/nodes/a");
  EXPECT_EQ(a.node_cert, "/run/weft/cluster/nodes/a/node.crt");
  EXPECT_EQ(a.node_key, "/run/weft/cluster/nodes/a/node.key");
  const auto& b = FindNode(p, "b");
  EXPECT_EQ(b.index, 1);
  EXPECT_EQ(b.underlay_ip, "10.250.0.3");
  EXPECT_EQ(b.pod_cidr, "10.244.9.0/24");
  EXPECT_FALSE(b.pod_cidr_assigned);
  EXPECT_EQ(FindNode(p, "c").pod_cidr, "10.244.2.0/24");
}

TEST(PlanTest, AssignedCidrSkipsOneGivenToAnotherNode) {
  Desired d;
  Add(d, Node("a"));
  Add(d, Node("b", "10.244.0.0/23"));  // covers 10.244.0.0 and 10.244.1.0
  Plan p = MakePlan(d, Settings(), DefaultNaming());
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  EXPECT_EQ(FindNode(p, "a").pod_cidr, "10.244.2.0/24");
}

TEST(PlanTest, OverlappingGivenCidrsAreAnErrorForTheSecondNode) {
  Desired d;
  Add(d, Node("a", "10.244.5.0/24"));
  Add(d, Node("b", "10.244.5.0/25"));
  Add(d, Node("u", "10.250.0.0/24"));  // the underlay itself
  Plan p = MakePlan(d, Settings(), DefaultNaming());
  ASSERT_EQ(p.errors.size(), 2u);
  EXPECT_NE(p.errors[0].find("Node/b: spec.podCIDR 10.244.5.0/25 overlaps node a's"),
            std::string::npos)
      << p.errors[0];
  EXPECT_NE(p.errors[1].find("overlaps the underlay"), std::string::npos) << p.errors[1];
  EXPECT_EQ(p.nodes.size(), 1u);
}

TEST(PlanTest, PodAddressesGivenFirstThenLowestFreeSkippingTheGateway) {
  Desired d;
  Add(d, Node("n", "10.244.7.0/24"));
  Add(d, Pod("default", "a", "n"));
  Add(d, Pod("default", "b", "n", "10.244.7.2"));  // given: wins over the assignment
  Add(d, Pod("default", "c", "n"));
  Plan p = MakePlan(d, Settings(), DefaultNaming());
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  EXPECT_EQ(FindPod(p, "default/b").ip, "10.244.7.2");
  EXPECT_FALSE(FindPod(p, "default/b").ip_assigned);
  EXPECT_EQ(FindPod(p, "default/a").ip, "10.244.7.3");
  EXPECT_TRUE(FindPod(p, "default/a").ip_assigned);
  EXPECT_EQ(FindPod(p, "default/c").ip, "10.244.7.4");
  const auto& a = FindPod(p, "default/a");
  EXPECT_EQ(a.netns, "weft-pod-default-a");
  EXPECT_EQ(a.cgroup, "/sys/fs/cgroup/weft/n/default_a");
  EXPECT_EQ(a.veth, Naming::PodNodeVeth("default", "a"));
}

TEST(PlanTest, ExistingPodsKeepTheirAddressWhenOthersAreAdded) {
  Desired d;
  Add(d, Node("n"));
  Add(d, Pod("default", "m", "n"));
  State st = Settings();
  Plan first = MakePlan(d, st, DefaultNaming());
  st.nodes = first.nodes;
  st.pods = first.pods;
  ASSERT_EQ(FindPod(first, "default/m").ip, "10.244.0.2");
  // "a" sorts before "m" but must not take m's address.
  Add(d, Pod("default", "a", "n"));
  Plan second = MakePlan(d, st, DefaultNaming());
  ASSERT_TRUE(second.errors.empty());
  EXPECT_EQ(FindPod(second, "default/m").ip, "10.244.0.2");
  EXPECT_EQ(FindPod(second, "default/a").ip, "10.244.0.3");
  EXPECT_FALSE(PodNetworkChanged(FindPod(first, "default/m"), FindPod(second, "default/m")));
}

TEST(PlanTest, ExistingNodesKeepIndexAndCidrWhenAnEarlierNameIsAdded) {
  Desired d;
  Add(d, Node("m"));
  State st = Settings();
  Plan first = MakePlan(d, st, DefaultNaming());
  st.nodes = first.nodes;
  Add(d, Node("a"));
  Plan second = MakePlan(d, st, DefaultNaming());
  ASSERT_TRUE(second.errors.empty());
  EXPECT_EQ(FindNode(second, "m").index, 0);
  EXPECT_EQ(FindNode(second, "m").pod_cidr, "10.244.0.0/24");
  EXPECT_FALSE(NodeNetworkChanged(FindNode(first, "m"), FindNode(second, "m")));
  EXPECT_EQ(FindNode(second, "a").index, 1);
  EXPECT_EQ(FindNode(second, "a").pod_cidr, "10.244.1.0/24");
}

TEST(PlanTest, ChangedPodCidrRemakesTheNodeAndMovesItsPods) {
  Desired d;
  Add(d, Node("n", "10.244.7.0/24"));
  Add(d, Pod("default", "a", "n"));
  State st = Settings();
  Plan first = MakePlan(d, st, DefaultNaming());
  st.nodes = first.nodes;
  st.pods = first.pods;
  d.nodes["n"].pod_cidr = "10.244.8.0/24";
  Plan second = MakePlan(d, st, DefaultNaming());
  ASSERT_TRUE(second.errors.empty());
  EXPECT_TRUE(NodeNetworkChanged(FindNode(first, "n"), FindNode(second, "n")));
  EXPECT_EQ(FindPod(second, "default/a").ip, "10.244.8.2");
}

TEST(PlanTest, PodErrorsNameFileAndField) {
  Desired d;
  Add(d, Node("n", "10.244.7.0/24"));
  Add(d, Pod("default", "nowhere", "ghost"));
  Add(d, Pod("default", "outside", "n", "10.244.8.5"));
  Add(d, Pod("default", "gateway", "n", "10.244.7.1"));
  Add(d, Pod("default", "first", "n", "10.244.7.9"));
  Add(d, Pod("default", "second", "n", "10.244.7.9"));
  Plan p = MakePlan(d, Settings(), DefaultNaming());
  ASSERT_EQ(p.errors.size(), 4u);
  std::string all;
  for (const auto& e : p.errors) all += e + "\n";
  EXPECT_NE(
      all.find("/d/pods.yaml:1: error: Pod/default/nowhere: spec.nodeName: no Node \"ghost\""),
      std::string::npos)
      << all;
  EXPECT_NE(all.find("Pod/default/outside: status.podIP 10.244.8.5 is not a pod address of node n"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("Pod/default/gateway: status.podIP 10.244.7.1"), std::string::npos) << all;
  EXPECT_NE(all.find("Pod/default/second: status.podIP 10.244.7.9 is already used"),
            std::string::npos)
      << all;
  EXPECT_EQ(p.pods.size(), 1u);
}

TEST(PlanTest, AmbiguousNetnsNamesAreRejected) {
  Desired d;
  Add(d, Node("n"));
  Add(d, Pod("a-b", "c", "n"));
  Add(d, Pod("a", "b-c", "n"));  // both would be weft-pod-a-b-c
  Plan p = MakePlan(d, Settings(), DefaultNaming());
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_NE(p.errors[0].find("weft-pod-a-b-c"), std::string::npos) << p.errors[0];
}

TEST(PlanTest, FullUnderlayIsAnError) {
  State st = Settings();
  st.underlay = "10.250.0.0/29";  // .1 the host, .2-.6 five nodes, .7 broadcast
  Desired d;
  for (const char* n : {"a", "b", "c", "d", "e", "f"}) Add(d, Node(n));
  Plan p = MakePlan(d, st, DefaultNaming());
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_NE(p.errors[0].find("Node/f: no room for another node in the underlay 10.250.0.0/29"),
            std::string::npos)
      << p.errors[0];
  EXPECT_EQ(p.nodes.size(), 5u);
  EXPECT_EQ(FindNode(p, "e").underlay_ip, "10.250.0.6");
}

TEST(PlanTest, FullPodCidrIsAnError) {
  Desired d;
  Add(d, Node("small", "10.244.200.0/30"));  // .1 gateway, .2 the only pod address
  Add(d, Pod("default", "p1", "small"));
  Add(d, Pod("default", "p2", "small"));
  Plan p = MakePlan(d, Settings(), DefaultNaming());
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_NE(p.errors[0].find("Pod/default/p2: no free address left in 10.244.200.0/30"),
            std::string::npos)
      << p.errors[0];
  EXPECT_EQ(FindPod(p, "default/p1").ip, "10.244.200.2");
}

TEST(PlanTest, NamedClusterNames) {
  Desired d;
  Add(d, Node("n1"));
  Add(d, Pod("demo", "x", "n1"));
  Plan p = MakePlan(d, Settings(), *Naming::For("t1"));
  ASSERT_TRUE(p.errors.empty());
  EXPECT_EQ(p.nodes[0].netns, "weft-t1-node-n1");
  EXPECT_EQ(p.nodes[0].host_veth, "weft-t1-n0");
  EXPECT_EQ(p.nodes[0].cgroup, "/sys/fs/cgroup/weft-t1/n1");
  EXPECT_EQ(p.nodes[0].bpf_root, "/sys/fs/bpf/weft-t1/n1");
  EXPECT_EQ(p.nodes[0].run_dir, "/run/weft/cluster-t1/nodes/n1");
  EXPECT_EQ(p.pods[0].netns, "weft-t1-pod-demo-x");
  EXPECT_EQ(p.pods[0].cgroup, "/sys/fs/cgroup/weft-t1/n1/demo_x");
}

}  // namespace
}  // namespace weft::cluster
