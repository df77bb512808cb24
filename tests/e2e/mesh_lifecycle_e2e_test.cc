// End to end, on a 2-node netns cluster of its own (mesh_fixture.h): what changes while traffic
// flows — a namespace opted in with a connection open, an endpoint removed under load — and
// what a person inspects: least-request balancing away from a busy endpoint, and the pinned
// service map as bpftool prints it.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

#include "tests/e2e/mesh_fixture.h"

namespace weft::e2e {
namespace {

class MeshLifecycleE2E : public MeshE2E {
 protected:
  // How many of `node`'s own pods its agent has enrolled.
  static int EnrolledOn(const std::string& node) {
    json w = Admin(node, "/workloads");
    if (!w.is_array()) return -1;
    int n = 0;
    for (const auto& j : w) n += j.value("local", false) && j.value("enrolled", false);
    return n;
  }

  static int ReadyEndpoints(const std::string& node) {
    json svcs = Admin(node, "/services");
    const json* web = FindService(svcs);
    return web ? (*web)["ready_endpoints"].get<int>() : -1;
  }

  // The client pod's established TCP connections to `dst` (ip:port), as the kernel sees them.
  static int ClientSockets(const std::string& dst) {
    Result r = Sh("ip netns exec weft-" + S().name + "-pod-demo-client ss -Htn state established" +
                  " dst " + dst);
    if (r.code != 0) return -1;
    int n = 0;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) n += !line.empty();
    return n;
  }

  // N connections one after the other from the client pod, each fully closed before the next
  // starts: `call --hold-ms 1` half-closes and waits for the server's close, which node1's proxy
  // forwards just as it finishes the connection (and its least-request accounting); a separate
  // process and a short pause per connection leave the proxy time to get there. (A plain `call`
  // closes right after the greeting, while the proxy is still closing its upstream side.)
  static Result SeparateCalls(const std::string& target, int n) {
    return ClusterCmd("exec demo/client -- sh -c 'for i in $(seq " + std::to_string(n) +
                      "); do weft-testapp call " + target +
                      " --hold-ms 1 --timeout-ms 2000 || exit 1; sleep 0.02; done'");
  }
};

// 1. Opt-in live: the namespace is out of the mesh, the client holds a plain connection to a web
// pod, then the namespace is labelled ambient. The held connection was never captured and
// survives; new connections from the same pod are captured by connect4 and balanced.
TEST_F(MeshLifecycleE2E, OptInLiveKeepsOpenConnectionAndStartsCapture) {
  WriteFile("namespace.yaml", NamespaceYaml("none"));
  ASSERT_TRUE(WaitFor([&] { return EnrolledOn(N1()) == 0 && EnrolledOn(N2()) == 0; }, 20000))
      << Admin(N1(), "/workloads").dump(1) << Admin(N2(), "/workloads").dump(1);
  std::string web_v2 = WorkloadIp("web-v2");
  ASSERT_FALSE(web_v2.empty()) << Admin(N1(), "/workloads").dump(1);
  const std::string target = web_v2 + ":8080";
  // Out of the mesh, pod to pod works uncaptured.
  ASSERT_TRUE(WaitFor([&] { return Call(target, 1).code == 0; }, 10000));

  uint64_t to_pod0 = Counter(N1(), "connect", "REDIRECTED_WORKLOAD");
  uint64_t steered0 = Counter(N2(), "sk_lookup", "STEERED");
  uint64_t hbone0 = Admin(N2(), "/stats").value("hbone_inbound", 0ull);
  Result held;
  std::atomic<bool> held_done{false};
  std::thread t([&] {
    held = Call(target, 1, "--hold-ms 10000 --interval-ms 100");
    held_done = true;
  });
  // The held connection goes straight to web-v2: the kernel shows it, no proxy does.
  bool open = WaitFor([&] { return ClientSockets(target) == 1; }, 5000);
  bool uncaptured = open && Admin(N1(), "/connections") == json::array() &&
                    Admin(N2(), "/connections") == json::array() &&
                    Counter(N1(), "connect", "REDIRECTED_WORKLOAD") == to_pod0 &&
                    Counter(N2(), "sk_lookup", "STEERED") == steered0;
  if (open) WriteFile("namespace.yaml", NamespaceYaml("ambient"));
  // Every pod of both nodes enrolled again (client and web-v1 on node1, web-v2 and web-v3 on
  // node2) while the connection is still held.
  bool in = open && WaitFor(
                        [&] {
                          return ClientEnrolled(true) && EnrolledOn(N1()) == 2 &&
                                 EnrolledOn(N2()) == 2 && CertsValid(N1()) && CertsValid(N2());
                        },
                        20000);
  bool in_while_held = in && !held_done.load();
  // Still the same uncaptured socket: enrollment touched no established connection.
  int still = in ? ClientSockets(target) : -1;
  json proxied = Admin(N1(), "/connections");
  t.join();  // bounded: --hold-ms 10000 plus the call's timeout
  ASSERT_TRUE(open) << held.all();
  EXPECT_TRUE(uncaptured) << "a connection made before opt-in went through a proxy";
  ASSERT_TRUE(in) << Admin(N1(), "/workloads").dump(1) << Admin(N2(), "/workloads").dump(1);
  EXPECT_TRUE(in_while_held) << "enrollment took longer than the held connection";
  EXPECT_EQ(still, 1);
  EXPECT_EQ(proxied, json::array()) << "the held connection shows in node1's proxy";
  EXPECT_EQ(held.code, 0) << held.all();
  EXPECT_EQ(Histogram(held.out), (std::map<std::string, int>{{"web-v2", 1}})) << held.all();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(held.err, m, std::regex(R"(held (\d+) ms: (\d+) round trips)")))
      << held.all();
  EXPECT_GE(std::stoi(m[1]), 10000);
  EXPECT_GE(std::stoi(m[2]), 50);

  // New connections are captured: the VIP answers again, balanced over the three endpoints,
  // every connect redirected on node1; a direct pod call reaches web-v2 on node2 over HBONE.
  ASSERT_TRUE(WaitFor([&] { return Call(vip_ + ":80", 1).code == 0; }, 10000));
  uint64_t redirected1 = Counter(N1(), "connect", "REDIRECTED");
  Result r = Call(vip_ + ":80", 30);
  ASSERT_EQ(r.code, 0) << r.all();
  auto h = Histogram(r.out);
  EXPECT_EQ(Total(h), 30) << r.out;
  EXPECT_GE(h.size(), 2u) << r.out;
  EXPECT_GE(Counter(N1(), "connect", "REDIRECTED") - redirected1, 30u);
  Result direct = Call(target, 5);
  EXPECT_EQ(direct.code, 0) << direct.all();
  EXPECT_EQ(direct.out, "web-v2 5\n");
  EXPECT_GE(Counter(N1(), "connect", "REDIRECTED_WORKLOAD") - to_pod0, 5u);
  // Mesh to mesh across nodes is HBONE into web-v2's :15008 (mTLS), not plaintext steering.
  EXPECT_GE(Admin(N2(), "/stats").value("hbone_inbound", 0ull) - hbone0, 5u);
  EXPECT_EQ(Counter(N2(), "sk_lookup", "STEERED"), steered0);
}

// 2. Endpoint removal: web-v3 leaves DIR while connections keep coming. Once both agents have
// applied it, no new connection goes to web-v3 and none fails.
TEST_F(MeshLifecycleE2E, RemovedEndpointGetsNoNewConnections) {
  // Traffic reaches web-v3 before.
  ASSERT_TRUE(WaitFor([&] { return Histogram(Call(vip_ + ":80", 6).out)["web-v3"] > 0; }, 10000));
  std::atomic<bool> stop{false};
  std::vector<Result> during;
  std::thread traffic([&] {
    for (int i = 0; i < 100 && !stop.load(); ++i) during.push_back(Call(vip_ + ":80", 5));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  WriteFile("pods.yaml", BaselinePods("web-v3"));
  bool converged =
      WaitFor([&] { return ReadyEndpoints(N1()) == 2 && ReadyEndpoints(N2()) == 2; }, 20000);
  stop = true;
  traffic.join();  // bounded: 100 calls at most, each with a 2 s timeout
  ASSERT_TRUE(converged) << Admin(N1(), "/services").dump(1);
  int failed = 0;
  for (const auto& d : during) failed += d.code != 0;
  std::cout << during.size() << " calls of 5 while web-v3 went away, " << failed
            << " with an error\n";

  Result r = Call(vip_ + ":80", 60);
  EXPECT_EQ(r.code, 0) << r.all();
  auto h = Histogram(r.out);
  EXPECT_EQ(Total(h), 60) << r.all();
  EXPECT_EQ(h.count("web-v3"), 0u) << r.out;
  EXPECT_GT(h["web-v1"], 0) << r.out;
  EXPECT_GT(h["web-v2"], 0) << r.out;
}

// 3. LEAST_REQUEST (power of two choices on open connections) prefers idle endpoints: with one
// connection held open on endpoint X and the other two idle, every pair of candidates the
// balancer draws either holds an idle endpoint that beats X or is the two idle ones — X is never
// chosen. Each new connection is finished before the next one starts (SeparateCalls), so the
// idle endpoints are back at zero each time.
TEST_F(MeshLifecycleE2E, LeastRequestPrefersIdleEndpoints) {
  WriteFile("dr.yaml", DestinationRule("  trafficPolicy:\n    loadBalancer:\n"
                                       "      simple: LEAST_REQUEST\n"));
  ASSERT_TRUE(WaitForPolicy([](const json& c) {
    return c.value("loadBalancer", json::object()).value("policy", "") == "LEAST_REQUEST";
  })) << Admin(N1(), "/config_dump").dump(1);

  Result held;
  std::atomic<bool> held_done{false};
  std::thread t([&] {
    held = Call(vip_ + ":80", 1, "--hold-ms 15000 --interval-ms 200");
    held_done = true;
  });
  // Which endpoint node1's proxy picked for the held connection.
  std::string upstream;
  WaitFor(
      [&] {
        // Outbound: the client's; an inbound one is web-v1's end when the held connection
        // landed there.
        json c = Admin(N1(), "/connections");
        int outbound = 0;
        for (const auto& j : c.is_array() ? c : json::array()) {
          if (j.value("direction", "") != "outbound") continue;
          ++outbound;
          upstream = j.value("upstream", "");
        }
        return outbound == 1 && !upstream.empty();
      },
      5000);
  std::string busy;
  for (const char* name : {"web-v1", "web-v2", "web-v3"}) {
    if (!upstream.empty() && WorkloadIp(name) + ":8080" == upstream) busy = name;
  }
  Result r;
  if (!busy.empty()) r = SeparateCalls(vip_ + ":80", 40);
  bool still_held = !held_done.load();
  t.join();  // bounded: --hold-ms 15000 plus the call's timeout
  ASSERT_FALSE(busy.empty()) << "held connection upstream: \"" << upstream << "\"\n" << held.all();
  EXPECT_EQ(held.code, 0) << held.all();
  EXPECT_EQ(Histogram(held.out), (std::map<std::string, int>{{busy, 1}})) << held.all();
  ASSERT_TRUE(still_held) << "the held connection ended before the new ones did";
  ASSERT_EQ(r.code, 0) << r.all();
  auto h = Histogram(r.out);
  std::cout << "held on " << busy << "; then:\n" << r.out;
  EXPECT_EQ(Total(h), 40) << r.out;
  EXPECT_EQ(h.count(busy), 0u) << busy << " holds a connection and was still picked:\n" << r.out;
  EXPECT_EQ(h.size(), 2u) << "both idle endpoints should share the new connections:\n" << r.out;
}

// 4. The pinned service map as a person reads it: `bpftool -j map dump pinned
// <bpf-root>/weft_svc_v1` on node1's pins (local mode: /sys/fs/bpf/weft-<cluster>/<node>, the
// agent's --bpf-root) has BTF-named fields, the VIP:80 entry and one entry per mesh pod.
TEST_F(MeshLifecycleE2E, BpftoolDumpsTheServiceMapWithNamedFields) {
  if (Sh("command -v bpftool").code != 0) {
    const char* ci = std::getenv("CI");
    if (ci && *ci && std::strcmp(ci, "false") != 0) FAIL() << "bpftool is not installed";
    GTEST_SKIP() << "bpftool is not installed";
  }
  json state = json::parse(Slurp(S().state), nullptr, false);
  ASSERT_TRUE(state.is_object()) << S().state;
  std::string root;
  for (const auto& n : state.value("nodes", json::array())) {
    if (n.value("name", "") == N1()) root = n.value("bpf_root", "");
  }
  EXPECT_EQ(root, "/sys/fs/bpf/weft-" + S().name + "/" + N1());
  ASSERT_FALSE(root.empty());

  Result r = Sh("bpftool -j map dump pinned " + root + "/weft_svc_v1");
  ASSERT_EQ(r.code, 0) << r.all();
  json dump = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(dump.is_array()) << r.out;
  in_addr vip{};
  ASSERT_EQ(inet_pton(AF_INET, vip_.c_str(), &vip), 1) << vip_;
  const auto* vip_bytes = reinterpret_cast<const uint8_t*>(&vip.s_addr);
  std::set<std::string> pods;
  int vip_entries = 0;
  for (const auto& e : dump) {
    ASSERT_TRUE(e.contains("formatted")) << "no BTF-formatted entry: " << e.dump();
    const json& key = e["formatted"]["key"];
    const json& value = e["formatted"]["value"];
    ASSERT_TRUE(key["addr"].is_array() && key["addr"].size() == 16) << e.dump();
    ASSERT_TRUE(key.contains("port") && key.contains("proto")) << e.dump();
    ASSERT_TRUE(value.contains("service_id") && value.contains("flags")) << e.dump();
    EXPECT_EQ(key["proto"], IPPROTO_TCP) << e.dump();
    // IPv4 as ::ffff:a.b.c.d
    EXPECT_EQ(key["addr"][10], 0xff) << e.dump();
    EXPECT_EQ(key["addr"][11], 0xff) << e.dump();
    std::string ip;
    for (int i = 12; i < 16; ++i) {
      ip += (i > 12 ? "." : "") + std::to_string(key["addr"][i].get<int>());
    }
    bool is_vip = true;
    for (int i = 0; i < 4; ++i) is_vip &= key["addr"][12 + i] == vip_bytes[i];
    if (is_vip) {
      ++vip_entries;
      EXPECT_EQ(key["port"], htons(80)) << e.dump();  // network byte order, as the key holds it
      EXPECT_EQ(value["flags"], 1) << e.dump();       // WEFT_SVC_F_VIP
      EXPECT_NE(value["service_id"], 0) << e.dump();
    } else {
      EXPECT_EQ(key["port"], 0) << e.dump();     // a workload: any port
      EXPECT_EQ(value["flags"], 2) << e.dump();  // WEFT_SVC_F_WORKLOAD
      pods.insert(ip);
    }
  }
  EXPECT_EQ(vip_entries, 1) << r.out;
  std::set<std::string> want;
  for (const char* name : {"client", "web-v1", "web-v2", "web-v3"}) want.insert(WorkloadIp(name));
  EXPECT_EQ(pods, want) << r.out;
  // Without -j, the same named fields for a person.
  Result text = Sh("bpftool map dump pinned " + root + "/weft_svc_v1");
  EXPECT_EQ(text.code, 0) << text.all();
  EXPECT_NE(text.out.find("\"service_id\""), std::string::npos) << text.out;
}

// 5. Each agent keeps its runtime files (the proxy's control socket and log) in a directory of
// its own cluster, given by tools/cluster as --run-dir: two clusters with equal node names never
// share a proxy socket. `down` removes it (checked in TearDownTestSuite).
TEST_F(MeshLifecycleE2E, AgentRuntimeFilesArePerCluster) {
  json state = json::parse(Slurp(S().state), nullptr, false);
  ASSERT_TRUE(state.is_object()) << S().state;
  int nodes = 0;
  for (const auto& n : state.value("nodes", json::array())) {
    std::string node = n.value("name", "");
    ++nodes;
    EXPECT_EQ(n.value("run_dir", ""), RunDir(node));
    EXPECT_TRUE(fs::is_socket(fs::path(RunDir(node)) / "proxy.sock")) << RunDir(node);
    EXPECT_TRUE(fs::exists(fs::path(RunDir(node)) / "proxy.log")) << RunDir(node);
    // Not the agent's default, which a developer's node of the same name would use too.
    EXPECT_FALSE(fs::exists(fs::path("/run/weft") / node)) << "/run/weft/" << node;
    // The agent was told so: its command line has --run-dir.
    std::string cmdline = Slurp("/proc/" + std::to_string(n["agent"].value("pid", 0)) + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    EXPECT_NE(cmdline.find("--run-dir " + RunDir(node) + " "), std::string::npos) << cmdline;
  }
  EXPECT_EQ(nodes, 2);
}

// 6. PeerAuthentication on the cluster: a caller outside the mesh (its own namespace, not
// enrolled, on node1) reaches web-v2 on node2 in plaintext under the default PERMISSIVE (steered
// into the pod's :15006); STRICT in demo refuses it and counts the refusal on node2, while the
// mesh client still gets through over HBONE; removing the policy admits plaintext again.
TEST_F(MeshLifecycleE2E, StrictRefusesPlaintextFromOutsideTheMeshPermissiveAdmitsIt) {
  WriteOutsider();
  std::string web_v2 = WorkloadIp("web-v2");
  ASSERT_FALSE(web_v2.empty()) << Admin(N1(), "/workloads").dump(1);
  const std::string target = web_v2 + ":8080";
  auto from_outside = [&](int n) { return CallFromOutside(target, n); };
  auto cleanup = [&] {
    std::error_code ec;
    fs::remove(S().dir / "pa.yaml", ec);
    fs::remove(S().dir / "outsider.yaml", ec);
  };
  // PERMISSIVE (no policy): plaintext from outside is admitted.
  if (!WaitFor([&] { return from_outside(1).code == 0; }, 30000)) {
    cleanup();
    FAIL() << from_outside(1).all();
  }
  const uint64_t strict0 = Admin(N2(), "/stats").value("denied_mtls_strict", 0ull);
  WriteFile("pa.yaml",
            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n"
            "  name: strict\n  namespace: demo\nspec:\n  mtls:\n    mode: STRICT\n");
  bool refused = WaitFor([&] { return from_outside(1).code != 0; }, 20000);
  uint64_t strict = Admin(N2(), "/stats").value("denied_mtls_strict", 0ull);
  Result mesh = Call(target, 3);  // the mesh client: HBONE, admitted under STRICT
  std::error_code ec;
  fs::remove(S().dir / "pa.yaml", ec);
  bool admitted_again = WaitFor([&] { return from_outside(1).code == 0; }, 20000);
  cleanup();
  EXPECT_TRUE(refused) << "plaintext admitted under STRICT";
  EXPECT_GT(strict, strict0);
  EXPECT_EQ(mesh.code, 0) << mesh.all();
  EXPECT_EQ(mesh.out, "web-v2 3\n");
  EXPECT_TRUE(admitted_again) << "plaintext still refused after the policy was removed";
}

// 7. L4 AuthorizationPolicy on the cluster, enforced by node2's proxy for web-v2: the mesh
// client (HBONE, principal cluster.local/ns/demo/sa/default, namespace demo, IP of the client
// pod) and a plaintext caller outside the mesh (no principal) against a matrix of policies on
// app=web; each outcome is waited for (policies apply live), denials are counted by reason.
TEST_F(MeshLifecycleE2E, AuthorizationPolicyMatrixOnPrincipalNamespacePortIpBlockAndNotX) {
  WriteOutsider();
  const std::string web_v2 = WorkloadIp("web-v2");
  const std::string client_ip = WorkloadIp("client");
  ASSERT_FALSE(web_v2.empty() || client_ip.empty()) << Admin(N1(), "/workloads").dump(1);
  const std::string target = web_v2 + ":8080";
  auto mesh_ok = [&] { return Call(target, 1).code == 0; };
  auto outside_ok = [&] { return CallFromOutside(target, 1).code == 0; };
  auto policy = [&](const std::string& action, const std::string& rules) {
    WriteFile("authz.yaml",
              "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n"
              "  name: matrix\n  namespace: demo\nspec:\n  selector:\n    matchLabels:\n"
              "      app: web\n  action: " +
                  action + "\n  rules:\n" + rules);
  };
  struct Case {
    std::string name, action, rules;
    bool mesh, outside;
  };
  const std::vector<Case> cases = {
      {"allow principal", "ALLOW",
       "  - from:\n    - source:\n        principals: [cluster.local/ns/demo/sa/default]\n", true,
       false},
      {"deny namespace", "DENY", "  - from:\n    - source:\n        namespaces: [demo]\n", false,
       true},
      {"allow other port only", "ALLOW", "  - to:\n    - operation:\n        ports: [\"9999\"]\n",
       false, false},
      {"allow ipBlock of the client", "ALLOW",
       "  - from:\n    - source:\n        ipBlocks: [" + client_ip + "/32]\n", true, false},
      {"deny notPrincipals *", "DENY", "  - from:\n    - source:\n        notPrincipals: [\"*\"]\n",
       true, false},
      {"deny notPorts 8080 (nothing denied)", "DENY",
       "  - to:\n    - operation:\n        notPorts: [\"8080\"]\n", true, true},
      {"deny when source.namespace", "DENY",
       "  - when:\n    - key: source.namespace\n      values: [demo]\n", false, true},
  };
  std::vector<std::string> wrong;
  const json stats0 = Admin(N2(), "/stats");
  for (const Case& c : cases) {
    policy(c.action, c.rules);
    bool ok = WaitFor([&] { return mesh_ok() == c.mesh && outside_ok() == c.outside; }, 20000);
    if (!ok) {
      wrong.push_back(c.name + ": mesh " + (mesh_ok() ? "allowed" : "denied") + ", outside " +
                      (outside_ok() ? "allowed" : "denied"));
    }
  }
  const json stats1 = Admin(N2(), "/stats");
  std::error_code ec;
  fs::remove(S().dir / "authz.yaml", ec);
  fs::remove(S().dir / "outsider.yaml", ec);
  ASSERT_TRUE(WaitFor([&] { return mesh_ok(); }, 20000)) << "still denied without a policy";
  for (const auto& w : wrong) ADD_FAILURE() << w;
  EXPECT_GT(stats1.value("denied_policy", 0ull), stats0.value("denied_policy", 0ull));
  EXPECT_GT(stats1.value("denied_no_allow_match", 0ull),
            stats0.value("denied_no_allow_match", 0ull));
}

}  // namespace
}  // namespace weft::e2e
