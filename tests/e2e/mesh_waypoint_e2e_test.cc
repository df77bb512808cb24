// End to end: the waypoint on a real 2-node netns cluster (tools/cluster, one weft-agent per
// node, a weft-waypoint pod made from a Gateway, root). A client pod on node1 calls Services
// bound to the waypoint; BPF captures the connection, node1's proxy sends it over HBONE to the
// waypoint pod on node2, which routes each request and opens HBONE with its own identity to
// the chosen endpoint's pod. Backends are real servers (Python http.server, grpcio) in pods;
// the client is tests/e2e/testdata/http_client.py (HTTP/1.1, HTTP/2 with prior knowledge,
// WebSocket) and grpc_client.py. The cluster and its baseline: mesh_fixture.h.

#include <thread>

#include "tests/e2e/mesh_fixture.h"

namespace weft::e2e {
namespace {

constexpr char kApiHost[] = "api.demo.svc.cluster.local";
constexpr char kEchoHost[] = "echo.demo.svc.cluster.local";

std::string Src(const std::string& rel) {
  return std::string(WEFT_SOURCE_DIR) + "/" + rel;
}

class WaypointE2E : public MeshE2E {
 protected:
  void SetUp() override {
    MeshE2E::SetUp();
    if (HasFatalFailure()) return;
    if (!WaypointUp()) {
      WriteFile("gateway.yaml", GatewayYaml());
      WriteFile("api.yaml", ApiYaml());
      ASSERT_TRUE(WaitFor([&] { return WaypointUp(); }, 90000))
          << "the waypoint did not come up\n"
          << Diagnose() << "\n"
          << ClusterCmd("logs demo/" + WaypointPod()).all();
    }
    api_vip_ = ServiceVip(kApiHost);
    echo_vip_ = ServiceVip(kEchoHost);
    ASSERT_FALSE(api_vip_.empty());
  }

  void TearDown() override {
    for (const char* f : {"authz.yaml", "ns-waypoint.yaml"}) {
      std::error_code ec;
      fs::remove(S().dir / f, ec);
    }
    MeshE2E::TearDown();
  }

  static std::string GatewayYaml() {
    return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n"
           "  name: waypoint\n  namespace: demo\n  annotations: {weft.dev/node: " +
           N2() +
           "}\nspec:\n  gatewayClassName: weft-waypoint\n"
           "  listeners: [{name: mesh, port: 15008, protocol: HBONE}]\n";
  }

  // `api` (HTTP, bound to the waypoint by its own label) with v1 on node1 and v2 on node2;
  // `echo` (gRPC) on node2, bound too.
  static std::string ApiYaml() {
    auto http_pod = [](const std::string& v, const std::string& node) {
      return "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: api-" + v +
             "\n  namespace: demo\n  labels: {app: api, version: " + v +
             "}\n  annotations:\n    weft.dev/run: \"exec /usr/bin/python3 " +
             Src("tests/waypoint/testdata/http_backend.py") +
             " --address 0.0.0.0 --port 8081 --name api-" + v + "\"\nspec:\n  nodeName: " + node +
             "\n";
    };
    return std::string(R"(apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: demo
  labels: {weft.dev/use-waypoint: waypoint}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8081}]
---
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: demo
  labels: {weft.dev/use-waypoint: waypoint}
spec:
  selector: {app: echo}
  ports: [{name: grpc, port: 50051, targetPort: 50051}]
)") + http_pod("v1", N1()) +
           http_pod("v2", N2()) +
           "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: echo-v1\n  namespace: demo\n"
           "  labels: {app: echo}\n  annotations:\n    weft.dev/run: \"exec /usr/bin/python3 " +
           Src("tests/waypoint/testdata/grpc_backend.py") +
           " --address 0.0.0.0 --port 50051 --name echo-v1\"\nspec:\n  nodeName: " + N2() + "\n";
  }

  static std::string ServiceVip(const std::string& host) {
    json svcs = Admin(N1(), "/services");
    if (!svcs.is_array()) return "";
    for (const auto& j : svcs) {
      if (j.value("hostname", "") == host && !j["vips"].empty()) return j["vips"][0];
    }
    return "";
  }

  static std::string WaypointPod() {
    json st = json::parse(ClusterCmd("status --json").out, nullptr, false);
    if (!st.is_object()) return "";
    for (const auto& p : st.value("pods", json::array())) {
      std::string name = p.value("name", "");
      if (p.value("namespace", "") == "demo" && name.rfind("waypoint-", 0) == 0) return name;
    }
    return "";
  }

  // The waypoint's admin (127.0.0.1:15000 in its pod).
  static json WaypointAdmin(const std::string& path) {
    std::string pod = WaypointPod();
    if (pod.empty()) return json();
    Result r =
        ClusterCmd("exec demo/" + pod + " -- curl -sf --max-time 5 http://127.0.0.1:15000" + path);
    return r.code == 0 ? json::parse(r.out, nullptr, false) : json();
  }

  // The waypoint is ready (certificate + configuration), node1's agent knows it has a ready
  // pod, the api and echo pods are up, and one call through it works.
  static bool WaypointUp() {
    json svcs = Admin(N1(), "/services");
    const json* api = nullptr;
    if (svcs.is_array()) {
      for (const auto& j : svcs) {
        if (j.value("hostname", "") == kApiHost) api = &j;
      }
    }
    if (!api || !api->value("waypoint_available", false) || api->value("ready_endpoints", 0) != 2) {
      return false;
    }
    json stats = WaypointAdmin("/stats");
    if (!stats.is_object()) return false;
    std::string vip = (*api)["vips"][0];
    Result r = Client("http://" + vip + "/ready-check -n 1");
    return r.code == 0 && r.out.find("api-v") != std::string::npos;
  }

  static Result Client(const std::string& args) {
    return ClusterCmd("exec demo/client -- /usr/bin/python3 " +
                      Src("tests/e2e/testdata/http_client.py") + " " + args);
  }

  static void WriteRoutes(const std::string& vs, const std::string& dr = "") {
    if (!dr.empty()) WriteFile("dr.yaml", dr);
    WriteFile("vs.yaml", vs);
  }

  static std::string ApiSubsets() {
    return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: api\n"
           "  namespace: demo\nspec:\n  host: api\n  subsets:\n"
           "  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n";
  }

  // Until the waypoint's /routes shows `needle`.
  static bool WaitForWaypointRoutes(const std::string& needle) {
    return WaitFor(
        [&] { return WaypointAdmin("/routes").dump().find(needle) != std::string::npos; }, 20000);
  }

  std::string api_vip_, echo_vip_;
};

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
