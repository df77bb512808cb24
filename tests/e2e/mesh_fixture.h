#pragma once

// The fixture of the mesh end-to-end tests: one real 2-node netns cluster (tools/cluster, one
// weft-agent per node, root) per test process, shared by the tests that run in it.
//
// Each test process brings up a cluster of its own (random `--cluster` name, own state file
// and DIR), so parallel ctest runs never collide; every test leaves DIR as it found it (the
// baseline below) and waits until the agents applied it. `down` runs even when an assertion
// failed.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/testing/root.h"

namespace weft::e2e {

namespace fs = std::filesystem;
using nlohmann::json;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
  std::string all() const { return out + err; }
};

inline std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool WaitFor(const std::function<bool()>& pred, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

// "web-v1 10\nweb-v2 10\n" -> {web-v1: 10, web-v2: 10}
inline std::map<std::string, int> Histogram(const std::string& out) {
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

inline int Total(const std::map<std::string, int>& h) {
  int t = 0;
  for (const auto& [k, v] : h) t += v;
  return t;
}

constexpr char kHost[] = "web.demo.svc.cluster.local";

inline std::string NodesYaml(const std::string& n1, const std::string& n2) {
  return "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + n1 +
         "\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: " + n2 + "\n";
}

inline std::string NamespaceYaml(const std::string& mode) {
  return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n  labels:\n"
         "    weft.dev/dataplane-mode: " +
         mode + "\n";
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

inline std::string Pod(const std::string& name, const std::string& node, const std::string& labels,
                       const std::string& run) {
  return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
         "\n  namespace: demo\n  labels: " + labels + "\n  annotations:\n    weft.dev/run: \"" +
         run + "\"\nspec:\n  nodeName: " + node + "\n";
}

inline std::string WebPod(const std::string& version, const std::string& node) {
  return Pod("web-" + version, node, "{app: web, version: " + version + "}",
             "exec weft-testapp serve --port 8080 --name web-" + version);
}

inline std::string DestinationRule(const std::string& spec_tail) {
  return std::string(
             "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n"
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
  // Extra `tools/cluster up` arguments for this test binary's cluster (set before any test
  // runs, e.g. by a namespace-scope initializer).
  static std::string& UpArgs() {
    static std::string args;
    return args;
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
    // The agents' runtime dirs (proxy.sock, proxy.log) are the cluster's own and go with it.
    EXPECT_FALSE(fs::exists(RunDir(N1()), ec)) << "left after down: " << RunDir(N1());
    EXPECT_FALSE(fs::exists(fs::path(RunDir(N1())).parent_path(), ec));
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
      Result up = ClusterCmd("up -f " + s.dir.string() + " " + UpArgs());
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
    if (Slurp(S().dir / "pods.yaml") != BaselinePods()) {
      WriteFile("pods.yaml", BaselinePods());
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
    WriteFile("pods.yaml", BaselinePods());
  }

  // The client on node1, web-v1 on node1, web-v2 and web-v3 on node2; `without` leaves one out.
  static std::string BaselinePods(const std::string& without = "") {
    std::string out = Pod("client", N1(), "{app: client}", "exec sleep infinity");
    for (auto [version, node] : {std::pair{"v1", N1()}, {"v2", N2()}, {"v3", N2()}}) {
      if ("web-" + std::string(version) != without) out += "---\n" + WebPod(version, node);
    }
    return out;
  }

  // node1's agent has the Service with its VIP and 3 ready endpoints, no cluster policy or
  // route for it, no diagnostic about broken.yaml, the client enrolled; and a call through the VIP
  // works.
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
          return ClientEnrolled(true) && CertsValid(N1()) && CertsValid(N2());
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

  // mTLS: the node's proxy holds a valid certificate for every identity it serves (the CA
  // issued them after enrollment).
  static bool CertsValid(const std::string& node) {
    json c = Admin(node, "/certs");
    if (!c.is_array() || c.empty()) return false;
    for (const auto& j : c) {
      if (j.value("state", "") != "valid") return false;
    }
    return true;
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

  // Node names carry the cluster's name too, so that nothing named by node alone (an agent's
  // log, a node's bpffs dir under another cluster's base) can meet a developer's cluster.
  static std::string N1() { return S().name + "-node1"; }
  static std::string N2() { return S().name + "-node2"; }

  // Where tools/cluster has the node's agent keep its runtime files (--run-dir).
  static std::string RunDir(const std::string& node) {
    return "/run/weft/cluster-" + S().name + "/nodes/" + node;
  }

  static std::string Netns(const std::string& node) { return "weft-" + S().name + "-node-" + node; }

  // GET on a node's agent admin (127.0.0.1:15000 inside the node's netns); null if it fails.
  static json Admin(const std::string& node, const std::string& path) {
    Result r =
        Sh("ip netns exec " + Netns(node) + " curl -sf --max-time 5 http://127.0.0.1:15000" + path);
    if (r.code != 0) return json();
    return json::parse(r.out, nullptr, false);
  }

  // The node's readiness (:15021/healthz/ready): its body, "" when it does not answer.
  static std::string Readiness(const std::string& node) {
    return Sh("ip netns exec " + Netns(node) +
              " curl -s --max-time 5 http://127.0.0.1:15021/healthz/ready")
        .out;
  }

  // Takes `node`'s proxy away and keeps it away: a directory where its control socket goes
  // (the agent's next proxy cannot bind there), then the proxy process killed. True once the
  // agent's readiness says it has no proxy. ReturnProxy undoes it.
  static bool TakeProxyAway(const std::string& node) {
    std::string sock = RunDir(node) + "/proxy.sock";
    if (Sh("rm -f " + sock + " && mkdir " + sock).code != 0) return false;
    if (Sh("pkill -f '[p]roxy --socket " + sock + "'").code != 0) return false;
    return WaitFor([&] { return Readiness(node).starts_with("no node proxy"); }, 20000);
  }
  // True once the agent has a proxy again and is ready.
  static bool ReturnProxy(const std::string& node) {
    if (Sh("rmdir " + RunDir(node) + "/proxy.sock").code != 0) return false;
    return WaitFor([&] { return Readiness(node) == "ready\n"; }, 60000);
  }

  // A pod outside the mesh: namespace "outside" (not enrolled), pod "caller" on node1.
  static void WriteOutsider() {
    WriteFile("outsider.yaml",
              "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: outside\n---\n"
              "apiVersion: v1\nkind: Pod\nmetadata:\n  name: caller\n  namespace: outside\n"
              "  annotations:\n    weft.dev/run: \"exec sleep infinity\"\nspec:\n  nodeName: " +
                  N1() + "\n");
  }
  // `n` calls to `target` from outside/caller (WriteOutsider), outside the mesh.
  static Result CallFromOutside(const std::string& target, int n) {
    return ClusterCmd("exec outside/caller -- weft-testapp call " + target + " -n " +
                      std::to_string(n) + " --timeout-ms 2000");
  }
  // The first address of the workload whose uid contains `name` ("web-v2"), from node1's agent.
  static std::string WorkloadIp(const std::string& name) {
    json w = Admin(N1(), "/workloads");
    if (!w.is_array()) return "";
    for (const auto& j : w) {
      if (j.value("uid", "").find(name) != std::string::npos && !j["addresses"].empty()) {
        return j["addresses"][0];
      }
    }
    return "";
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
      std::string proxy_log = Slurp(fs::path(RunDir(node)) / "proxy.log");
      out += "\n==> node proxy " + node + " log (tail)\n";
      out += proxy_log.substr(proxy_log.size() > 4000 ? proxy_log.size() - 4000 : 0);
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

}  // namespace weft::e2e
