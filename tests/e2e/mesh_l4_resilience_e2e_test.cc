// End to end: the node proxy's connection limits and connect-failure ejection for a Service
// without a waypoint (docs/datapath.md, "Connection limits and ejection"), on a real 2-node
// netns cluster (mesh_fixture.h). ztunnel does neither; Envoy's TCP proxy does both.

#include <thread>

#include "tests/e2e/mesh_fixture.h"

namespace weft::e2e {
namespace {

constexpr char kCluster[] = "outbound|80||web.demo.svc.cluster.local";

class L4ResilienceE2E : public MeshE2E {
 protected:
  // node1's proxy's view of the web cluster in /stats, or null.
  static json WebCluster() {
    json s = Admin(N1(), "/stats");
    if (!s.is_object()) return json();
    for (const auto& c : s.value("clusters", json::array())) {
      if (c.value("name", "") == kCluster) return c;
    }
    return json();
  }
  static uint64_t Stat(const std::string& name) { return Admin(N1(), "/stats").value(name, 0ull); }
};

// 1. Two endpoints, one of them a pod that listens on nothing (every connect to it is
// refused, on node2 behind HBONE): node1's proxy retries each such connection on the other
// endpoint, ejects the dead one after 5 consecutive failures (Envoy's defaults; no
// DestinationRule), and from then on sends nothing to it: every connection succeeds on its
// first attempt.
TEST_F(L4ResilienceE2E, AnEndpointThatRefusesConnectsIsEjectedAndTrafficSucceeds) {
  std::string pods = Pod("client", N1(), "{app: client}", "exec sleep infinity") + "---\n" +
                     WebPod("v1", N1()) + "---\n" +
                     Pod("web-dead", N2(), "{app: web, version: dead}", "exec sleep infinity");
  WriteFile("pods.yaml", pods);
  std::string dead;
  ASSERT_TRUE(WaitFor(
      [&] {
        json services = Admin(N1(), "/services");
        const json* web = FindService(services);
        dead = WorkloadIp("web-dead");
        return web && (*web)["ready_endpoints"] == 2 && !dead.empty() && ClientEnrolled(true);
      },
      60000))
      << Diagnose();
  const std::string dead_endpoint = dead + ":8080";
  auto dead_ejected = [&] {
    json c = WebCluster();
    if (!c.is_object()) return false;
    for (const auto& e : c.value("endpoints", json::array())) {
      if (e.value("endpoint", "") == dead_endpoint && e.value("ejected", false)) return true;
    }
    return false;
  };
  // Until the ejection: every call still succeeds (a refused connect is retried elsewhere).
  int before_ejection = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        Result r = Call(vip_ + ":80", 10);
        EXPECT_EQ(r.code, 0) << r.all();
        EXPECT_EQ(Histogram(r.out)["web-v1"], 10) << r.all();
        before_ejection += 10;
        return dead_ejected();
      },
      30000))
      << WebCluster().dump(1);
  std::cout << "ejected " << dead_endpoint << " after " << before_ejection
            << " calls; node1 cluster state: " << WebCluster().dump() << "\n";
  EXPECT_GE(Stat("outlier_ejections"), 1u);
  // Ejected (30 s): 200 consecutive connections succeed, and none is even tried on it.
  uint64_t failures = Stat("connect_failures");
  Result r = Call(vip_ + ":80", 200);
  ASSERT_EQ(r.code, 0) << r.all();
  EXPECT_EQ(Histogram(r.out)["web-v1"], 200) << r.all();
  EXPECT_EQ(Stat("connect_failures"), failures);
  EXPECT_TRUE(dead_ejected()) << WebCluster().dump(1);
}

// 2. DestinationRule connectionPool.tcp.maxConnections: 1 and five clients holding their
// connection open at once: node1's proxy serves one and closes the four others at once
// (upstream_cx_overflow), as Envoy's TCP proxy; once the held one ends, a new one is served.
TEST_F(L4ResilienceE2E, MaxConnectionsOneServesOneHeldConnectionAndRefusesTheOthers) {
  WriteFile("dr.yaml", DestinationRule("  trafficPolicy:\n    connectionPool:\n      tcp:\n"
                                       "        maxConnections: 1\n"));
  ASSERT_TRUE(WaitForPolicy([](const json& c) {
    return c.value("connectionPool", json::object()).value("maxConnections", 0) == 1;
  })) << Admin(N1(), "/config_dump").dump(1);
  // The proxy has the policy once a held connection makes the next one overflow.
  uint64_t overflow0 = Stat("upstream_cx_overflow");
  std::vector<Result> results(5);
  std::vector<std::thread> clients;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    clients.emplace_back([&, i] {
      // Staggered, so that the first is established before the others try.
      std::this_thread::sleep_for(std::chrono::milliseconds(i == 0 ? 0 : 1000 + 100 * i));
      results[i] = Call(vip_ + ":80", 1, "--hold-ms 4000 --interval-ms 500");
    });
  }
  for (auto& t : clients) t.join();
  auto took = std::chrono::steady_clock::now() - t0;
  int served = 0;
  for (int i = 0; i < 5; ++i) {
    std::cout << "client " << i << ": exit " << results[i].code << ": " << results[i].all();
    served += results[i].code == 0;
  }
  EXPECT_EQ(results[0].code, 0) << results[0].all();
  EXPECT_EQ(served, 1);
  EXPECT_EQ(Stat("upstream_cx_overflow") - overflow0, 4u);
  EXPECT_LT(took, std::chrono::seconds(15));
  json c = WebCluster();
  EXPECT_EQ(c.value("max_connections", 0), 1) << c.dump(1);
  EXPECT_GE(c.value("upstream_cx_overflow", 0), 4) << c.dump(1);
  // The held connection is over: its slot is free again. (A connection holds it until both
  // legs are closed, a few ms after the client's close: so one call at a time, each once the
  // previous one is gone.)
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitFor([&] { return WebCluster().value("active_connections", -1) == 0; }, 5000))
        << WebCluster().dump(1);
    Result after = Call(vip_ + ":80", 1);
    EXPECT_EQ(after.code, 0) << after.all();
  }
}

}  // namespace
}  // namespace weft::e2e
