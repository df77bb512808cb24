// The waypoint controller against a real API server with the Gateway API CRDs and deploy/'s
// RBAC: a weft-waypoint Gateway gets its ServiceAccount, Deployment, Service and root
// ConfigMap, its account is bound to weft-waypoint, its status says Accepted and (no kubelet
// here, so no replica is ever available) not yet Programmed, with the Service's address.
// Gateways of other classes are left alone; a deleted Gateway's account is unbound. And the
// Events weft raises on resources it rejects.

#include "agent/controller/waypoint_controller.h"
#include "agent/controller/policy_events.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "core/kube/config.h"
#include "tests/testing/kube_control_plane.h"

namespace weft::agent {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return pred();
}

TEST(WaypointController, MakesTheWaypointsWorkloadAndStatus) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  std::string out;
  ASSERT_EQ(
      cp.Kubectl("apply --server-side -k " + std::string(WEFT_SOURCE_DIR) + "/deploy/crds", &out),
      0)
      << out;
  ASSERT_EQ(
      cp.Kubectl("apply -f " + std::string(WEFT_SOURCE_DIR) + "/deploy/base/waypoint-rbac.yaml",
                 &out),
      0)
      << out;
  ASSERT_EQ(cp.Kubectl("wait --for condition=established --timeout 30s crd --all", &out), 0) << out;
  ASSERT_EQ(cp.Kubectl("create namespace demo", &out), 0) << out;
  auto cfg = kube::LoadKubeconfig(cp.kubeconfig());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  auto client = *kube::Client::Create(*cfg);

  WaypointControllerOptions o;
  o.image = "example.com/weft:test";
  o.root_cert_pem = "-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n";
  o.resync = 500ms;
  WaypointController controller(client, o);

  std::string f = cp.dir + "/gw.yaml";
  std::ofstream(f) << R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: demo
  annotations: {weft.dev/node: n2}
spec:
  gatewayClassName: weft-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: demo}
spec:
  gatewayClassName: someone-else
  listeners: [{name: http, port: 80, protocol: HTTP}]
)";
  ASSERT_EQ(cp.Kubectl("apply -f " + f, &out), 0) << out;

  auto get = [&](const std::string& path) {
    auto r = client->Get(path);
    return r.ok() ? *r : json();
  };
  json gw;
  ASSERT_TRUE(WaitFor([&] {
    gw = get("/apis/gateway.networking.k8s.io/v1/namespaces/demo/gateways/waypoint");
    return gw.is_object() && gw.contains("status") && gw["status"].contains("addresses") &&
           !gw["status"]["addresses"].empty();
  })) << gw.dump(1)
      << controller.stats().last_error;
  std::map<std::string, std::string> conditions;
  for (const auto& c : gw["status"]["conditions"]) conditions[c["type"]] = c["status"];
  EXPECT_EQ(conditions["Accepted"], "True");
  EXPECT_EQ(conditions["Programmed"], "False") << "no replica is available without a kubelet";
  json svc = get("/api/v1/namespaces/demo/services/waypoint");
  EXPECT_EQ(gw["status"]["addresses"][0]["value"], svc["spec"]["clusterIP"]);
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], 15008);

  json dep = get("/apis/apps/v1/namespaces/demo/deployments/waypoint");
  ASSERT_TRUE(dep.is_object());
  EXPECT_EQ(dep["metadata"]["ownerReferences"][0]["uid"], gw["metadata"]["uid"]);
  const json& pod = dep["spec"]["template"];
  EXPECT_EQ(pod["metadata"]["labels"]["gateway.networking.k8s.io/gateway-name"], "waypoint");
  EXPECT_EQ(pod["spec"]["serviceAccountName"], "waypoint");
  EXPECT_EQ(pod["spec"]["nodeSelector"]["kubernetes.io/hostname"], "n2");
  EXPECT_EQ(pod["spec"]["containers"][0]["image"], "example.com/weft:test");
  EXPECT_NE(pod["spec"]["containers"][0]["args"].dump().find("--ca-token="), std::string::npos);
  EXPECT_TRUE(get("/api/v1/namespaces/demo/serviceaccounts/waypoint").is_object());
  EXPECT_EQ(get("/api/v1/namespaces/demo/configmaps/weft-ca-root")["data"]["root-cert.pem"],
            o.root_cert_pem);
  json crb = get("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/weft-waypoints");
  ASSERT_EQ(crb["subjects"].size(), 1u) << crb.dump(1);
  EXPECT_EQ(crb["subjects"][0]["name"], "waypoint");
  EXPECT_EQ(crb["subjects"][0]["namespace"], "demo");
  EXPECT_FALSE(get("/apis/apps/v1/namespaces/demo/deployments/ingress").is_object())
      << "another class's Gateway is not ours";
  EXPECT_EQ(controller.stats().waypoints, std::set<std::string>{"demo/waypoint"});

  // Re-applied every resync: a status that does not change is not rewritten.
  std::string rv = gw["metadata"]["resourceVersion"];
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(get("/apis/gateway.networking.k8s.io/v1/namespaces/demo/gateways/waypoint")
                ["metadata"]["resourceVersion"],
            rv);

  ASSERT_EQ(cp.Kubectl("delete gateway waypoint -n demo", &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] {
    json b = get("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/weft-waypoints");
    return b.is_object() && b.value("subjects", json::array()).empty();
  })) << "the deleted Gateway's account is unbound";
  EXPECT_EQ(controller.stats().errors, 0u) << controller.stats().last_error;
}

TEST(PolicyEvents, ARejectedResourceGetsOneWarningEvent) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  std::string out;
  ASSERT_EQ(
      cp.Kubectl("apply --server-side -k " + std::string(WEFT_SOURCE_DIR) + "/deploy/crds", &out),
      0)
      << out;
  ASSERT_EQ(cp.Kubectl("wait --for condition=established --timeout 30s crd --all", &out), 0) << out;
  ASSERT_EQ(cp.Kubectl("create namespace demo", &out), 0) << out;
  auto cfg = kube::LoadKubeconfig(cp.kubeconfig());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  auto client = *kube::Client::Create(*cfg);
  auto events = PolicyEvents::Start(client, "weft-ca-test");
  ASSERT_TRUE(events.ok()) << events.status();

  // Valid for the CRD's schema, not for weft (RE2 cannot compile the regex).
  std::string f = cp.dir + "/vs.yaml";
  auto write = [&](const std::string& regex) {
    std::ofstream(f) << "apiVersion: networking.istio.io/v1\n"
                        "kind: VirtualService\n"
                        "metadata: {name: api, namespace: demo}\n"
                        "spec:\n"
                        "  hosts: [api]\n"
                        "  http:\n"
                        "  - match: [{uri: {regex: \"" +
                            regex +
                            "\"}}]\n"
                            "    route: [{destination: {host: api}}]\n";
  };
  write("((");
  ASSERT_EQ(cp.Kubectl("apply -f " + f, &out), 0) << out;
  auto warnings = [&] {
    auto r = client->Get("/api/v1/namespaces/demo/events");
    json items = r.ok() ? r->value("items", json::array()) : json::array();
    json out = json::array();
    for (const auto& e : items) {
      if (e.value("reason", "") == "Rejected") out.push_back(e);
    }
    return out;
  };
  json got;
  ASSERT_TRUE(WaitFor([&] { return (got = warnings()).size() == 1; })) << got.dump(1);
  const json& e = got[0];
  EXPECT_EQ(e["type"], "Warning");
  EXPECT_EQ(e["involvedObject"]["kind"], "VirtualService");
  EXPECT_EQ(e["involvedObject"]["name"], "api");
  EXPECT_FALSE(e["involvedObject"].value("uid", "").empty()) << "kubectl describe finds it by uid";
  EXPECT_NE(e.value("message", "").find("spec.http[0].match[0].uri"), std::string::npos)
      << e.dump(1);
  ASSERT_EQ(cp.Kubectl("describe virtualservice api -n demo", &out), 0) << out;
  EXPECT_NE(out.find("Rejected"), std::string::npos) << out;

  // The same rejection again (a label change re-sends the object): no second Event.
  ASSERT_EQ(cp.Kubectl("label virtualservice api -n demo touched=yes", &out), 0) << out;
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(warnings().size(), 1u);
  // Fixed, then broken another way: a new Event.
  write("/v1");
  ASSERT_EQ(cp.Kubectl("apply -f " + f, &out), 0) << out;
  std::this_thread::sleep_for(1s);
  write("[");
  ASSERT_EQ(cp.Kubectl("apply -f " + f, &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] { return warnings().size() == 2; })) << warnings().dump(1);
  EXPECT_EQ((*events)->stats().errors, 0u) << (*events)->stats().last_error;
}

}  // namespace
}  // namespace weft::agent
