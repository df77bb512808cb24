// End to end: the mesh on a real 2-node netns cluster (tools/cluster, one weft-agent per node,
// root). A Service VIP called from a client pod on node1 is captured by BPF, balanced by
// node1's proxy and steered into the endpoints' pods on both nodes.
//
// Each test process brings up one cluster of its own (random `--cluster` name, own state file
// and DIR), shared by the tests that run in it, so parallel ctest runs never collide; every
// test leaves DIR as it found it (the baseline below) and waits until node1's agent applied it.
// `down` runs even when an assertion failed.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/testing/root.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
  std::string all() const { return out + err; }
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WaitFor(const std::function<bool()>& pred, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

// "web-v1 10\nweb-v2 10\n" -> {web-v1: 10, web-v2: 10}
std::map<std::string, int> Histogram(const std::string& out) {
  std::map<std::string, int> h;
  std::istringstream in(out);
  std::string line;
  std::regex re(R"(^(\S+) (\d+)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, re)) h[m[1]] += std::stoi(m[2]);
  }
  return h;
}

int Total(const std::map<std::string, int>& h) {
  int t = 0;
  for (const auto& [k, v] : h) t += v;
  return t;
}

constexpr char kHost[] = "web.demo.svc.cluster.local";

std::string NodesYaml(const std::string& n1, const std::string& n2) {
  return "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + n1 +
         "\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: " + n2 + "\n";
}

std::string NamespaceYaml(const std::string& mode) {
  return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n  labels:\n"
         "    weft.dev/dataplane-mode: " + mode + "\n";
}

constexpr char kService[] = R"(apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  selector:
    app: web
  ports:
  - name: tcp
    port: 80
    targetPort: 8080
)";

std::string Pod(const std::string& name, const std::string& node, const std::string& labels,
                const std::string& run) {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
         "\n  namespace: demo\n  labels: " + labels + "\n  annotations:\n    weft.dev/run: \"" +
         run + "\"\nspec:\n  nodeName: " + node + "\n";
}

std::string WebPod(const std::string& version, const std::string& node) {
  return Pod("web-" + version, node, "{app: web, version: " + version + "}",
             "exec weft-testapp serve --port 8080 --name web-" + version);
}

std::string DestinationRule(const std::string& spec_tail) {
  return std::string("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n"
                     "  name: web\n  namespace: demo\nspec:\n  host: ") +
         kHost + "\n" + spec_tail;
}

class MeshE2E : public ::testing::Test {
 protected:
  // One cluster per test process, shared by its tests; made by the first test that runs.
  struct Shared {
    bool tried = false, up = false;
    std::string name, up_output;
    fs::path root, dir, state;
    std::string vip;
  };
  static Shared& S() {
    static Shared s;
    return s;
  }

  static void TearDownTestSuite() {
    Shared& s = S();
    if (!s.tried) return;
    Result r = ClusterCmd("down");
    EXPECT_EQ(r.code, 0) << "tools/cluster down: " << r.all();
    std::error_code ec;
    for (auto it = fs::directory_iterator("/run/netns", ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      EXPECT_FALSE(it->path().filename().string().starts_with("weft-" + s.name + "-"))
          << "left after down: " << it->path();
    }
    // The agents' runtime dirs (/run/weft/<node>: proxy.sock) are not removed by `down`;
    // ours carry the cluster's name, so removing them touches no one else's.
    for (const std::string& node : {N1(), N2()}) fs::remove_all(fs::path("/run/weft") / node, ec);
    fs::remove_all(s.root, ec);
  }

  void SetUp() override {
    WEFT_REQUIRE_ROOT();
    Shared& s = S();
    if (!s.tried) {
      s.tried = true;
      std::random_device rd;
      const char* chars = "abcdefghijklmnopqrstuvwxyz0123456789";
      s.name = "m";
      for (int i = 0; i < 4; ++i) s.name += chars[rd() % 36];
      char tmpl[] = "/tmp/weft-mesh-e2e-XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      s.root = tmpl;
      s.dir = s.root / "dir";
      s.state = s.root / "state" / "state.json";
      fs::create_directories(s.dir);
      WriteBaseline();
      Result up = ClusterCmd("up -f " + s.dir.string());
      s.up_output = up.all();
      ASSERT_EQ(up.code, 0) << up.all();
      s.up = WaitForBaseline();
      ASSERT_TRUE(s.up) << "the mesh did not come up\n" << Diagnose();
    }
    ASSERT_TRUE(s.up) << "the shared cluster failed to come up earlier:\n" << s.up_output;
    vip_ = s.vip;
  }

  void TearDown() override {
    if (!S().up) return;
    if (HasFailure()) std::cerr << Diagnose();
    // Back to the baseline for the next test of this process.
    bool changed = false;
    for (const char* f : {"dr.yaml", "vs.yaml", "broken.yaml"}) {
      std::error_code ec;
      changed |= fs::remove(S().dir / f, ec);
    }
    if (Slurp(S().dir / "namespace.yaml") != NamespaceYaml("ambient")) {
      WriteFile("namespace.yaml", NamespaceYaml("ambient"));
      changed = true;
    }
    if (changed) {
      bool ok = WaitForBaseline();
      if (!ok) {
        S().up = false;  // later tests of this process fail fast instead of misleading
        ADD_FAILURE() << "could not restore the baseline\n" << Diagnose();
      }
    }
  }

  static void WriteBaseline() {
    WriteFile("nodes.yaml", NodesYaml(N1(), N2()));
    WriteFile("namespace.yaml", NamespaceYaml("ambient"));
    WriteFile("service.yaml", kService);
    WriteFile("pods.yaml", Pod("client", N1(), "{app: client}", "exec sleep infinity") +
                               "---\n" + WebPod("v1", N1()) + "---\n" +
                               WebPod("v2", N2()) + "---\n" + WebPod("v3", N2()));
  }

  // node1's agent has the Service with its VIP and 3 ready endpoints, no cluster policy or
  // route for it, no diagnostic about broken.yaml, the client enrolled; and a call through the VIP works.
  static bool WaitForBaseline() {
    Shared& s = S();
    bool ok = WaitFor(
        [&] {
          for (const std::string& node : {N1(), N2()}) {
            json svcs = Admin(node, "/services");
            const json* web = FindService(svcs);
            if (!web || (*web)["vips"].empty() || (*web)["ready_endpoints"] != 3) return false;
            s.vip = (*web)["vips"][0];
            json dump = Admin(node, "/config_dump");
            if (!dump.is_object() || !dump.value("clusterPolicies", json::array()).empty() ||
                !dump.value("routeTables", json::array()).empty() ||
                dump.value("diagnostics", json::array()).dump().find("broken.yaml") !=
                    std::string::npos) {
              return false;
            }
          }
          return ClientEnrolled(true);
        },
        60000);
    if (!ok) return false;
    return WaitFor([&] { return Call(s.vip + ":80", 1).code == 0; }, 20000);
  }

  static const json* FindService(const json& svcs) {
    if (!svcs.is_array()) return nullptr;
    for (const auto& j : svcs) {
      if (j.value("hostname", "") == kHost) return &j;
    }
    return nullptr;
  }

  static bool ClientEnrolled(bool want) {
    json w = Admin(N1(), "/workloads");
    if (!w.is_array()) return false;
    for (const auto& j : w) {
      if (j.value("uid", "").find("client") != std::string::npos && j.value("local", false)) {
        return j.value("enrolled", false) == want;
      }
    }
    return false;
  }

  // Node names carry the cluster's name: the agent keeps runtime files in /run/weft/<node>
  // (proxy.sock), which two clusters with equal node names would share.
  static std::string N1() { return S().name + "-node1"; }
  static std::string N2() { return S().name + "-node2"; }

  static std::string Netns(const std::string& node) {
    return "weft-" + S().name + "-node-" + node;
  }

  // GET on a node's agent admin (127.0.0.1:15000 inside the node's netns); null if it fails.
  static json Admin(const std::string& node, const std::string& path) {
    Result r = Sh("ip netns exec " + Netns(node) +
                  " curl -sf --max-time 5 http://127.0.0.1:15000" + path);
    if (r.code != 0) return json();
    return json::parse(r.out, nullptr, false);
  }

  static uint64_t Counter(const std::string& node, const std::string& program,
                          const std::string& verdict) {
    json b = Admin(node, "/bpf");
    if (!b.is_object()) return 0;
    for (const auto& c : b.value("counters", json::array())) {
      if (c["program"] == program && c["verdict"] == verdict) return c["value"].get<uint64_t>();
    }
    return 0;
  }

  static Result ClusterCmd(const std::string& args) {
    Shared& s = S();
    return Sh("WEFT_BUILD=" + std::string(WEFT_BINARY_DIR) + " WEFT_CLUSTER=" + s.name +
              " WEFT_CLUSTER_STATE=" + s.state.string() + " timeout 120 " +
              std::string(WEFT_SOURCE_DIR) + "/tools/cluster " + args);
  }

  // Runs cmd with stdout and stderr captured; safe to call from several threads.
  static Result Sh(const std::string& cmd) {
    static std::atomic<int> seq{0};
    fs::path err = S().root / ("stderr-" + std::to_string(seq++) + ".txt");
    Result r;
    FILE* p = popen((cmd + " </dev/null 2>" + err.string()).c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = Slurp(err);
    std::error_code ec;
    fs::remove(err, ec);
    return r;
  }

  static Result Call(const std::string& target, int n, const std::string& extra = "") {
    return ClusterCmd("exec demo/client -- weft-testapp call " + target + " -n " +
                      std::to_string(n) + " --timeout-ms 2000 " + extra);
  }

  static void WriteFile(const std::string& rel, const std::string& text) {
    // Written aside and renamed in: one complete file for the watchers.
    fs::path tmp = S().root / (".tmp-" + rel);
    std::ofstream(tmp) << text;
    fs::rename(tmp, S().dir / rel);
  }

  static std::string Diagnose() {
    std::string out = ClusterCmd("status").all();
    for (const std::string& node : {N1(), N2()}) {
      out += "\n==> agent " + node + " log (tail)\n";
      std::string log = Slurp(S().root / "state" / "logs" / ("agent-" + node + ".log"));
      out += log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
      out += "\n==> " + node + " /services\n" + Admin(node, "/services").dump(1);
      out += "\n==> " + node + " /stats\n" + Admin(node, "/stats").dump(1);
    }
    return out;
  }

  // Until node1's snapshot has a cluster policy for web satisfying pred.
  bool WaitForPolicy(const std::function<bool(const json&)>& pred) {
    return WaitFor(
        [&] {
          json dump = Admin(N1(), "/config_dump");
          if (!dump.is_object()) return false;
          for (const auto& c : dump.value("clusterPolicies", json::array())) {
            if (c.value("hostname", "") == kHost && pred(c)) return true;
          }
          return false;
        },
        20000);
  }

  std::string vip_;
};

// 1. A Service VIP reaches endpoints on both nodes: captured by connect4 on node1, steered by
// sk_lookup into the endpoint pods on node2.
TEST_F(MeshE2E, VipReachesEndpointsOnBothNodes) {
  uint64_t redirected0 = Counter(N1(), "connect", "REDIRECTED");
  uint64_t steered0 = Counter(N2(), "sk_lookup", "STEERED");
  Result r = Call(vip_ + ":80", 40);
  ASSERT_EQ(r.code, 0) << r.all();
  std::cout << r.out;
  auto h = Histogram(r.out);
  EXPECT_EQ(Total(h), 40) << r.out;
  EXPECT_GT(h["web-v1"], 0) << r.out;                  // node1
  EXPECT_GT(h["web-v2"] + h["web-v3"], 0) << r.out;    // node2
  EXPECT_GE(Counter(N1(), "connect", "REDIRECTED") - redirected0, 40u);
  EXPECT_GT(Counter(N2(), "sk_lookup", "STEERED") - steered0, 0u);
}

// 2. ROUND_ROBIN from a DestinationRule, applied live: 300 connections over 3 endpoints.
TEST_F(MeshE2E, RoundRobinOverThreeEndpointsWithinOne) {
  WriteFile("dr.yaml", DestinationRule("  trafficPolicy:\n    loadBalancer:\n"
                                       "      simple: ROUND_ROBIN\n"));
  ASSERT_TRUE(WaitForPolicy([](const json& c) {
    return c.value("loadBalancer", json::object()).value("policy", "") == "ROUND_ROBIN";
  })) << Admin(N1(), "/config_dump").dump(1);
  // The proxy takes the snapshot right after the agent: three calls in a row hit all three.
  ASSERT_TRUE(WaitFor([&] { return Histogram(Call(vip_ + ":80", 3).out).size() == 3; }, 10000));
  Result r = Call(vip_ + ":80", 300);
  ASSERT_EQ(r.code, 0) << r.all();
  std::cout << r.out;
  auto h = Histogram(r.out);
  EXPECT_EQ(Total(h), 300) << r.out;
  for (const char* name : {"web-v1", "web-v2", "web-v3"}) {
    EXPECT_NEAR(h[name], 100, 1) << name << " in\n" << r.out;
  }
}

// 3. Consistent hash on the source IP: one client always lands on the same endpoint.
TEST_F(MeshE2E, ConsistentHashOnSourceIpIsStable) {
  WriteFile("dr.yaml", DestinationRule("  trafficPolicy:\n    loadBalancer:\n"
                                       "      consistentHash:\n        useSourceIp: true\n"));
  ASSERT_TRUE(WaitForPolicy([](const json& c) {
    json lb = c.value("loadBalancer", json::object());
    return lb.value("consistentHash", json::object()).value("useSourceIp", false);
  })) << Admin(N1(), "/config_dump").dump(1);
  ASSERT_TRUE(WaitFor([&] { return Histogram(Call(vip_ + ":80", 5).out).size() == 1; }, 10000));
  std::string first;
  for (int round = 0; round < 3; ++round) {
    Result r = Call(vip_ + ":80", 30);
    ASSERT_EQ(r.code, 0) << r.all();
    auto h = Histogram(r.out);
    ASSERT_EQ(h.size(), 1u) << "round " << round << ":\n" << r.out;
    EXPECT_EQ(h.begin()->second, 30);
    if (round == 0) first = h.begin()->first;
    EXPECT_EQ(h.begin()->first, first) << "round " << round;
  }
}

// 4. Subsets: a VirtualService sends all TCP to subset v2 of the DestinationRule.
TEST_F(MeshE2E, TcpRouteToSubsetV2) {
  WriteFile("dr.yaml", DestinationRule("  subsets:\n"
                                       "  - name: v1\n    labels:\n      version: v1\n"
                                       "  - name: v2\n    labels:\n      version: v2\n"));
  WriteFile("vs.yaml", std::string("apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                                   "metadata:\n  name: web\n  namespace: demo\nspec:\n"
                                   "  hosts:\n  - ") +
                           kHost + "\n  tcp:\n  - route:\n    - destination:\n        host: " +
                           kHost + "\n        subset: v2\n      weight: 100\n");
  ASSERT_TRUE(WaitFor(
      [&] {
        json dump = Admin(N1(), "/config_dump");
        if (!dump.is_object()) return false;
        bool subset = false, route = false;
        for (const auto& c : dump.value("clusterPolicies", json::array())) {
          subset |= c.value("hostname", "") == kHost && c.value("subset", "") == "v2";
        }
        for (const auto& t : dump.value("routeTables", json::array())) {
          route |= t.value("hostname", "") == kHost && !t.value("tcpRoutes", json::array()).empty();
        }
        return subset && route;
      },
      20000))
      << Admin(N1(), "/config_dump").dump(1);
  ASSERT_TRUE(WaitFor([&] { return Call(vip_ + ":80", 3).out == "web-v2 3\n"; }, 10000));
  Result r = Call(vip_ + ":80", 40);
  ASSERT_EQ(r.code, 0) << r.all();
  EXPECT_EQ(r.out, "web-v2 40\n");
}

// 5. The agent's control process is killed and restarted while a connection is held open: the
// connection finishes its round trips and new connections work right after.
TEST_F(MeshE2E, AgentRestartKeepsHeldConnectionAndNewOnesWork) {
  json before = Admin(N1(), "/stats");
  ASSERT_TRUE(before.is_object());
  Result held;
  std::thread t([&] { held = Call(vip_ + ":80", 1, "--hold-ms 8000 --interval-ms 100"); });
  // The held connection is up in node1's proxy.
  bool open = WaitFor(
      [&] {
        json c = Admin(N1(), "/connections");
        if (!c.is_array()) return false;
        for (const auto& j : c) {
          if (j.value("direction", "") == "outbound") return true;
        }
        return false;
      },
      5000);
  Result restart;
  if (open) restart = ClusterCmd("restart-agent " + N1());
  t.join();  // bounded: --hold-ms 8000 plus the call's own timeout
  ASSERT_TRUE(open) << "the held connection never showed in /connections\n" << held.all();
  ASSERT_EQ(restart.code, 0) << restart.all();
  EXPECT_EQ(held.code, 0) << held.all();
  auto h = Histogram(held.out);
  EXPECT_EQ(Total(h), 1) << held.out;
  // "held 8003 ms: 79 round trips": every 100 ms, none lost across the restart.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(held.err, m, std::regex(R"(held (\d+) ms: (\d+) round trips)")))
      << held.all();
  EXPECT_GE(std::stoi(m[1]), 8000);
  EXPECT_GE(std::stoi(m[2]), 40);
  // New connections: right after the restart (capture and the proxy never stopped).
  Result now = Call(vip_ + ":80", 20);
  EXPECT_EQ(now.code, 0) << now.all();
  EXPECT_EQ(Total(Histogram(now.out)), 20) << now.out;
  // And the new control process has taken over.
  EXPECT_TRUE(WaitFor([&] { return ClientEnrolled(true); }, 15000));
  Result later = Call(vip_ + ":80", 20);
  EXPECT_EQ(later.code, 0) << later.all();
}

// 6. A broken document in DIR: reported in /config_dump's diagnostics, traffic keeps flowing.
TEST_F(MeshE2E, BrokenYamlLeavesTrafficFlowing) {
  WriteFile("broken.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: [broken\n"
                           "  namespace: demo\n");
  ASSERT_TRUE(WaitFor(
      [&] {
        json dump = Admin(N1(), "/config_dump");
        if (!dump.is_object()) return false;
        for (const auto& d : dump.value("diagnostics", json::array())) {
          if (d.dump().find("broken.yaml") != std::string::npos &&
              d.value("severity", "") == "ERROR") {
            return true;
          }
        }
        return false;
      },
      20000))
      << Admin(N1(), "/config_dump").dump(1);
  Result r = Call(vip_ + ":80", 20);
  EXPECT_EQ(r.code, 0) << r.all();
  EXPECT_EQ(Total(Histogram(r.out)), 20) << r.out;
  json svcs = Admin(N1(), "/services");
  const json* web = FindService(svcs);
  ASSERT_NE(web, nullptr);
  EXPECT_EQ((*web)["ready_endpoints"], 3);
}

// 7. Opt-out live: the namespace goes to dataplane-mode none with a connection open. The open
// connection finishes; new connections to the VIP are no longer captured.
TEST_F(MeshE2E, OptOutLiveKeepsOpenConnectionAndStopsCapture) {
  Result held;
  std::thread t([&] { held = Call(vip_ + ":80", 1, "--hold-ms 6000 --interval-ms 100"); });
  bool open = WaitFor(
      [&] {
        json c = Admin(N1(), "/connections");
        return c.is_array() && !c.empty();
      },
      5000);
  if (open) WriteFile("namespace.yaml", NamespaceYaml("none"));
  bool out = open && WaitFor([&] { return ClientEnrolled(false); }, 20000);
  t.join();
  ASSERT_TRUE(open) << held.all();
  ASSERT_TRUE(out) << Admin(N1(), "/workloads").dump(1);
  EXPECT_EQ(held.code, 0) << held.all();
  EXPECT_EQ(Total(Histogram(held.out)), 1) << held.out;
  EXPECT_NE(held.err.find("held "), std::string::npos) << held.all();

  uint64_t redirected = Counter(N1(), "connect", "REDIRECTED");
  Result r = Call(vip_ + ":80", 2);
  EXPECT_NE(r.code, 0) << "a ClusterIP answered without the mesh: " << r.all();
  EXPECT_EQ(Counter(N1(), "connect", "REDIRECTED"), redirected);
  // Pod to pod still works uncaptured (the namespace is just not in the mesh).
}

}  // namespace
