// End to end: the mesh on a real 2-node netns cluster (tools/cluster, one weft-agent per node,
// root). A Service VIP called from a client pod on node1 is captured by BPF, balanced by
// node1's proxy and steered into the endpoints' pods on both nodes. The cluster and its
// baseline DIR: mesh_fixture.h.

#include <cstdlib>

#include "tests/e2e/mesh_fixture.h"

namespace weft::e2e {
namespace {

// 1. A Service VIP reaches endpoints on both nodes: captured by connect4 on node1, carried
// over HBONE (mTLS, the cluster's CA) into the endpoint pods' :15008 on node2.
TEST_F(MeshE2E, VipReachesEndpointsOnBothNodes) {
  uint64_t redirected0 = Counter(N1(), "connect", "REDIRECTED");
  uint64_t hbone0 = Admin(N2(), "/stats").value("hbone_inbound", 0ull);
  Result r = Call(vip_ + ":80", 40);
  ASSERT_EQ(r.code, 0) << r.all();
  std::cout << r.out;
  auto h = Histogram(r.out);
  EXPECT_EQ(Total(h), 40) << r.out;
  EXPECT_GT(h["web-v1"], 0) << r.out;                // node1
  EXPECT_GT(h["web-v2"] + h["web-v3"], 0) << r.out;  // node2
  EXPECT_GE(Counter(N1(), "connect", "REDIRECTED") - redirected0, 40u);
  EXPECT_GT(Admin(N2(), "/stats").value("hbone_inbound", 0ull) - hbone0, 0u);
}

// 1b. Across nodes every byte is mutual TLS 1.3: a capture on the underlay bridge (the host
// side of the node-to-node wire) while the client calls the VIP holds no plaintext byte of the
// endpoints' answers, no TCP payload on any port but :15008, and only TLS 1.3 handshakes.
// node1's proxy process is killed first (the agent starts a new one) so that the capture sees
// fresh handshakes rather than pooled connections from earlier tests.
TEST_F(MeshE2E, UnderlayCarriesOnlyTls13Hbone) {
  for (const char* tool : {"tcpdump", "tshark"}) {
    if (Sh(std::string("command -v ") + tool).code != 0) {
      if (std::getenv("CI")) FAIL() << tool << " is missing (tools/setup installs it)";
      GTEST_SKIP() << tool << " is missing";
    }
  }
  std::string node1_proxy = "/run/weft/cluster-" + S().name + "/nodes/" + N1() + "/proxy.sock";
  ASSERT_EQ(Sh("pkill -f '[p]roxy --socket " + node1_proxy + "'").code, 0);
  usleep(200 * 1000);
  ASSERT_TRUE(WaitFor([&] { return Admin(N1(), "/stats").is_object(); }, 20000));

  fs::path pcap = S().root / "underlay.pcap";
  fs::path pid = S().root / "tcpdump.pid";
  std::string bridge = "weft-" + S().name + "-br0";
  // --immediate-mode: without it, packets still in libpcap's ring when tcpdump is killed are
  // never written.
  ASSERT_EQ(Sh("tcpdump --immediate-mode -i " + bridge + " -U -s 0 -w - tcp >" + pcap.string() +
               " 2>/dev/null & echo $! >" + pid.string())
                .code,
            0);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pcap) && fs::file_size(pcap) > 0; }, 5000));
  ASSERT_TRUE(WaitFor([&] { return Call(vip_ + ":80", 1).code == 0; }, 20000));
  Result r = Call(vip_ + ":80", 30);
  usleep(300 * 1000);
  Sh("kill $(cat " + pid.string() + ")");
  usleep(300 * 1000);
  ASSERT_EQ(r.code, 0) << r.all();
  auto h = Histogram(r.out);
  ASSERT_GT(h["web-v2"] + h["web-v3"], 0) << r.out;  // some went to node2

  std::string bytes = Slurp(pcap);
  EXPECT_EQ(bytes.find("web-v2"), std::string::npos) << "plaintext on the underlay";
  EXPECT_EQ(bytes.find("web-v3"), std::string::npos) << "plaintext on the underlay";
  auto count = [&](const std::string& filter) {
    // Braces: Sh() appends its redirections, which must not land on `wc` alone.
    Result c = Sh("{ tshark -r " + pcap.string() + " -d tcp.port==15008,tls -Y '" + filter +
                  "' -T fields -e frame.number 2>/dev/null | wc -l; }");
    return c.code == 0 ? std::stoi(c.out) : -1;
  };
  EXPECT_GT(count("tcp.port == 15008 && tcp.len > 0"), 0)
      << fs::file_size(pcap) << " bytes captured:\n"
      << Sh("{ tshark -r " + pcap.string() + " 2>&1 | head -20; }").out;
  // Besides HBONE, only the agents' mTLS to the CA (:15012) crosses the underlay.
  EXPECT_EQ(count("tcp.port != 15008 && tcp.port != 15012 && tcp.len > 0"), 0)
      << "TCP payload outside HBONE";
  // Every ServerHello negotiates TLS 1.3 (supported_versions = 0x0304); at least one was seen.
  EXPECT_GT(count("tls.handshake.type == 2"), 0);
  EXPECT_EQ(
      count("tls.handshake.type == 2 && !(tls.handshake.extensions.supported_version == 0x0304)"),
      0);
  EXPECT_EQ(
      count("tls.handshake.type == 1 && !(tls.handshake.extensions.supported_version == 0x0304)"),
      0);
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
  WriteFile("broken.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: [broken\n"
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

// 7. Node1's proxy away (killed, and kept from coming back): fail closed, the default. The
// agent does not wait for it (readiness names it); node1's pods stay captured, so the client's
// mesh connections and plaintext from outside the mesh for web-v1 are refused, not let through
// unproxied; opted out meanwhile, they are released; with a proxy again, both work as before.
TEST_F(MeshE2E, ProxyAwayFailsClosed) {
  WriteOutsider();
  std::string v1 = WorkloadIp("web-v1"), v2 = WorkloadIp("web-v2");
  ASSERT_FALSE(v1.empty() || v2.empty());
  auto outsider = [&] { return CallFromOutside(v1 + ":8080", 1); };
  ASSERT_TRUE(WaitFor([&] { return outsider().code == 0; }, 20000)) << "PERMISSIVE admits it";
  ASSERT_TRUE(TakeProxyAway(N1())) << Readiness(N1());
  Result out = Call(v2 + ":8080", 1);
  EXPECT_NE(out.code, 0) << out.all();
  EXPECT_NE(out.all().find("refused"), std::string::npos) << out.all();
  Result in = outsider();
  EXPECT_NE(in.code, 0) << in.all();
  EXPECT_NE(in.all().find("refused"), std::string::npos) << in.all();
  // Opted out meanwhile, the namespace's pods leave the maps without waiting for a proxy:
  // the client connects directly.
  WriteFile("namespace.yaml", NamespaceYaml("none"));
  EXPECT_TRUE(WaitFor([&] { return Call(v2 + ":8080", 1).code == 0; }, 20000))
      << "released while no proxy";
  WriteFile("namespace.yaml", NamespaceYaml("ambient"));
  ASSERT_TRUE(ReturnProxy(N1())) << Readiness(N1());
  EXPECT_TRUE(WaitFor([&] { return Call(vip_ + ":80", 1).code == 0; }, 20000));
  EXPECT_TRUE(WaitFor([&] { return outsider().code == 0; }, 20000));
  std::error_code ec;
  fs::remove(S().dir / "outsider.yaml", ec);
}

}  // namespace
}  // namespace weft::e2e
