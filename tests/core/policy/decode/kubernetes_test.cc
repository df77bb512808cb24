// Decoding of the Kubernetes kinds: Namespace, Service, EndpointSlice, Pod, ServiceAccount,
// Node. Each field the decoder reads is checked, and each value check has a bad input.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using testing::DecodeSingle;
using testing::DecodeSpec;
using testing::Dump;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::OfCode;
using ::testing::Pair;
using ::testing::SizeIs;

TEST(Service, PortsSelectorAndAddresses) {
  auto d = DecodeSingle(R"(apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  type: ClusterIP
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, "fd00::10"]
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
    appProtocol: http
  - name: grpc
    port: 9090
    targetPort: grpc-port
    protocol: TCP
  - name: dns
    port: 53
    protocol: UDP
    nodePort: 30053
  sessionAffinity: None
)");
  ASSERT_FALSE(d.rejected) << Dump(d.diagnostics);
  ASSERT_TRUE(d.resource);
  EXPECT_EQ(d.resource->kind, Kind::kService);
  EXPECT_EQ(d.resource->meta.name, "web");
  EXPECT_EQ(d.resource->meta.ns, "shop");
  EXPECT_THAT(d.resource->meta.labels, ElementsAre(Pair("app", "web")));
  EXPECT_EQ(d.resource->ref.line, 1u);
  EXPECT_EQ(d.resource->ref.api_version, "v1");
  const auto& s = d.resource->as<ServiceSpec>();
  EXPECT_EQ(s.type, "ClusterIP");
  EXPECT_FALSE(s.headless);
  EXPECT_THAT(s.cluster_ips, ElementsAre("10.96.0.10", "fd00::10"));
  ASSERT_TRUE(s.selector);
  EXPECT_THAT(*s.selector, ElementsAre(Pair("app", "web")));
  ASSERT_THAT(s.ports, SizeIs(3));
  EXPECT_EQ(s.ports[0].name, "http");
  EXPECT_EQ(s.ports[0].port, 80u);
  EXPECT_EQ(s.ports[0].target_port, 8080u);
  EXPECT_EQ(s.ports[0].target_port_name, "");
  EXPECT_EQ(s.ports[0].protocol, "TCP");
  EXPECT_EQ(s.ports[0].app_protocol, "http");
  EXPECT_EQ(s.ports[0].pos.field, "spec.ports[0]");
  EXPECT_EQ(s.ports[0].pos.mark.line, 14u);
  EXPECT_EQ(s.ports[1].target_port, 0u);
  EXPECT_EQ(s.ports[1].target_port_name, "grpc-port");
  // No targetPort: the port itself, as Kubernetes defaults it.
  EXPECT_EQ(s.ports[2].target_port, 53u);
  EXPECT_EQ(s.ports[2].protocol, "UDP");
}

TEST(Service, ClusterIPNoneIsHeadless) {
  auto s = DecodeSpec<ServiceSpec>(R"(apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  clusterIP: None
  ports: [{port: 5432}]
)");
  EXPECT_TRUE(s.headless);
  EXPECT_THAT(s.cluster_ips, IsEmpty());
  EXPECT_FALSE(s.selector);
  EXPECT_EQ(s.ports[0].name, "");
  EXPECT_EQ(s.ports[0].target_port, 5432u);
}

TEST(Service, ExternalName) {
  auto s = DecodeSpec<ServiceSpec>(R"(apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: api.example.com
)");
  EXPECT_EQ(s.type, "ExternalName");
  EXPECT_EQ(s.external_name, "api.example.com");
}

TEST(Service, BadValuesAreErrorsAtTheirField) {
  auto d = DecodeSingle(R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: Internal
  clusterIP: 10.96.0.300
  ports:
  - name: a
    port: 80
    targetPort: 70000
  - name: b
    port: 81
    targetPort: Not_A_Name
  - name: c
    port: 80
  - name: d
    targetPort: 9000
  - name: e
    port: 82
    protocol: HTTP
)");
  EXPECT_TRUE(d.rejected);
  EXPECT_FALSE(d.resource);
  std::vector<std::string> got;
  for (const auto& x : d.diagnostics) {
    got.push_back(x.code + " " + std::to_string(x.line) + ":" + std::to_string(x.column) + " " +
                  x.field);
  }
  EXPECT_THAT(
      got,
      ElementsAre("value 5:9 spec.type", "value 6:14 spec.clusterIP",
                  "value 10:17 spec.ports[0].targetPort", "value 13:17 spec.ports[1].targetPort",
                  "conflict 15:11 spec.ports[2].port", "missing-field 16:5 spec.ports[3].port",
                  "value 20:15 spec.ports[4].protocol"))
      << Dump(d.diagnostics);
}

TEST(Service, SpecIsRequired) {
  auto d = DecodeSingle("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n");
  EXPECT_TRUE(d.rejected);
  ASSERT_THAT(d.diagnostics, SizeIs(1));
  EXPECT_EQ(d.diagnostics[0].code, "missing-field");
  EXPECT_EQ(d.diagnostics[0].field, "spec");
}

constexpr char kSlice[] = R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: shop
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
- name: http
  port: 8080
  protocol: TCP
  appProtocol: http
endpoints:
- addresses: [10.1.0.5]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-a
  zone: z1
  hostname: web-0
  targetRef: {kind: Pod, name: web-0, namespace: shop, uid: abc}
- addresses: [10.1.0.6, 10.1.0.7]
  conditions: {ready: false}
- addresses: [10.1.0.8]
)";

TEST(EndpointSlice, EndpointsPortsAndTargetRefs) {
  auto s = DecodeSpec<EndpointSliceSpec>(kSlice);
  EXPECT_EQ(s.service_name, "web");
  EXPECT_EQ(s.address_type, "IPv4");
  ASSERT_THAT(s.ports, SizeIs(1));
  EXPECT_EQ(s.ports[0].name, "http");
  EXPECT_EQ(s.ports[0].port, 8080u);
  ASSERT_THAT(s.endpoints, SizeIs(3));
  const auto& e0 = s.endpoints[0];
  EXPECT_THAT(e0.addresses, ElementsAre("10.1.0.5"));
  EXPECT_TRUE(e0.ready);
  EXPECT_EQ(e0.node, "node-a");
  EXPECT_EQ(e0.zone, "z1");
  EXPECT_EQ(e0.hostname, "web-0");
  EXPECT_EQ(e0.pod, "web-0");
  EXPECT_EQ(e0.pod_ns, "shop");
  EXPECT_EQ(e0.pos.field, "endpoints[0]");
  EXPECT_EQ(e0.pos.mark.line, 15u);
  EXPECT_THAT(s.endpoints[1].addresses, ElementsAre("10.1.0.6", "10.1.0.7"));
  EXPECT_FALSE(s.endpoints[1].ready);
  EXPECT_EQ(s.endpoints[1].pod, "");
  // No conditions: ready, as Kubernetes reads an unset condition.
  EXPECT_TRUE(s.endpoints[2].ready);
}

TEST(EndpointSlice, WithoutServiceNameLabelIsRejected) {
  auto d = DecodeSingle(R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: orphan
addressType: IPv4
endpoints:
- addresses: [10.1.0.5]
)");
  EXPECT_TRUE(d.rejected);
  auto missing = OfCode(d.diagnostics, code::kMissingField);
  ASSERT_THAT(missing, SizeIs(1)) << Dump(d.diagnostics);
  EXPECT_EQ(missing[0].field, "metadata");
  EXPECT_EQ(missing[0].line, 4u);
}

TEST(EndpointSlice, BadAddressesAndMissingAddresses) {
  auto d = DecodeSingle(R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-x
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
- addresses: [10.1.0.5, 10.1.0.999]
- nodeName: "n"
)");
  EXPECT_TRUE(d.rejected);
  ASSERT_THAT(d.diagnostics, SizeIs(2)) << Dump(d.diagnostics);
  EXPECT_EQ(d.diagnostics[0].code, "value");
  EXPECT_EQ(d.diagnostics[0].field, "endpoints[0].addresses[1]");
  EXPECT_EQ(d.diagnostics[0].line, 8u);
  EXPECT_EQ(d.diagnostics[0].column, 25u);
  EXPECT_EQ(d.diagnostics[0].message, "invalid IP address \"10.1.0.999\"");
  EXPECT_EQ(d.diagnostics[1].code, "missing-field");
  EXPECT_EQ(d.diagnostics[1].field, "endpoints[1].addresses");
}

TEST(EndpointSlice, FqdnSlicesTakeNames) {
  auto s = DecodeSpec<EndpointSliceSpec>(R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ext
  labels: {kubernetes.io/service-name: ext}
addressType: FQDN
endpoints:
- addresses: [db.example.com]
)");
  EXPECT_EQ(s.address_type, "FQDN");
  EXPECT_THAT(s.endpoints[0].addresses, ElementsAre("db.example.com"));
}

constexpr char kPod[] = R"(apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: shop
  labels: {app: web, version: v1}
  uid: "1234"
  ownerReferences: [{kind: ReplicaSet, name: web-1}]
spec:
  nodeName: node-a
  serviceAccountName: web-sa
  containers:
  - name: app
    image: web:1
    ports:
    - name: http-port
      containerPort: 8080
      protocol: TCP
    - containerPort: 9000
  - name: sidecar
    image: s:1
    ports:
    - name: metrics
      containerPort: 15090
  restartPolicy: Always
status:
  phase: Running
  podIP: 10.1.0.5
  podIPs:
  - ip: 10.1.0.5
  - ip: "fd00::5"
  hostIP: 192.168.1.10
  conditions: [{type: Ready, status: "True"}]
)";

TEST(Pod, IdentityAddressesAndNamedPorts) {
  auto d = DecodeSingle(kPod);
  ASSERT_FALSE(d.rejected) << Dump(d.diagnostics);
  ASSERT_TRUE(d.resource);
  EXPECT_THAT(d.resource->meta.labels, ElementsAre(Pair("app", "web"), Pair("version", "v1")));
  const auto& p = d.resource->as<PodSpec>();
  EXPECT_EQ(p.node, "node-a");
  EXPECT_EQ(p.service_account, "web-sa");
  EXPECT_THAT(p.ips, ElementsAre("10.1.0.5", "fd00::5"));
  EXPECT_EQ(p.phase, "Running");
  EXPECT_THAT(p.named_ports, ElementsAre(Pair("http-port", 8080u), Pair("metrics", 15090u)));
  EXPECT_FALSE(p.host_network);
}

TEST(Pod, Defaults) {
  auto p = DecodeSpec<PodSpec>(R"(apiVersion: v1
kind: Pod
metadata: {name: bare}
spec:
  hostNetwork: true
  containers: [{name: c, image: i}]
)");
  EXPECT_EQ(p.service_account, "default");
  EXPECT_THAT(p.ips, IsEmpty());
  EXPECT_EQ(p.phase, "");
  EXPECT_TRUE(p.host_network);
}

TEST(Pod, DeprecatedServiceAccountField) {
  auto p = DecodeSpec<PodSpec>(R"(apiVersion: v1
kind: Pod
metadata: {name: old}
spec:
  serviceAccount: legacy
)");
  EXPECT_EQ(p.service_account, "legacy");
  auto both = DecodeSpec<PodSpec>(R"(apiVersion: v1
kind: Pod
metadata: {name: both}
spec:
  serviceAccount: legacy
  serviceAccountName: current
)");
  EXPECT_EQ(both.service_account, "current");
}

TEST(Pod, BadPodIpIsAnError) {
  auto d = DecodeSingle(R"(apiVersion: v1
kind: Pod
metadata: {name: p}
status:
  podIP: 10.0.0.x
  podIPs:
  - ip: nope
)");
  EXPECT_TRUE(d.rejected);
  ASSERT_THAT(d.diagnostics, SizeIs(2)) << Dump(d.diagnostics);
  EXPECT_EQ(d.diagnostics[0].field, "status.podIP");
  EXPECT_EQ(d.diagnostics[0].line, 5u);
  EXPECT_EQ(d.diagnostics[1].field, "status.podIPs[0].ip");
  EXPECT_EQ(d.diagnostics[1].line, 7u);
}

TEST(Node, LabelsPodCidrAndInternalAddresses) {
  auto d = DecodeSingle(R"(apiVersion: v1
kind: Node
metadata:
  name: node-a
  namespace: ignored
  labels:
    topology.kubernetes.io/region: eu-west
    topology.kubernetes.io/zone: eu-west-1a
spec:
  podCIDR: 10.1.0.0/24
  podCIDRs: [10.1.0.0/24]
  providerID: aws://x
status:
  addresses:
  - {type: InternalIP, address: 192.168.1.10}
  - {type: Hostname, address: node-a}
  - {type: InternalIP, address: "fd00::a"}
  capacity: {cpu: "4"}
)");
  ASSERT_FALSE(d.rejected) << Dump(d.diagnostics);
  ASSERT_TRUE(d.resource);
  EXPECT_EQ(d.resource->meta.ns, "");  // cluster-scoped
  EXPECT_EQ(d.resource->meta.labels.at("topology.kubernetes.io/zone"), "eu-west-1a");
  const auto& n = d.resource->as<NodeSpec>();
  EXPECT_EQ(n.pod_cidr, "10.1.0.0/24");
  EXPECT_THAT(n.addresses, ElementsAre("192.168.1.10", "fd00::a"));
}

TEST(Node, BadPodCidr) {
  auto d = DecodeSingle(
      "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nspec:\n  podCIDR: 10.1.0.0/40\n");
  EXPECT_TRUE(d.rejected);
  ASSERT_THAT(d.diagnostics, SizeIs(1));
  EXPECT_EQ(d.diagnostics[0].field, "spec.podCIDR");
  EXPECT_EQ(d.diagnostics[0].line, 5u);
  EXPECT_EQ(d.diagnostics[0].column, 12u);
}

TEST(Namespace, LabelsAndStatus) {
  auto d = DecodeSingle(R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {weft.dev/dataplane-mode: ambient}
spec:
  finalizers: [kubernetes]
status:
  phase: Active
)");
  ASSERT_FALSE(d.rejected) << Dump(d.diagnostics);
  ASSERT_TRUE(d.resource);
  EXPECT_EQ(d.resource->kind, Kind::kNamespace);
  EXPECT_EQ(d.resource->meta.ns, "");
  EXPECT_EQ(d.resource->meta.labels.at("weft.dev/dataplane-mode"), "ambient");
}

TEST(ServiceAccount, Decodes) {
  auto d = DecodeSingle(R"(apiVersion: v1
kind: ServiceAccount
metadata: {name: web-sa, namespace: shop}
automountServiceAccountToken: false
secrets: [{name: s}]
)");
  ASSERT_FALSE(d.rejected) << Dump(d.diagnostics);
  ASSERT_TRUE(d.resource);
  EXPECT_EQ(d.resource->kind, Kind::kServiceAccount);
}

TEST(CoreKinds, OnlyV1IsSupported) {
  auto d = DecodeSingle("apiVersion: v2\nkind: Service\nmetadata: {name: s}\nspec: {}\n");
  EXPECT_TRUE(d.rejected);
  auto v = OfCode(d.diagnostics, code::kValue);
  ASSERT_THAT(v, SizeIs(1)) << Dump(d.diagnostics);
  EXPECT_EQ(v[0].field, "apiVersion");
  EXPECT_EQ(v[0].message, "version \"v2\" of Service is not supported (supported: v1)");
}

}  // namespace
}  // namespace weft::policy
