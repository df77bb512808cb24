// KubeSource against a real API server with the upstream CRDs of deploy/crds: what
// `kubectl apply`/`delete` does reaches the compiled snapshot; a VirtualService the API server
// accepts but weft rejects keeps its last good version in force and is reported.

#include "agent/source/kube_source.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <fstream>
#include <thread>

#include "tests/testing/kube_control_plane.h"

namespace weft::agent {
namespace {

using namespace std::chrono_literals;

class KubeSourceTest : public ::testing::Test {
 protected:
  // Drains the source into the store until `pred` holds for the snapshot.
  bool WaitFor(KubeSource& src, ConfigStore& store,
               const std::function<bool(const policy::pb::MeshSnapshot&)>& pred,
               std::chrono::milliseconds timeout = 20s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (const FileResult& r : src.Drain(store)) {
        for (const auto& d : r.diagnostics) last_diagnostics_ += r.file + ": " + d.message + "\n";
      }
      if (src.synced() && pred(store.Snapshot())) return true;
      if (std::chrono::steady_clock::now() > end) return false;
      pollfd p{src.fd(), POLLIN, 0};
      poll(&p, 1, 100);
    }
  }
  void Apply(testing::KubeControlPlane& cp, const std::string& yaml) {
    std::string f = cp.dir + "/apply.yaml";
    std::ofstream(f) << yaml;
    std::string out;
    ASSERT_EQ(cp.Kubectl("apply -f " + f, &out), 0) << out;
  }
  std::string last_diagnostics_;
};

const policy::pb::Service* FindService(const policy::pb::MeshSnapshot& s, const std::string& h) {
  for (const auto& svc : s.services()) {
    if (svc.hostname() == h) return &svc;
  }
  return nullptr;
}

const policy::pb::RouteTable* FindRoutes(const policy::pb::MeshSnapshot& s, const std::string& h) {
  for (const auto& t : s.route_tables()) {
    if (t.hostname() == h) return &t;
  }
  return nullptr;
}

const policy::pb::Workload* FindWorkload(const policy::pb::MeshSnapshot& s,
                                         const std::string& uid) {
  for (const auto& w : s.workloads()) {
    if (w.uid() == uid) return &w;
  }
  return nullptr;
}

constexpr char kHost[] = "api.demo.svc.cluster.local";

TEST_F(KubeSourceTest, ApplyAndDeleteReachTheSnapshotAndRejectedObjectsKeepTheLastGood) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  std::string out;
  ASSERT_EQ(
      cp.Kubectl("apply --server-side -k " + std::string(WEFT_SOURCE_DIR) + "/deploy/crds", &out),
      0)
      << out;
  ASSERT_EQ(cp.Kubectl("wait --for condition=established --timeout 30s crd --all", &out), 0) << out;
  Apply(cp, R"(apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {weft.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: ServiceAccount  # no controller manager in this test to make it
metadata: {name: default, namespace: demo}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: demo}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: api-1, namespace: demo, labels: {app: api, version: v1}}
spec:
  nodeName: node1
  containers: [{name: app, image: example.com/api}]
)");
  ASSERT_EQ(
      cp.Kubectl(
          R"(patch pod api-1 -n demo --subresource=status --type=merge -p '{"status":{"phase":"Running","podIP":"10.244.0.5","podIPs":[{"ip":"10.244.0.5"}]}}')",
          &out),
      0)
      << out;

  auto cfg = kube::LoadKubeconfig(cp.kubeconfig());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  auto client = kube::Client::Create(*cfg);
  ASSERT_TRUE(client.ok());
  auto src = KubeSource::Create(*client);
  ASSERT_TRUE(src.ok()) << src.status();
  ConfigStore store;
  ASSERT_TRUE(WaitFor(**src, store, [](const auto& s) {
    const auto* w = FindWorkload(s, "demo/api-1");
    return FindService(s, kHost) && w && w->addresses_size() == 1;
  })) << (*src)->Status().dump(2);
  const auto* svc = FindService(store.Snapshot(), kHost);
  ASSERT_EQ(svc->vips_size(), 1);
  std::string vip;
  ASSERT_EQ(cp.Kubectl("get svc api -n demo -o jsonpath={.spec.clusterIP}", &vip), 0);
  EXPECT_EQ(svc->vips(0), vip) << "the ClusterIP the API server assigned";
  EXPECT_EQ(FindWorkload(store.Snapshot(), "demo/api-1")->addresses(0), "10.244.0.5");
  EXPECT_TRUE((*src)->synced());
  // Connected is a state, not a latch: a watch that fails (CI saw one on an API server a few
  // seconds old) is retried after a backoff, connected again once the API server answers it
  // (Reflector.AReopenedWatchIsConnectedBeforeItsFirstEvent), and the status keeps the error.
  // Wait for every served kind's watch to be open again; if not, the status says which and why.
  auto connected_by = std::chrono::steady_clock::now() + 20s;
  while (!(*src)->connected() && std::chrono::steady_clock::now() < connected_by) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE((*src)->connected()) << (*src)->Status().dump(2);

  Apply(cp, R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: demo}
spec:
  hosts: [api]
  http:
  - match: [{uri: {prefix: /v1}}]
    route: [{destination: {host: api}}]
)");
  ASSERT_TRUE(WaitFor(**src, store, [](const auto& s) {
    const auto* t = FindRoutes(s, kHost);
    return t && t->http_routes_size() == 1;
  }));

  // Valid for the CRD's schema, not for weft (RE2 cannot compile the regex): the API server
  // stores it, the agent reports it and keeps the last good version.
  Apply(cp, R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: demo}
spec:
  hosts: [api]
  http:
  - match: [{uri: {regex: "(("}}]
    route: [{destination: {host: api}}]
)");
  ASSERT_TRUE(WaitFor(**src, store, [&](const auto&) {
    return last_diagnostics_.find("k8s:VirtualService/demo/api") != std::string::npos;
  })) << last_diagnostics_;
  const auto* t = FindRoutes(store.Snapshot(), kHost);
  ASSERT_NE(t, nullptr) << "the last good VirtualService stays in force";
  EXPECT_EQ(t->http_routes(0).matches(0).uri().prefix(), "/v1");

  ASSERT_EQ(cp.Kubectl("delete virtualservice api -n demo", &out), 0) << out;
  ASSERT_TRUE(WaitFor(**src, store, [](const auto& s) { return FindRoutes(s, kHost) == nullptr; }))
      << "deleted: its routes are gone";
  ASSERT_EQ(cp.Kubectl("delete pod api-1 -n demo --grace-period=0 --force", &out), 0) << out;
  ASSERT_TRUE(WaitFor(**src, store,
                      [](const auto& s) { return FindWorkload(s, "demo/api-1") == nullptr; }));
  EXPECT_NE(FindService(store.Snapshot(), kHost), nullptr);
}

}  // namespace
}  // namespace weft::agent
