// End to end: the waypoint on a real 2-node netns cluster (tools/cluster, one weft-agent per
// node, a weft-waypoint pod made from a Gateway, root). A client pod on node1 calls Services
// bound to the waypoint; BPF captures the connection, node1's proxy sends it over HBONE to the
// waypoint pod on node2, which routes each request and opens HBONE with its own identity to
// the chosen endpoint's pod. Backends are real servers (Python http.server, grpcio) in pods;
// the client is tests/e2e/testdata/http_client.py (HTTP/1.1, HTTP/2 with prior knowledge,
// WebSocket) and grpc_client.py. The cluster and its baseline: mesh_fixture.h.

#include "tests/e2e/waypoint_e2e_fixture.h"

namespace weft::e2e {
namespace {

// The Service bound by its own label goes through the waypoint (HBONE from node1's proxy,
// HTTP at the waypoint, HBONE to both endpoints); the endpoints' node proxies see the
// waypoint's identity; node1 shows the connection as via the waypoint.
TEST_F(WaypointE2E, BoundServiceGoesThroughTheWaypoint) {
  uint64_t before = WaypointAdmin("/stats")["http"].value("requests", 0ull);
  Result r = Client("http://" + api_vip_ + "/hello -n 40");
  ASSERT_EQ(r.code, 0) << r.all();
  auto h = Histogram(r.out);
  EXPECT_EQ(h["api-v1"] + h["api-v2"], 40) << r.out;
  EXPECT_GT(h["api-v1"], 0) << r.out;
  EXPECT_GT(h["api-v2"], 0) << r.out;
  EXPECT_GE(WaypointAdmin("/stats")["http"].value("requests", 0ull) - before, 40u);
  json dump = WaypointAdmin("/config_dump");
  EXPECT_EQ(dump.value("identity", ""), "spiffe://cluster.local/ns/demo/sa/waypoint");
  EXPECT_EQ(Admin(N1(), "/stats").value("waypoint_unavailable", 0ull), 0u);
  EXPECT_GT(Admin(N1(), "/stats").value("waypoint_outbound", 0ull), 0u);
  // The endpoints' /clusters entries went over HBONE.
  std::string clusters = WaypointAdmin("/clusters").dump();
  EXPECT_NE(clusters.find("\"hbone\":true"), std::string::npos) << clusters;
}

TEST_F(WaypointE2E, WeightedCanaryNinetyTen) {
  WriteRoutes(std::string("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
                          "  name: api\n  namespace: demo\nspec:\n  hosts: [api]\n  http:\n"
                          "  - route:\n    - {destination: {host: api, subset: v1}, weight: 90}\n"
                          "    - {destination: {host: api, subset: v2}, weight: 10}\n"),
              ApiSubsets());
  ASSERT_TRUE(WaitForWaypointRoutes("\"weight\":90"));
  Result r = Client("http://" + api_vip_ + "/ -n 400");
  ASSERT_EQ(r.code, 0) << r.all();
  auto h = Histogram(r.out);
  EXPECT_EQ(h["api-v1"] + h["api-v2"], 400) << r.out;
  // Binomial(400, 0.1): mean 40, sd 6; 4 sd either way.
  EXPECT_GE(h["api-v2"], 16) << r.out;
  EXPECT_LE(h["api-v2"], 64) << r.out;
}

TEST_F(WaypointE2E, HeaderMatchRewriteAndRedirect) {
  WriteRoutes(std::string(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: demo}
spec:
  hosts: [api]
  http:
  - match: [{headers: {x-user: {exact: tester}}}]
    route: [{destination: {host: api, subset: v2}}]
  - match: [{uri: {prefix: /legacy}}]
    rewrite: {uri: /v2}
    route: [{destination: {host: api, subset: v1}}]
  - match: [{uri: {exact: /old}}]
    redirect: {uri: /new}
  - route: [{destination: {host: api, subset: v1}}]
)"),
              ApiSubsets());
  ASSERT_TRUE(WaitForWaypointRoutes("\"redirect\":true"));
  auto h = Histogram(Client("http://" + api_vip_ + "/ -n 20 --header 'x-user: tester'").out);
  EXPECT_EQ(h["api-v2"], 20);
  h = Histogram(Client("http://" + api_vip_ + "/ -n 20").out);
  EXPECT_EQ(h["api-v1"], 20);
  Result rw = Client("http://" + api_vip_ + "/legacy/items -n 1 --show-body");
  EXPECT_NE(rw.out.find("\\\"path\\\": \\\"/v2/items\\\""), std::string::npos) << rw.out;
  Result rd = Client("http://" + api_vip_ + "/old -n 1 --show-body");
  EXPECT_NE(rd.out.find("status-301 1"), std::string::npos) << rd.out;
  EXPECT_NE(rd.out.find("/new"), std::string::npos) << rd.out;
}

TEST_F(WaypointE2E, Http2AndGrpcThroughTheWaypoint) {
  Result h2 = Client("http://" + api_vip_ + "/h2 -n 20 --h2");
  ASSERT_EQ(h2.code, 0) << h2.all();
  auto h = Histogram(h2.out);
  EXPECT_EQ(h["api-v1"] + h["api-v2"], 20) << h2.out;  // h2c client, HTTP/1.1 backends
  ASSERT_FALSE(echo_vip_.empty());
  Result g = ClusterCmd("exec demo/client -- /usr/bin/python3 " +
                        Src("tests/e2e/testdata/grpc_client.py") + " " + echo_vip_ + ":50051");
  ASSERT_EQ(g.code, 0) << g.all();
  EXPECT_NE(g.out.find("unary OK yes backend=echo-v1 trailer=done"), std::string::npos) << g.out;
  EXPECT_NE(g.out.find("fail NOT_FOUND no such thing"), std::string::npos) << g.out;
}

TEST_F(WaypointE2E, WebSocketUpgradeThroughTheWaypoint) {
  Result r = Client("http://" + api_vip_ + "/ws --websocket");
  ASSERT_EQ(r.code, 0) << r.all();
  EXPECT_NE(r.out.find("websocket-echo ok"), std::string::npos) << r.out;
}

TEST_F(WaypointE2E, L7AuthorizationByPathMethodAndPrincipal) {
  WriteFile("authz.yaml", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api-l7, namespace: demo}
spec:
  targetRefs: [{group: "", kind: Service, name: api}]
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin*"]}}]
  - to: [{operation: {methods: [DELETE]}}]
  - from: [{source: {notPrincipals: ["cluster.local/ns/demo/sa/default"]}}]
)");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Client("http://" + api_vip_ + "/admin -n 1").out.find("status-403") !=
               std::string::npos;
      },
      20000));
  auto h = Histogram(Client("http://" + api_vip_ + "/public -n 5").out);
  EXPECT_EQ(h["api-v1"] + h["api-v2"], 5);
  h = Histogram(Client("http://" + api_vip_ + "/x -n 3 --method DELETE").out);
  EXPECT_EQ(h["status-403"], 3);
  EXPECT_GT(WaypointAdmin("/stats")["http"].value("rbac_denied", 0ull), 0u);
}

TEST_F(WaypointE2E, VirtualServiceChangeUnderLoadLosesNothing) {
  WriteRoutes(std::string("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
                          "  name: api\n  namespace: demo\nspec:\n  hosts: [api]\n  http:\n"
                          "  - route: [{destination: {host: api, subset: v1}}]\n"),
              ApiSubsets());
  ASSERT_TRUE(WaitForWaypointRoutes("\"subset\":\"v1\""));
  Result load;
  std::thread t([&] { load = Client("http://" + api_vip_ + "/ -n 300 --interval-ms 10"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  WriteRoutes(
      std::string("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
                  "  name: api\n  namespace: demo\nspec:\n  hosts: [api]\n  http:\n"
                  "  - route: [{destination: {host: api, subset: v2}}]\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  WriteRoutes(
      std::string("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
                  "  name: api\n  namespace: demo\nspec:\n  hosts: [api]\n  http:\n"
                  "  - route: [{destination: {host: api, subset: v1}}]\n"));
  t.join();
  auto h = Histogram(load.out);
  EXPECT_EQ(h["api-v1"] + h["api-v2"], 300) << load.out;  // not one failure
  EXPECT_GT(h["api-v2"], 0) << load.out;                  // the change took effect live
}

TEST_F(WaypointE2E, RestartedWaypointServesNewRequestsWithinASecond) {
  std::string pod = WaypointPod();
  ASSERT_FALSE(pod.empty());
  // Only this cluster's waypoint: its command line names this test's DIR.
  ASSERT_EQ(Sh("pkill -KILL -f '[w]eft-waypoint --namespace demo --name waypoint --local-dir " +
               S().dir.string() + "'")
                .code,
            0);
  auto killed = std::chrono::steady_clock::now();
  bool ok = WaitFor(
      [&] {
        auto h = Histogram(Client("http://" + api_vip_ + "/ -n 1 --timeout 1").out);
        return h["api-v1"] + h["api-v2"] > 0;
      },
      10000);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  killed)
                .count();
  ASSERT_TRUE(ok);
  std::cout << "first success " << ms << " ms after the kill\n";
  EXPECT_LT(ms, 1000 + 400);  // 1 s, plus the poll's own cost (a pod exec per try)
}

TEST_F(WaypointE2E, NamespaceOptsInAndOutLive) {
  // `web` (the baseline TCP service) is not bound; labelling the namespace binds it.
  uint64_t tcp0 = WaypointAdmin("/stats")["tcp"].value("connections", 0ull);
  WriteFile("namespace.yaml", NamespaceYaml("ambient") + "    weft.dev/use-waypoint: waypoint\n");
  ASSERT_TRUE(WaitFor(
      [&] {
        json svcs = Admin(N1(), "/services");
        const json* web = FindService(svcs);
        return web && web->value("waypoint", "") == "waypoint";
      },
      20000));
  Result r = Call(vip_ + ":80", 10);
  ASSERT_EQ(r.code, 0) << r.all();
  EXPECT_EQ(Total(Histogram(r.out)), 10) << r.out;
  uint64_t tcp1 = WaypointAdmin("/stats")["tcp"].value("connections", 0ull);
  EXPECT_GE(tcp1 - tcp0, 10u);
  // Out again.
  WriteFile("namespace.yaml", NamespaceYaml("ambient"));
  ASSERT_TRUE(WaitFor(
      [&] {
        json svcs = Admin(N1(), "/services");
        const json* web = FindService(svcs);
        return web && web->value("waypoint", "").empty();
      },
      20000));
  r = Call(vip_ + ":80", 10);
  ASSERT_EQ(r.code, 0) << r.all();
  EXPECT_EQ(WaypointAdmin("/stats")["tcp"].value("connections", 0ull), tcp1);
}

}  // namespace
}  // namespace weft::e2e
