#pragma once

// The waypoint on a real 2-node netns cluster, shared by the waypoint e2e suites: a
// weft-waypoint pod made from a Gateway on node2, Services bound to it (`api`: HTTP, v1 on
// node1 and v2 on node2; `echo`: gRPC on node2), a client pod on node1, helpers to call through
// the waypoint and to read its admin. The cluster and its baseline: mesh_fixture.h.

#include <thread>

#include "tests/e2e/mesh_fixture.h"

namespace weft::e2e {

inline constexpr char kApiHost[] = "api.demo.svc.cluster.local";
inline constexpr char kEchoHost[] = "echo.demo.svc.cluster.local";

inline std::string Src(const std::string& rel) {
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
    if (HasFailure() && S().up) std::cerr << DiagnoseWaypoint();
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

  // The waypoint's side of a failure: its counters, clusters and log.
  static std::string DiagnoseWaypoint() {
    std::string pod = WaypointPod();
    std::string out = "\n==> waypoint " + pod + " /stats\n" + WaypointAdmin("/stats").dump(1);
    out += "\n==> waypoint /clusters\n" + WaypointAdmin("/clusters").dump(1);
    std::string log = ClusterCmd("logs demo/" + pod).all();
    out += "\n==> waypoint log (tail)\n" + log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
    return out + "\n";
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

}  // namespace weft::e2e
