// Services pass: Kubernetes Services and ServiceEntry hosts become pb::Service with ports,
// endpoints (from EndpointSlices, else from the selector over Pods) and subsets.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using testing::CompileYaml;
using testing::DiagsOf;
using testing::Dump;
using ::testing::ElementsAre;
using testing::ErrorCount;
using testing::FindService;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr char kNodes[] = R"(apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels:
    topology.kubernetes.io/region: eu-west
    topology.kubernetes.io/zone: eu-west-1a
    topology.istio.io/subzone: rack1
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
  labels:
    topology.kubernetes.io/region: eu-west
    topology.kubernetes.io/zone: eu-west-1b
)";

constexpr char kShop[] = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports:
  - {name: http-web, port: 80, targetPort: http-port}
  - {name: grpc, port: 9090, targetPort: 9091}
  - {name: metrics, port: 15090, appProtocol: http}
  - {name: admin, port: 8081, targetPort: missing-name}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web, version: v1}}
spec:
  nodeName: node-a
  serviceAccountName: web-sa
  containers: [{name: c, ports: [{name: http-port, containerPort: 8080}]}]
status: {phase: Running, podIP: 10.1.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, labels: {app: web, version: v2}}
spec:
  nodeName: node-b
  containers: [{name: c, ports: [{name: http-port, containerPort: 8088}]}]
status:
  phase: Pending
  podIPs: [{ip: 10.1.0.2}, {ip: "fd00::2"}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-done, namespace: shop, labels: {app: web}}
status: {phase: Succeeded, podIP: 10.1.0.99}
---
apiVersion: v1
kind: Pod
metadata: {name: web-noip, namespace: shop, labels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: shop, labels: {app: other}}
status: {podIP: 10.1.0.50}
---
apiVersion: v1
kind: Pod
metadata: {name: web-elsewhere, namespace: elsewhere, labels: {app: web}}
status: {podIP: 10.2.0.1}
)";

TEST(Services, HostnamePortsAndAppProtocol) {
  auto res = CompileYaml({kShop});
  const pb::Service* s = FindService(res.snapshot, "web.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name(), "web");
  EXPECT_EQ(s->namespace_(), "shop");
  EXPECT_EQ(s->kind(), pb::SERVICE_KIND_KUBERNETES);
  EXPECT_EQ(s->location(), pb::LOCATION_MESH_INTERNAL);
  EXPECT_EQ(s->resolution(), pb::RESOLUTION_STATIC);
  EXPECT_THAT(s->vips(), ElementsAre("10.96.0.10"));
  EXPECT_THAT(s->selector(), UnorderedElementsAre(Pair("app", "web")));
  EXPECT_EQ(s->source().kind(), "Service");
  EXPECT_EQ(s->source().file(), "in0.yaml");
  EXPECT_EQ(s->source().line(), 5u);
  // Sorted by port; protocol from appProtocol, else the name's prefix, as Istio infers it.
  ASSERT_EQ(s->ports_size(), 4);
  EXPECT_EQ(s->ports(0).port(), 80u);
  EXPECT_EQ(s->ports(0).app_protocol(), "http");
  EXPECT_EQ(s->ports(0).target_port_name(), "http-port");
  EXPECT_EQ(s->ports(0).target_port(), 0u);
  EXPECT_EQ(s->ports(1).port(), 8081u);
  EXPECT_EQ(s->ports(1).app_protocol(), "");
  EXPECT_EQ(s->ports(2).port(), 9090u);
  EXPECT_EQ(s->ports(2).app_protocol(), "grpc");
  EXPECT_EQ(s->ports(2).target_port(), 9091u);
  EXPECT_EQ(s->ports(3).port(), 15090u);
  EXPECT_EQ(s->ports(3).app_protocol(), "http");
  EXPECT_EQ(s->ports(3).target_port(), 15090u);
  EXPECT_EQ(s->ports(3).protocol(), "TCP");
}

TEST(Services, EndpointsFromSelectorWhenThereIsNoSlice) {
  auto res = CompileYaml({kNodes, kShop});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::Service* s = FindService(res.snapshot, "web.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  // Only this namespace's matching Pods with an IP that are not finished; sorted by address.
  ASSERT_EQ(s->endpoints_size(), 3);
  const pb::Endpoint& a = s->endpoints(0);
  EXPECT_EQ(a.address(), "10.1.0.11");
  EXPECT_EQ(a.workload_uid(), "shop/web-1");
  EXPECT_TRUE(a.ready());
  EXPECT_EQ(a.node(), "node-a");
  EXPECT_EQ(a.identity(), "spiffe://cluster.local/ns/shop/sa/web-sa");
  EXPECT_THAT(a.labels(), UnorderedElementsAre(Pair("app", "web"), Pair("version", "v1")));
  EXPECT_EQ(a.locality().region(), "eu-west");
  EXPECT_EQ(a.locality().zone(), "eu-west-1a");
  EXPECT_EQ(a.locality().subzone(), "rack1");
  EXPECT_EQ(a.source().kind(), "Pod");
  EXPECT_EQ(a.source().name(), "web-1");
  // Service port -> endpoint port: by container port name, by number, or the port itself; a
  // name the Pod does not have gives no mapping for that port.
  EXPECT_THAT(a.ports(),
              UnorderedElementsAre(Pair(80u, 8080u), Pair(9090u, 9091u), Pair(15090u, 15090u)));
  const pb::Endpoint& b = s->endpoints(1);
  EXPECT_EQ(b.address(), "10.1.0.2");
  EXPECT_FALSE(b.ready());  // Pending
  EXPECT_EQ(b.identity(), "spiffe://cluster.local/ns/shop/sa/default");
  EXPECT_THAT(b.ports(),
              UnorderedElementsAre(Pair(80u, 8088u), Pair(9090u, 9091u), Pair(15090u, 15090u)));
  EXPECT_EQ(s->endpoints(2).address(), "fd00::2");
  EXPECT_EQ(s->endpoints(2).workload_uid(), "shop/web-2");
}

constexpr char kSlice[] = R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports:
- {name: http-web, port: 8080}
- {name: grpc, port: 9091}
endpoints:
- addresses: [10.1.0.11]
  nodeName: node-a
  zone: eu-west-1a
  targetRef: {kind: Pod, name: web-1, namespace: shop}
- addresses: [10.1.0.77]
  conditions: {ready: false}
  nodeName: node-b
  targetRef: {kind: Pod, name: not-in-input}
- addresses: [10.1.0.78]
  zone: zone-from-slice
)";

TEST(Services, EndpointsFromSlicesWithPodLabelsViaTargetRef) {
  auto res = CompileYaml({kNodes, kShop, kSlice});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::Service* s = FindService(res.snapshot, "web.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  // With a slice, the slice is the truth: the selector's other Pods are not endpoints.
  ASSERT_EQ(s->endpoints_size(), 3);
  const pb::Endpoint& a = s->endpoints(0);
  EXPECT_EQ(a.address(), "10.1.0.11");
  EXPECT_EQ(a.workload_uid(), "shop/web-1");
  EXPECT_THAT(a.labels(), UnorderedElementsAre(Pair("app", "web"), Pair("version", "v1")));
  EXPECT_EQ(a.identity(), "spiffe://cluster.local/ns/shop/sa/web-sa");
  EXPECT_EQ(a.node(), "node-a");
  EXPECT_EQ(a.locality().zone(), "eu-west-1a");
  EXPECT_EQ(a.locality().region(), "eu-west");
  EXPECT_TRUE(a.ready());
  EXPECT_EQ(a.source().kind(), "EndpointSlice");
  EXPECT_EQ(a.source().field(), "endpoints[0]");
  // Slice ports are matched to Service ports by name.
  EXPECT_THAT(a.ports(), UnorderedElementsAre(Pair(80u, 8080u), Pair(9090u, 9091u)));
  const pb::Endpoint& b = s->endpoints(1);
  EXPECT_EQ(b.address(), "10.1.0.77");
  EXPECT_FALSE(b.ready());
  EXPECT_EQ(b.workload_uid(), "shop/not-in-input");  // the slice's namespace
  EXPECT_THAT(b.labels(), IsEmpty());
  EXPECT_EQ(b.locality().zone(), "eu-west-1b");  // from the Node
  const pb::Endpoint& c = s->endpoints(2);
  EXPECT_EQ(c.workload_uid(), "");
  EXPECT_EQ(c.locality().zone(), "zone-from-slice");
}

TEST(Services, SliceEndpointWithoutNodeKeepsThePodsLocality) {
  auto res = CompileYaml({kNodes, kShop, R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-x
  namespace: shop
  labels: {kubernetes.io/service-name: web}
endpoints:
- addresses: [10.1.0.11]
  targetRef: {kind: Pod, name: web-1}
)"});
  const pb::Service* s = FindService(res.snapshot, "web.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->endpoints_size(), 1);
  EXPECT_EQ(s->endpoints(0).node(), "node-a");
  EXPECT_EQ(s->endpoints(0).locality().zone(), "eu-west-1a");
  EXPECT_EQ(s->endpoints(0).locality().region(), "eu-west");
}

TEST(Services, SlicesOfSeveralFilesMerge) {
  auto res = CompileYaml({kShop, kSlice, R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-def
  namespace: shop
  labels: {kubernetes.io/service-name: web}
endpoints:
- addresses: [10.1.0.1]
)"});
  const pb::Service* s = FindService(res.snapshot, "web.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  std::vector<std::string> addrs;
  for (const auto& e : s->endpoints()) addrs.push_back(e.address());
  EXPECT_THAT(addrs, ElementsAre("10.1.0.1", "10.1.0.11", "10.1.0.77", "10.1.0.78"));
}

TEST(Services, HeadlessAndNoSelector) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432, name: tcp-pg}]
---
apiVersion: v1
kind: Service
metadata: {name: manual, namespace: shop}
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db}}
status: {podIP: 10.1.0.5}
)"});
  const pb::Service* db = FindService(res.snapshot, "db.shop.svc.cluster.local");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->resolution(), pb::RESOLUTION_NONE);
  EXPECT_THAT(db->vips(), IsEmpty());
  EXPECT_EQ(db->ports(0).app_protocol(), "tcp");
  ASSERT_EQ(db->endpoints_size(), 1);
  EXPECT_THAT(db->endpoints(0).ports(), ElementsAre(Pair(5432u, 5432u)));
  const pb::Service* manual = FindService(res.snapshot, "manual.shop.svc.cluster.local");
  ASSERT_NE(manual, nullptr);
  EXPECT_EQ(manual->endpoints_size(), 0);
}

TEST(Services, WaypointFromServiceLabelOverNamespaceLabel) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/use-waypoint: ns-wp}}
---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: shop, labels: {weft.dev/use-waypoint: svc-wp}}
spec: {ports: [{port: 80}]}
)"});
  EXPECT_EQ(FindService(res.snapshot, "a.shop.svc.cluster.local")->waypoint(), "ns-wp");
  EXPECT_EQ(FindService(res.snapshot, "b.shop.svc.cluster.local")->waypoint(), "svc-wp");
}

// weft's retry budget: weft.dev/retry-budget on a Service, else on the root namespace's
// Namespace (mesh-wide default); "off" on a Service opts it out; none: no budget (Istio's).
constexpr char kBudgets[] = R"(apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
  annotations: {weft.dev/retry-budget: "ratio=0.1,min-per-second=5"}
---
apiVersion: v1
kind: Service
metadata: {name: mesh-default, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: own
  namespace: shop
  annotations: {weft.dev/retry-budget: "ratio=0.5,ttl=30s"}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: opted-out
  namespace: shop
  annotations: {weft.dev/retry-budget: "off"}
spec: {ports: [{port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ext
  namespace: shop
  annotations: {weft.dev/retry-budget: "min-per-second=1"}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
)";

TEST(Services, RetryBudgetFromAnnotations) {
  auto res = CompileYaml({kBudgets});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::Service* mesh = FindService(res.snapshot, "mesh-default.shop.svc.cluster.local");
  ASSERT_TRUE(mesh->has_retry_budget());
  EXPECT_DOUBLE_EQ(mesh->retry_budget().ratio(), 0.1);
  EXPECT_EQ(mesh->retry_budget().min_retries_per_second(), 5u);
  EXPECT_EQ(mesh->retry_budget().ttl_ms(), 10000u);
  EXPECT_EQ(mesh->retry_budget().source().kind(), "Namespace");
  EXPECT_EQ(mesh->retry_budget().source().name(), "istio-system");
  EXPECT_EQ(mesh->retry_budget().source().field(), "metadata.annotations.weft.dev/retry-budget");
  const pb::Service* own = FindService(res.snapshot, "own.shop.svc.cluster.local");
  ASSERT_TRUE(own->has_retry_budget());
  EXPECT_DOUBLE_EQ(own->retry_budget().ratio(), 0.5);
  EXPECT_EQ(own->retry_budget().min_retries_per_second(), 10u);  // its own defaults, not mesh's
  EXPECT_EQ(own->retry_budget().ttl_ms(), 30000u);
  EXPECT_EQ(own->retry_budget().source().kind(), "Service");
  EXPECT_EQ(own->retry_budget().source().name(), "own");
  EXPECT_FALSE(FindService(res.snapshot, "opted-out.shop.svc.cluster.local")->has_retry_budget());
  const pb::Service* ext = FindService(res.snapshot, "api.example.com");
  ASSERT_TRUE(ext->has_retry_budget());
  EXPECT_EQ(ext->retry_budget().min_retries_per_second(), 1u);
  EXPECT_EQ(ext->retry_budget().source().kind(), "ServiceEntry");
}

TEST(Services, NoRetryBudgetByDefault) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Service
metadata: {name: a, namespace: shop}
spec: {ports: [{port: 80}]}
)"});
  EXPECT_FALSE(FindService(res.snapshot, "a.shop.svc.cluster.local")->has_retry_budget());
}

// A malformed value is a `value` error naming the annotation; the Service still compiles
// (and is not listed as left out), without that budget: the mesh-wide one applies.
TEST(Services, MalformedRetryBudgetDropsOnlyTheAnnotation) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
  annotations: {weft.dev/retry-budget: "ratio=0.3"}
---
apiVersion: v1
kind: Service
metadata:
  name: a
  namespace: shop
  annotations: {weft.dev/retry-budget: "ratio=lots"}
spec: {ports: [{port: 80}]}
)"});
  auto errors = DiagsOf(res.snapshot, "value");
  ASSERT_THAT(errors, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(errors[0].severity(), pb::Diagnostic::ERROR);
  EXPECT_EQ(errors[0].source().kind(), "Service");
  EXPECT_EQ(errors[0].source().field(), "metadata.annotations.weft.dev/retry-budget");
  EXPECT_NE(errors[0].message().find("ratio \"lots\""), std::string::npos) << errors[0].message();
  EXPECT_TRUE(res.has_errors);
  EXPECT_THAT(res.snapshot.excluded(), IsEmpty());
  const pb::Service* a = FindService(res.snapshot, "a.shop.svc.cluster.local");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->has_retry_budget());
  EXPECT_DOUBLE_EQ(a->retry_budget().ratio(), 0.3);
}

TEST(Services, RetryBudgetOnNamespaces) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
  annotations: {weft.dev/retry-budget: "ttl=2h"}
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations: {weft.dev/retry-budget: "ratio=0.1"}
---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: shop}
spec: {ports: [{port: 80}]}
)"});
  auto diags = DiagsOf(res.snapshot, "value");
  ASSERT_THAT(diags, SizeIs(2)) << Dump(res.snapshot);
  // Sorted by file position: the root namespace's error first, once (not once per Service).
  EXPECT_EQ(diags[0].severity(), pb::Diagnostic::ERROR);
  EXPECT_EQ(diags[0].source().name(), "istio-system");
  EXPECT_EQ(diags[1].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(diags[1].source().name(), "shop");
  EXPECT_THAT(res.snapshot.excluded(), IsEmpty());
  EXPECT_FALSE(FindService(res.snapshot, "a.shop.svc.cluster.local")->has_retry_budget());
}

TEST(Services, ExternalNameWarns) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Service
metadata: {name: ext, namespace: shop}
spec: {type: ExternalName, externalName: api.example.com}
)"});
  auto w = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(w, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(w[0].source().field(), "spec.type");
}

constexpr char kSubsets[] = R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  subsets:
  - name: v2
    labels: {version: v2}
  - name: v1
    labels: {version: v1}
  - name: all
  - name: v3
    labels: {version: v3}
)";

TEST(Services, SubsetsSelectEndpointsByLabels) {
  auto res = CompileYaml({kShop, kSubsets});
  const pb::Service* s = FindService(res.snapshot, "web.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  // Endpoints: 10.1.0.11 (v1), 10.1.0.2 (v2), fd00::2 (v2).
  ASSERT_EQ(s->subsets_size(), 4);
  EXPECT_EQ(s->subsets(0).name(), "v2");  // in the DestinationRule's order
  EXPECT_THAT(s->subsets(0).endpoint_indexes(), ElementsAre(1u, 2u));
  EXPECT_THAT(s->subsets(0).labels(), ElementsAre(Pair("version", "v2")));
  EXPECT_EQ(s->subsets(0).source().kind(), "DestinationRule");
  EXPECT_EQ(s->subsets(0).source().field(), "spec.subsets[0]");
  EXPECT_EQ(s->subsets(1).name(), "v1");
  EXPECT_THAT(s->subsets(1).endpoint_indexes(), ElementsAre(0u));
  EXPECT_THAT(s->subsets(2).endpoint_indexes(), ElementsAre(0u, 1u, 2u));  // no labels: all
  EXPECT_THAT(s->subsets(3).endpoint_indexes(), IsEmpty());
  // A subset that selects nothing is worth a warning, not an error.
  auto w = DiagsOf(res.snapshot, code::kReference);
  ASSERT_THAT(w, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(w[0].source().field(), "spec.subsets[3]");
  EXPECT_EQ(w[0].message(),
            "subset \"v3\" selects none of the 3 endpoints of web.shop.svc.cluster.local");
}

TEST(Services, SubsetsFollowSliceEndpointsAndTheirPodLabels) {
  auto res = CompileYaml({kShop, kSlice, kSubsets});
  const pb::Service* s = FindService(res.snapshot, "web.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  // Slice endpoints: 10.1.0.11 (pod web-1, v1), 10.1.0.77 and 10.1.0.78 (no pod, no labels).
  EXPECT_THAT(s->subsets(1).endpoint_indexes(), ElementsAre(0u));
  EXPECT_THAT(s->subsets(0).endpoint_indexes(), IsEmpty());
}

constexpr char kEntry[] = R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: shop}
spec:
  hosts: [api.example.com]
  addresses: [192.0.2.0/24]
  ports:
  - {number: 443, name: https, protocol: HTTPS}
  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints:
  - address: 192.0.2.10
    ports: {https: 8443}
    labels: {zone: a}
    locality: us-east/z1/s1
    weight: 3
    serviceAccount: ext-sa
  - address: 192.0.2.9
    locality: us-west
)";

TEST(Services, ServiceEntryHost) {
  auto res = CompileYaml({kEntry});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::Service* s = FindService(res.snapshot, "api.example.com");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->kind(), pb::SERVICE_KIND_SERVICE_ENTRY);
  EXPECT_EQ(s->location(), pb::LOCATION_MESH_EXTERNAL);
  EXPECT_EQ(s->resolution(), pb::RESOLUTION_STATIC);
  EXPECT_THAT(s->vips(), ElementsAre("192.0.2.0/24"));
  ASSERT_EQ(s->ports_size(), 2);
  EXPECT_EQ(s->ports(0).port(), 80u);
  EXPECT_EQ(s->ports(0).target_port(), 8080u);
  EXPECT_EQ(s->ports(0).app_protocol(), "http");
  EXPECT_EQ(s->ports(1).port(), 443u);
  EXPECT_EQ(s->ports(1).app_protocol(), "https");
  ASSERT_EQ(s->endpoints_size(), 2);
  const pb::Endpoint& a = s->endpoints(0);  // sorted by address text: ".10" before ".9"
  EXPECT_EQ(a.address(), "192.0.2.10");
  EXPECT_THAT(a.ports(), UnorderedElementsAre(Pair(443u, 8443u), Pair(80u, 8080u)));
  EXPECT_EQ(a.weight(), 3u);
  EXPECT_EQ(a.identity(), "spiffe://cluster.local/ns/shop/sa/ext-sa");
  EXPECT_EQ(a.locality().region(), "us-east");
  EXPECT_EQ(a.locality().zone(), "z1");
  EXPECT_EQ(a.locality().subzone(), "s1");
  EXPECT_EQ(a.source().field(), "spec.endpoints[0]");
  const pb::Endpoint& b = s->endpoints(1);
  EXPECT_EQ(b.locality().region(), "us-west");
  EXPECT_EQ(b.locality().zone(), "");
  EXPECT_THAT(b.ports(), UnorderedElementsAre(Pair(443u, 443u), Pair(80u, 8080u)));
}

TEST(Services, ServiceEntryWorkloadSelectorPods) {
  auto res = CompileYaml({R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: shop}
spec:
  hosts: [vm.shop.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels: {app: vm}
---
apiVersion: v1
kind: Pod
metadata: {name: vm-1, namespace: shop, labels: {app: vm}}
spec:
  containers: [{name: c, ports: [{name: http, containerPort: 8000}]}]
status: {podIP: 10.1.0.40, phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: vm-2, namespace: other, labels: {app: vm}}
status: {podIP: 10.1.0.41}
)"});
  const pb::Service* s = FindService(res.snapshot, "vm.shop.internal");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->location(), pb::LOCATION_MESH_INTERNAL);
  ASSERT_EQ(s->endpoints_size(), 1);
  EXPECT_EQ(s->endpoints(0).address(), "10.1.0.40");
  EXPECT_EQ(s->endpoints(0).workload_uid(), "shop/vm-1");
  EXPECT_THAT(s->endpoints(0).ports(), ElementsAre(Pair(80u, 8000u)));
}

TEST(Services, SecondProviderOfAHostWarnsAndTheFirstWins) {
  auto res = CompileYaml({kShop, R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: clash, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [web.shop.svc.cluster.local]
  ports: [{number: 80, name: http}]
  resolution: DNS
)"});
  const pb::Service* s = FindService(res.snapshot, "web.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->kind(), pb::SERVICE_KIND_KUBERNETES);
  auto c = DiagsOf(res.snapshot, code::kConflict);
  ASSERT_THAT(c, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(c[0].source().name(), "clash");
  EXPECT_EQ(c[0].source().field(), "spec.hosts[0]");
}

TEST(Services, EveryServiceAndEntryHostIsListedSorted) {
  auto res = CompileYaml({kEntry, kShop, R"(apiVersion: v1
kind: Service
metadata: {name: aaa, namespace: zzz}
spec: {ports: [{port: 1}]}
)"});
  std::vector<std::string> hosts;
  for (const auto& s : res.snapshot.services()) hosts.push_back(s.hostname());
  EXPECT_THAT(hosts, ElementsAre("aaa.zzz.svc.cluster.local", "api.example.com",
                                 "web.shop.svc.cluster.local"));
}

}  // namespace
}  // namespace weft::policy
