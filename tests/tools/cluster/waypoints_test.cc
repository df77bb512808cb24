// Waypoints in local mode (tools/netns-cluster/waypoints.h): Gateways read from DIR, the pods
// made from them (name, node, account, command), their manifests in DIR/weft-generated and the
// sync that adds, rewrites and removes them.

#include "tools/netns-cluster/waypoints.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/source/files.h"
#include "tools/netns-cluster/plan.h"

namespace weft::cluster {
namespace {

namespace fs = std::filesystem;

constexpr char kNodes[] = R"(apiVersion: v1
kind: Node
metadata:
  name: n2
---
apiVersion: v1
kind: Node
metadata:
  name: n1
)";

std::string GatewayYaml(const std::string& ns, const std::string& name,
                        const std::string& node = "", const std::string& cls = "weft-waypoint") {
  std::string y =
      "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: " + name +
      "\n  namespace: " + ns + "\n";
  if (!node.empty()) y += "  annotations:\n    weft.dev/node: " + node + "\n";
  return y + "spec:\n  gatewayClassName: " + cls +
         "\n  listeners:\n  - {name: mesh, port: 15008, protocol: HBONE}\n";
}

class WaypointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weft_waypoints_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    st_.dir = dir_.string();
    st_.bin_dir = "/b";
    st_.agents = true;
    st_.ca_dir = "/run/weft/cluster/ca";
    st_.ca_address = "10.250.0.1:15012";
    st_.underlay = "10.250.0.0/24";
    st_.cgroup2 = "/sys/fs/cgroup";
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  std::string Read(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string AllErrors(const Desired& d) {
    std::string s;
    for (const auto& e : d.errors) s += e + "\n";
    return s;
  }
  Desired Load(const Desired* previous = nullptr) {
    Desired d = LoadDesired(dir_.string(), previous);
    ExpandWaypoints(d, st_, naming_, "/run/weft/cluster/state.json");
    return d;
  }

  fs::path dir_;
  State st_;
  Naming naming_ = *Naming::For("");
};

TEST(WaypointPodName, IsTheGatewayNameAndAStableHash) {
  std::string a = WaypointPodName("demo", "waypoint");
  EXPECT_EQ(a, WaypointPodName("demo", "waypoint"));
  ASSERT_EQ(a.size(), std::string("waypoint-").size() + 8);
  EXPECT_TRUE(a.starts_with("waypoint-"));
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 9), std::string::npos) << a;
  EXPECT_NE(a, WaypointPodName("other", "waypoint"));
  EXPECT_NE(WaypointPodName("a-b", "c"), WaypointPodName("a", "b-c"));
}

TEST_F(WaypointsTest, GatewaysOfAWaypointClassBecomePodsOnTheirNode) {
  Write("nodes.yaml", kNodes);
  Write("gw.yaml", GatewayYaml("demo", "waypoint") + "---\n" +
                       GatewayYaml("demo", "pinned", "n2", "istio-waypoint") + "---\n" +
                       GatewayYaml("demo", "ingress", "", "istio"));
  Desired d = Load();
  EXPECT_TRUE(d.errors.empty()) << AllErrors(d);
  ASSERT_EQ(d.waypoints.size(), 2u);  // not the ingress gateway
  EXPECT_EQ(d.waypoints["demo/pinned"].node, "n2");
  EXPECT_EQ(d.waypoints["demo/waypoint"].gateway_class, "weft-waypoint");
  EXPECT_EQ(d.waypoints["demo/waypoint"].port, 15008u);
  ASSERT_EQ(d.pods.size(), 2u);
  const DesiredPod& p = d.pods["demo/" + WaypointPodName("demo", "waypoint")];
  EXPECT_EQ(p.gateway, "waypoint");
  EXPECT_EQ(p.node, "n1");  // the first Node by name
  EXPECT_EQ(p.service_account, "waypoint");
  EXPECT_EQ(p.file, (dir_ / "gw.yaml").string());
  EXPECT_EQ(p.ip, "");
  EXPECT_EQ(p.run,
            "exec /b/weft-waypoint --namespace demo --name waypoint --local-dir " + dir_.string() +
                " --cluster-state /run/weft/cluster/state.json --listen \"$WEFT_POD_IP\" --port "
                "15008 --admin-port 15000 --ca-address 10.250.0.1:15012 --ca-bundle "
                "/run/weft/cluster/ca/root.crt --node-cert /run/weft/cluster/nodes/n1/node.crt "
                "--node-key /run/weft/cluster/nodes/n1/node.key --trust-domain cluster.local");
  const DesiredPod& q = d.pods["demo/" + WaypointPodName("demo", "pinned")];
  EXPECT_EQ(q.node, "n2");
  EXPECT_NE(q.run.find("--node-cert /run/weft/cluster/nodes/n2/node.crt"), std::string::npos);

  // The plan gives it an address like any pod, and keeps it a waypoint.
  Plan plan = MakePlan(d, st_, naming_);
  EXPECT_TRUE(plan.errors.empty());
  ASSERT_EQ(plan.pods.size(), 2u);
  for (const auto& ps : plan.pods) {
    EXPECT_FALSE(ps.gateway.empty());
    EXPECT_FALSE(ps.ip.empty());
  }
}

TEST_F(WaypointsTest, CommandTakesTheAgentsCertLifetimeAndWaypointArgs) {
  st_.waypoint_bin = "/opt/weft waypoint";
  st_.agent_args = {"--workers=2", "--workload-cert-ttl", "1h", "--workload-cert-ttl=2h"};
  st_.waypoint_args = {"--workers=3"};
  DesiredWaypoint w;
  w.ns = "demo";
  w.name = "wp";
  std::string cmd = WaypointCommand(st_, naming_, "/s.json", w, "n1");
  EXPECT_TRUE(cmd.starts_with("exec '/opt/weft waypoint' --namespace demo --name wp ")) << cmd;
  EXPECT_TRUE(
      cmd.ends_with(" --trust-domain cluster.local --workload-cert-ttl 1h "
                    "--workload-cert-ttl=2h --workers=3"))
      << cmd;
  EXPECT_EQ(cmd.find("--workers=2"), std::string::npos) << cmd;
}

TEST_F(WaypointsTest, ErrorsAndWarnings) {
  Write("nodes.yaml", kNodes);
  std::string long_name(56, 'w');
  Write("gw.yaml", GatewayYaml("demo", "ghost", "n9") + "---\n" + GatewayYaml("demo", long_name) +
                       "---\n" + GatewayYaml("demo", "taken"));
  Write("pods.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + WaypointPodName("demo", "taken") +
            "\n  namespace: demo\nspec:\n  nodeName: n1\n");
  Desired d = Load();
  std::string all = AllErrors(d);
  EXPECT_NE(all.find("gw.yaml:1: error: Gateway/demo/ghost: metadata.annotations.weft.dev/node: "
                     "no Node \"n9\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("Gateway/demo/" + long_name + ": metadata.name: at most 54 characters"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("Gateway/demo/taken: the waypoint's pod name demo/" +
                     WaypointPodName("demo", "taken") + " is taken by the Pod at"),
            std::string::npos)
      << all;
  EXPECT_EQ(d.pods.size(), 1u);  // only the Pod of DIR

  // Without the CA the pod is made but runs nothing; without Nodes there is nowhere to run it.
  fs::remove(dir_ / "gw.yaml");
  fs::remove(dir_ / "pods.yaml");
  Write("gw.yaml", GatewayYaml("demo", "waypoint"));
  st_.agents = false;
  d = Load();
  ASSERT_EQ(d.pods.size(), 1u);
  EXPECT_EQ(d.pods.begin()->second.run, "");
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_NE(d.warnings[0].find("no CA"), std::string::npos) << d.warnings[0];
  fs::remove(dir_ / "nodes.yaml");
  d = Load();
  EXPECT_TRUE(d.pods.empty());
  EXPECT_NE(d.warnings[0].find("no Node yet"), std::string::npos) << d.warnings[0];
}

TEST_F(WaypointsTest, ManifestsAreSyncedAndNeverReadBackAsPods) {
  Write("nodes.yaml", kNodes);
  Write("gw.yaml", GatewayYaml("demo", "waypoint"));
  Desired d = Load();
  auto changed = SyncWaypointManifests(dir_.string(), d);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_TRUE(*changed);
  fs::path file = WaypointManifestPath(dir_.string(), "demo", "waypoint");
  EXPECT_EQ(file, dir_ / "weft-generated" / "waypoint_demo_waypoint.yaml");
  std::string text = Read(file);
  std::string pod = WaypointPodName("demo", "waypoint");
  for (const std::string& want : std::vector<std::string>{
           "# Generated by tools/cluster from Gateway demo/waypoint", "kind: Pod\n",
           "  name: \"" + pod + "\"\n", "  namespace: \"demo\"\n",
           "    gateway.networking.k8s.io/gateway-name: \"waypoint\"\n",
           "    weft.dev/dataplane-mode: none\n", "  nodeName: \"n1\"\n",
           "  serviceAccountName: \"waypoint\"\n"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " in\n" << text;
  }
  // What the compiler reads: a valid Pod with those labels.
  auto loaded = source::LoadPaths({file.string()});
  ASSERT_EQ(loaded.documents.size(), 1u);
  ASSERT_FALSE(loaded.documents[0].rejected);
  ASSERT_TRUE(loaded.documents[0].resource);
  EXPECT_EQ(loaded.documents[0].resource->meta.name, pod);
  EXPECT_EQ(loaded.documents[0].resource->meta.labels.at("weft.dev/dataplane-mode"), "none");

  // Unchanged: no write. Read again: the same single pod (the manifest is not input).
  EXPECT_FALSE(*SyncWaypointManifests(dir_.string(), d));
  Desired again = Load(&d);
  EXPECT_TRUE(again.errors.empty()) << AllErrors(again);
  EXPECT_EQ(again.pods, d.pods);

  // An edit to the manifest is undone.
  std::ofstream(file) << "# Generated by tools/cluster, edited\n";
  EXPECT_TRUE(*SyncWaypointManifests(dir_.string(), again));
  EXPECT_EQ(Read(file), text);

  // The Gateway's node changes: the manifest follows.
  Write("gw.yaml", GatewayYaml("demo", "waypoint", "n2"));
  Desired moved = Load(&again);
  EXPECT_TRUE(*SyncWaypointManifests(dir_.string(), moved));
  EXPECT_NE(Read(file).find("  nodeName: \"n2\"\n"), std::string::npos);

  // A file of someone else in weft-generated is left alone; ours goes with the Gateway, and
  // the directory when it is empty.
  std::ofstream(dir_ / "weft-generated" / "mine.yaml") << "kind: ConfigMap\n";
  fs::remove(dir_ / "gw.yaml");
  Desired gone = Load(&moved);
  EXPECT_TRUE(gone.pods.empty());
  EXPECT_TRUE(*SyncWaypointManifests(dir_.string(), gone));
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::exists(dir_ / "weft-generated" / "mine.yaml"));
  fs::remove(dir_ / "weft-generated" / "mine.yaml");
  Write("gw.yaml", GatewayYaml("demo", "waypoint"));
  ASSERT_TRUE(*SyncWaypointManifests(dir_.string(), Load()));
  EXPECT_EQ(RemoveWaypointManifests(dir_.string()), std::vector<std::string>{file.string()});
  EXPECT_FALSE(fs::exists(dir_ / "weft-generated"));
}

TEST_F(WaypointsTest, BrokenGatewayKeepsItsWaypoint) {
  Write("nodes.yaml", kNodes);
  Write("gw.yaml", GatewayYaml("demo", "waypoint"));
  Desired good = Load();
  ASSERT_EQ(good.pods.size(), 1u);
  Write("gw.yaml", GatewayYaml("demo", "waypoint") + "  addresses: [\n");  // YAML syntax error
  Desired next = Load(&good);
  EXPECT_EQ(next.waypoints, good.waypoints) << AllErrors(next);
  EXPECT_EQ(next.pods, good.pods);
  // A Gateway that is broken in its values (not its syntax).
  Write("gw.yaml", GatewayYaml("demo", "waypoint") + "---\n" +
                       "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n"
                       "  name: other\n  namespace: demo\nspec:\n  gatewayClassName: "
                       "weft-waypoint\n  listeners:\n  - {name: mesh, port: 15009, protocol: "
                       "HBONE}\n");
  Desired values = Load(&good);
  EXPECT_EQ(values.waypoints.size(), 1u);  // the broken one has no pod
  EXPECT_EQ(values.pods, good.pods);
}

TEST_F(WaypointsTest, MissingDirKeepsTheWaypointWithoutErrors) {
  Write("nodes.yaml", kNodes);
  Write("gw.yaml", GatewayYaml("demo", "waypoint"));
  Desired good = Load();
  ASSERT_EQ(good.pods.size(), 1u);
  fs::path moved = dir_.string() + ".moved";
  fs::rename(dir_, moved);
  Desired next = Load(&good);
  auto changed = SyncWaypointManifests(dir_.string(), next);
  bool recreated = fs::exists(dir_);
  fs::rename(moved, dir_);
  EXPECT_TRUE(next.errors.empty()) << AllErrors(next);
  EXPECT_EQ(next.pods, good.pods);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
  EXPECT_FALSE(recreated);  // the sync never makes DIR
}

TEST(WaypointState, PodGatewayAndWaypointSettingsRoundTrip) {
  State s;
  s.waypoint_bin = "/b/weft-waypoint";
  s.waypoint_args = {"--workers=2"};
  PodState p;
  p.ns = "demo";
  p.name = "waypoint-0123abcd";
  p.gateway = "waypoint";
  s.pods.push_back(p);
  auto back = FromJson(ToJson(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->waypoint_bin, "/b/weft-waypoint");
  EXPECT_EQ(back->waypoint_args, s.waypoint_args);
  EXPECT_EQ(back->pods[0].gateway, "waypoint");
  auto old = FromJson(R"({"version": 1, "pods": [{"namespace": "a", "name": "b"}]})");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->pods[0].gateway, "");
}

}  // namespace
}  // namespace weft::cluster
