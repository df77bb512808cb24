// The Compiler as a whole: deterministic output, and incremental Apply() sequences that reach
// the same snapshot as a fresh full compile of the same resources.

#include "core/policy/compiler.h"

#include <gmock/gmock.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <random>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using testing::Dump;
using testing::FindRouteTable;
using testing::FindService;
using testing::FindWorkload;
using testing::Resources;
using ::testing::SizeIs;

std::string Bytes(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

// Equal in every field (generation aside); on failure, says which fields differ.
::testing::AssertionResult SameSnapshot(pb::MeshSnapshot a, pb::MeshSnapshot b) {
  a.clear_generation();
  b.clear_generation();
  google::protobuf::util::MessageDifferencer diff;
  std::string report;
  diff.ReportDifferencesToString(&report);
  if (!diff.Compare(a, b)) return ::testing::AssertionFailure() << report;
  if (Bytes(a) != Bytes(b)) return ::testing::AssertionFailure() << "serializations differ";
  return ::testing::AssertionSuccess();
}

// ---- the mesh the sequences start from, one document per key ----

struct Doc {
  std::string key;  // what identifies the resource in the model
  std::string yaml;
};

const std::vector<Doc>& BaseMesh() {
  static const std::vector<Doc> docs = {
      {"ns", R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/dataplane-mode: ambient}}
)"},
      {"node-a", R"(apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {topology.kubernetes.io/region: r1, topology.kubernetes.io/zone: z1}}
)"},
      {"svc-catalog", R"(apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: shop}
spec:
  clusterIP: 10.96.0.20
  selector: {app: catalog}
  ports: [{name: http, port: 80, targetPort: http}]
)"},
      {"svc-web", R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.21
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
)"},
      {"pod-c1", R"(apiVersion: v1
kind: Pod
metadata: {name: catalog-1, namespace: shop, labels: {app: catalog, version: v1}}
spec:
  nodeName: node-a
  serviceAccountName: catalog
  containers: [{name: c, ports: [{name: http, containerPort: 3000}]}]
status: {phase: Running, podIP: 10.1.0.11}
)"},
      {"pod-c2", R"(apiVersion: v1
kind: Pod
metadata: {name: catalog-2, namespace: shop, labels: {app: catalog, version: v2}}
spec:
  nodeName: node-a
  containers: [{name: c, ports: [{name: http, containerPort: 3000}]}]
status: {phase: Running, podIP: 10.1.0.12}
)"},
      {"pod-w1", R"(apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
status: {phase: Running, podIP: 10.1.0.21}
)"},
      {"dr", R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog, namespace: shop}
spec:
  host: catalog
  trafficPolicy: {loadBalancer: {simple: LEAST_CONN}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
)"},
      {"vs", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: catalog, namespace: shop}
spec:
  hosts: [catalog]
  http:
  - route:
    - {destination: {host: catalog, subset: v1}, weight: 90}
    - {destination: {host: catalog, subset: v2}, weight: 10}
)"},
      {"pa", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
)"},
      {"ap", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: catalog, namespace: shop}
spec:
  selector: {matchLabels: {app: catalog}}
  rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/web]}}]}]
)"},
  };
  return docs;
}

// The incremental compiler under test, and the model of what it should now hold.
class Incremental : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& d : BaseMesh()) model_[d.key] = d.yaml;
    std::vector<Resource> all;
    for (const auto& d : BaseMesh()) {
      for (auto& r : Resources(d.yaml)) all.push_back(std::move(r));
    }
    compiler_.Apply(std::move(all));
    ASSERT_TRUE(SameSnapshot(compiler_.Snapshot(), Fresh()));
  }

  // A fresh compiler fed the model in one Apply.
  pb::MeshSnapshot Fresh() {
    Compiler fresh;
    std::vector<Resource> all;
    for (const auto& [k, y] : model_) {
      for (auto& r : Resources(y)) all.push_back(std::move(r));
    }
    fresh.Apply(std::move(all));
    return fresh.Snapshot();
  }

  void Upsert(const std::string& key, const std::string& yaml) {
    model_[key] = yaml;
    compiler_.Apply(Resources(yaml));
  }

  void Remove(const std::string& key) {
    std::vector<Resource> rs = Resources(model_.at(key));
    model_.erase(key);
    std::vector<ResourceKey> keys;
    for (const auto& r : rs) keys.push_back(KeyFor(r));
    compiler_.Apply({}, keys);
  }

  ::testing::AssertionResult MatchesFresh() {
    pb::MeshSnapshot inc = compiler_.Snapshot();
    pb::MeshSnapshot full = Fresh();
    auto same = SameSnapshot(inc, full);
    if (!same) return same;
    if (inc.content_hash() != full.content_hash()) {
      return ::testing::AssertionFailure() << "content_hash differs";
    }
    return ::testing::AssertionSuccess();
  }

  Compiler compiler_;
  std::map<std::string, std::string> model_;
};

constexpr char kSlice[] = R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: catalog-abc
  namespace: shop
  labels: {kubernetes.io/service-name: catalog}
ports: [{name: http, port: 3000}]
endpoints:
- addresses: [10.1.0.11]
  nodeName: node-a
  targetRef: {kind: Pod, name: catalog-1}
- addresses: [10.1.0.12]
  nodeName: node-a
  targetRef: {kind: Pod, name: catalog-2}
- addresses: [10.1.0.13]
  conditions: {ready: false}
  targetRef: {kind: Pod, name: catalog-3}
)";

TEST_F(Incremental, AddAnEndpointSlice) {
  Upsert("slice", kSlice);
  EXPECT_TRUE(MatchesFresh());
  const pb::Service* s = FindService(compiler_.Snapshot(), "catalog.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->endpoints_size(), 3);
}

TEST_F(Incremental, ChangeAPodsLabels) {
  Upsert("slice", kSlice);
  ASSERT_TRUE(MatchesFresh());
  // catalog-2 moves from v2 to v1: subsets, endpoint labels and the workload change.
  std::string pod = model_.at("pod-c2");
  pod.replace(pod.find("version: v2"), 11, "version: v1");
  Upsert("pod-c2", pod);
  EXPECT_TRUE(MatchesFresh());
  const pb::Service* s = FindService(compiler_.Snapshot(), "catalog.shop.svc.cluster.local");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->subsets_size(), 2);
  EXPECT_THAT(s->subsets(0).endpoint_indexes(), ::testing::ElementsAre(0u, 1u));
  // Now a Pod that the slice names but that did not exist yet.
  Upsert("pod-c3", R"(apiVersion: v1
kind: Pod
metadata: {name: catalog-3, namespace: shop, labels: {app: catalog, version: v2}}
status: {phase: Pending, podIP: 10.1.0.13}
)");
  EXPECT_TRUE(MatchesFresh());
}

TEST_F(Incremental, PodLabelsLeaveAndJoinASelector) {
  std::string pod = model_.at("pod-w1");
  pod.replace(pod.find("app: web"), 8, "app: catalog, version: v2");
  Upsert("pod-w1", pod);  // leaves web, joins catalog
  EXPECT_TRUE(MatchesFresh());
  EXPECT_EQ(FindService(compiler_.Snapshot(), "web.shop.svc.cluster.local")->endpoints_size(), 0);
  EXPECT_EQ(FindService(compiler_.Snapshot(), "catalog.shop.svc.cluster.local")->endpoints_size(),
            3);
}

TEST_F(Incremental, RemoveTheDestinationRule) {
  Remove("dr");
  EXPECT_TRUE(MatchesFresh());
  const pb::MeshSnapshot& s = compiler_.Snapshot();
  // The VirtualService now names subsets that do not exist: it is left out.
  EXPECT_EQ(FindRouteTable(s, "catalog.shop.svc.cluster.local"), nullptr);
  EXPECT_THAT(s.excluded(), SizeIs(1));
  EXPECT_EQ(s.cluster_policies_size(), 0);
  EXPECT_EQ(FindService(s, "catalog.shop.svc.cluster.local")->subsets_size(), 0);
}

TEST_F(Incremental, ChangeTheVirtualService) {
  Remove("dr");
  ASSERT_TRUE(MatchesFresh());
  Upsert("vs", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: catalog, namespace: shop}
spec:
  hosts: [catalog]
  http:
  - match: [{uri: {prefix: /api}}]
    route: [{destination: {host: web}}]
  - route: [{destination: {host: catalog}}]
)");
  EXPECT_TRUE(MatchesFresh());
  const pb::RouteTable* t = FindRouteTable(compiler_.Snapshot(), "catalog.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->http_routes_size(), 2);
  EXPECT_THAT(compiler_.Snapshot().excluded(), SizeIs(0));
  // And the rule comes back.
  Upsert("dr", BaseMesh()[7].yaml);
  EXPECT_TRUE(MatchesFresh());
}

TEST_F(Incremental, SecurityNamespaceAndNodeChanges) {
  Upsert("pa-ns", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ns, namespace: shop}
spec: {mtls: {mode: PERMISSIVE}}
)");
  EXPECT_TRUE(MatchesFresh());
  Upsert("ap2", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: shop}
spec: {action: DENY, rules: [{}]}
)");
  EXPECT_TRUE(MatchesFresh());
  Upsert("ns", R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/dataplane-mode: none, weft.dev/use-waypoint: wp}}
)");
  EXPECT_TRUE(MatchesFresh());
  EXPECT_EQ(FindWorkload(compiler_.Snapshot(), "shop/web-1")->waypoint(), "wp");
  Upsert("node-a", R"(apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {topology.kubernetes.io/region: r2}}
)");
  EXPECT_TRUE(MatchesFresh());
  Remove("pa");
  Remove("ap");
  EXPECT_TRUE(MatchesFresh());
}

// The mesh-wide retry budget lives on the root namespace's Namespace: changing it recompiles
// every Service, as a full compile would.
TEST_F(Incremental, MeshWideRetryBudgetFollowsTheRootNamespace) {
  const std::string host = "catalog.shop.svc.cluster.local";
  EXPECT_FALSE(FindService(compiler_.Snapshot(), host)->has_retry_budget());
  Upsert("root", R"(apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
  annotations: {weft.dev/retry-budget: "ratio=0.25"}
)");
  EXPECT_TRUE(MatchesFresh());
  ASSERT_TRUE(FindService(compiler_.Snapshot(), host)->has_retry_budget());
  EXPECT_DOUBLE_EQ(FindService(compiler_.Snapshot(), host)->retry_budget().ratio(), 0.25);
  Upsert("root", R"(apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
  annotations: {weft.dev/retry-budget: "off"}
)");
  EXPECT_TRUE(MatchesFresh());
  EXPECT_FALSE(FindService(compiler_.Snapshot(), host)->has_retry_budget());
  Remove("root");
  EXPECT_TRUE(MatchesFresh());
}

TEST_F(Incremental, RemoveAndReAddServicesPodsAndSlices) {
  Upsert("slice", kSlice);
  Remove("pod-c1");
  EXPECT_TRUE(MatchesFresh());
  Remove("svc-web");
  EXPECT_TRUE(MatchesFresh());
  Remove("slice");  // back to the selector
  EXPECT_TRUE(MatchesFresh());
  Upsert("svc-web", BaseMesh()[3].yaml);
  Upsert("pod-c1", BaseMesh()[4].yaml);
  EXPECT_TRUE(MatchesFresh());
}

TEST_F(Incremental, ServiceEntryWithWorkloadSelector) {
  Upsert("se", R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm, namespace: shop}
spec:
  hosts: [vm.shop.internal]
  ports: [{number: 80, name: http}]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: {labels: {role: vm}}
)");
  EXPECT_TRUE(MatchesFresh());
  std::string pod = model_.at("pod-w1");
  pod.replace(pod.find("app: web"), 8, "app: web, role: vm");
  Upsert("pod-w1", pod);
  EXPECT_TRUE(MatchesFresh());
  EXPECT_EQ(FindService(compiler_.Snapshot(), "vm.shop.internal")->endpoints_size(), 1);
}

TEST_F(Incremental, ConflictWinnerChanges) {
  Upsert("vs-old", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: aaa-older, namespace: shop, creationTimestamp: "2020-01-01T00:00:00Z"}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: web}}]}]
)");
  Upsert("vs-new", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: zzz-newer, namespace: shop, creationTimestamp: "2021-01-01T00:00:00Z"}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: catalog}}]}]
)");
  EXPECT_TRUE(MatchesFresh());
  Remove("vs-old");
  EXPECT_TRUE(MatchesFresh());
  EXPECT_EQ(FindRouteTable(compiler_.Snapshot(), "web.shop.svc.cluster.local")->source().name(),
            "zzz-newer");
}

constexpr char kWaypointGateway[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: shop}
spec:
  gatewayClassName: weft-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
)";

constexpr char kWaypointPod[] = R"(apiVersion: v1
kind: Pod
metadata: {name: wp-1, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: wp}}
spec: {nodeName: node-a, serviceAccountName: wp}
status: {phase: Running, podIP: 10.1.0.50}
)";

TEST_F(Incremental, GatewaysWaypointPodsAndBindings) {
  // A Service bound to a waypoint that does not exist yet: set, with a warning.
  std::string web = model_.at("svc-web");
  web.replace(web.find("namespace: shop}"), 16,
              "namespace: shop, labels: {weft.dev/use-waypoint: wp}}");
  Upsert("svc-web", web);
  EXPECT_TRUE(MatchesFresh());
  Upsert("wp-pod", kWaypointPod);  // before its Gateway: an ordinary ambient pod
  EXPECT_TRUE(MatchesFresh());
  EXPECT_EQ(FindWorkload(compiler_.Snapshot(), "shop/wp-1")->dataplane_mode(),
            pb::DATAPLANE_MODE_AMBIENT);
  // The Gateway appears: the waypoints table, the pod (no longer captured), the warning gone.
  Upsert("gw", kWaypointGateway);
  EXPECT_TRUE(MatchesFresh());
  ASSERT_THAT(compiler_.Snapshot().waypoints(), SizeIs(1));
  EXPECT_THAT(compiler_.Snapshot().waypoints(0).endpoints(), SizeIs(1));
  EXPECT_EQ(FindWorkload(compiler_.Snapshot(), "shop/wp-1")->dataplane_mode(),
            pb::DATAPLANE_MODE_NONE);
  // The pod changes; then a second one.
  std::string pod = kWaypointPod;
  pod.replace(pod.find("10.1.0.50"), 9, "10.1.0.51");
  Upsert("wp-pod", pod);
  EXPECT_TRUE(MatchesFresh());
  std::string pod2 = kWaypointPod;
  pod2.replace(pod2.find("wp-1"), 4, "wp-2");
  Upsert("wp-pod2", pod2);
  EXPECT_TRUE(MatchesFresh());
  EXPECT_THAT(compiler_.Snapshot().waypoints(0).endpoints(), SizeIs(2));
  // The namespace binds everything to it; a policy targets a bound Service.
  Upsert("ns", R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/dataplane-mode: ambient, istio.io/use-waypoint: wp}}
)");
  EXPECT_TRUE(MatchesFresh());
  EXPECT_EQ(FindService(compiler_.Snapshot(), "catalog.shop.svc.cluster.local")->waypoint(), "wp");
  Upsert("ap-wp", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: at-waypoint, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: catalog}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
)");
  EXPECT_TRUE(MatchesFresh());
  // The Gateway becomes another class, then comes back, then goes.
  std::string other = kWaypointGateway;
  other.replace(other.find("weft-waypoint"), 13, "example");
  Upsert("gw", other);
  EXPECT_TRUE(MatchesFresh());
  EXPECT_THAT(compiler_.Snapshot().waypoints(), SizeIs(0));
  EXPECT_EQ(FindWorkload(compiler_.Snapshot(), "shop/wp-2")->dataplane_mode(),
            pb::DATAPLANE_MODE_AMBIENT);
  Upsert("gw", kWaypointGateway);
  EXPECT_TRUE(MatchesFresh());
  Remove("gw");
  EXPECT_TRUE(MatchesFresh());
  Upsert("gw", kWaypointGateway);
  Remove("wp-pod");
  Remove("svc-web");
  EXPECT_TRUE(MatchesFresh());
  EXPECT_THAT(compiler_.Snapshot().waypoints(0).endpoints(), SizeIs(1));
}

TEST_F(Incremental, CrossNamespaceWaypointAdmission) {
  std::string web = model_.at("svc-web");
  web.replace(web.find("namespace: shop}"), 16,
              "namespace: shop, labels: {istio.io/use-waypoint: shared, "
              "istio.io/use-waypoint-namespace: infra}}");
  Upsert("svc-web", web);
  std::string same = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shared, namespace: infra}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
)";
  Upsert("gw-infra", same);  // allowedRoutes Same: refused
  EXPECT_TRUE(MatchesFresh());
  EXPECT_EQ(FindService(compiler_.Snapshot(), "web.shop.svc.cluster.local")->waypoint(), "");
  Upsert("gw-infra", same +
                         "    allowedRoutes: {namespaces: {from: Selector, selector: "
                         "{matchLabels: {team: shop}}}}\n");
  EXPECT_TRUE(MatchesFresh());
  EXPECT_EQ(FindService(compiler_.Snapshot(), "web.shop.svc.cluster.local")->waypoint(), "");
  // The namespace gets the label the selector wants.
  Upsert("ns", R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/dataplane-mode: ambient, team: shop}}
)");
  EXPECT_TRUE(MatchesFresh());
  EXPECT_EQ(FindService(compiler_.Snapshot(), "web.shop.svc.cluster.local")->waypoint(), "shared");
  EXPECT_EQ(FindService(compiler_.Snapshot(), "web.shop.svc.cluster.local")->waypoint_namespace(),
            "infra");
}

TEST_F(Incremental, GenerationIsTheCallers) {
  compiler_.set_generation(42);
  EXPECT_EQ(compiler_.Snapshot().generation(), 42u);
  EXPECT_EQ(compiler_.Snapshot().schema_version(), "weft.config.v1");
}

TEST_F(Incremental, InputReportsAreReplacedPerOrigin) {
  Diagnostic d;
  d.code = "yaml-syntax";
  d.message = "broken";
  d.resource.file = "a.yaml";
  d.resource.kind = "Service";
  d.resource.name = "x";
  d.line = 3;
  compiler_.SetInputReport("a.yaml", {d}, {d.resource});
  EXPECT_EQ(compiler_.Snapshot().excluded_size(), 1);
  EXPECT_EQ(compiler_.Snapshot().excluded(0).reason(), "broken");
  compiler_.SetInputReport("a.yaml", {}, {});
  EXPECT_EQ(compiler_.Snapshot().excluded_size(), 0);
  EXPECT_TRUE(MatchesFresh());
}

// ---- determinism ----

std::vector<DecodedDocument> Decoded() {
  std::vector<DecodedDocument> docs;
  for (const auto& d : BaseMesh()) {
    for (auto& x : DecodeText(d.yaml, d.key + ".yaml")) docs.push_back(std::move(x));
  }
  // Something that produces diagnostics and an exclusion too.
  for (auto& x : DecodeText(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: late, namespace: shop, creationTimestamp: "2030-01-01T00:00:00Z"}
spec:
  hosts: [catalog]
  http: [{route: [{destination: {host: web}, weight: 30}, {destination: {host: catalog}, weight: 30}]}]
---
apiVersion: v1
kind: Service
metadata: {name: broken, namespace: shop}
spec: {ports: [{port: 1 -maximo de conexao}]}
)",
                            "zz-extra.yaml")) {
    docs.push_back(std::move(x));
  }
  return docs;
}

TEST(Determinism, SameInputTwiceIsByteIdentical) {
  auto a = CompileDocuments(Decoded());
  auto b = CompileDocuments(Decoded());
  EXPECT_EQ(Bytes(a.snapshot), Bytes(b.snapshot));
  EXPECT_EQ(a.snapshot.content_hash(), b.snapshot.content_hash());
  EXPECT_EQ(a.snapshot.content_hash().size(), 64u);
  EXPECT_GT(a.snapshot.diagnostics_size(), 0);
  EXPECT_EQ(a.snapshot.excluded_size(), 2) << Dump(a.snapshot);
}

TEST(Determinism, DocumentOrderDoesNotMatter) {
  auto reference = CompileDocuments(Decoded());
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    auto docs = Decoded();
    std::shuffle(docs.begin(), docs.end(), rng);
    auto res = CompileDocuments(std::move(docs));
    EXPECT_TRUE(SameSnapshot(res.snapshot, reference.snapshot)) << "round " << round;
    EXPECT_EQ(res.snapshot.content_hash(), reference.snapshot.content_hash());
  }
}

TEST(Determinism, ContentHashFollowsContent) {
  auto a = CompileDocuments(Decoded());
  auto docs = Decoded();
  docs.erase(docs.begin() + 1);  // the Node
  auto b = CompileDocuments(std::move(docs));
  EXPECT_NE(a.snapshot.content_hash(), b.snapshot.content_hash());
}

TEST(Determinism, ContentHashIsAsDocumented) {
  // MeshSnapshot.content_hash, computed as snapshot.proto documents it.
  std::vector<DecodedDocument> docs = Decoded();
  for (auto& x : DecodeText(std::string(kWaypointGateway) + "---\n" + kWaypointPod, "wp.yaml")) {
    docs.push_back(std::move(x));
  }
  auto res = CompileDocuments(std::move(docs));
  const pb::MeshSnapshot& s = res.snapshot;
  ASSERT_EQ(s.waypoints_size(), 1);
  auto sha = [](const std::string& bytes) {
    unsigned char md[32];
    EVP_Digest(bytes.data(), bytes.size(), md, nullptr, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<char*>(md), 32);
  };
  std::string tables = Bytes(s.settings());
  for (const auto& x : s.namespaces()) tables += Bytes(x);
  for (const auto& x : s.authorization_policies()) tables += Bytes(x);
  for (const auto& x : s.route_tables()) tables += Bytes(x);
  for (const auto& x : s.cluster_policies()) tables += Bytes(x);
  for (const auto& x : s.waypoints()) tables += Bytes(x);
  std::string all = sha(tables);
  for (const auto& x : s.services()) all += sha(Bytes(x));
  for (const auto& x : s.workloads()) all += sha(Bytes(x));
  std::string digest = sha(all), hex;
  for (unsigned char c : digest) {
    static const char* kDigits = "0123456789abcdef";
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  EXPECT_EQ(s.content_hash(), hex);
  // And a waypoint counts: without it the hash differs.
  EXPECT_NE(s.content_hash(), CompileDocuments(Decoded()).snapshot.content_hash());
}

TEST(Determinism, ThreadedDecodingGivesTheSameSnapshot) {
  std::string all;
  for (const auto& d : BaseMesh()) all += d.yaml + "---\n";
  DecodeOptions one, four;
  four.threads = 4;
  auto a = CompileDocuments(DecodeText(all, "all.yaml", one));
  auto b = CompileDocuments(DecodeText(all, "all.yaml", four));
  EXPECT_EQ(Bytes(a.snapshot), Bytes(b.snapshot));
}

TEST(CompileDocuments, DuplicateResourceFirstWins) {
  std::vector<DecodedDocument> docs;
  for (auto& x : DecodeText(BaseMesh()[2].yaml, "first.yaml")) docs.push_back(std::move(x));
  for (auto& x : DecodeText(BaseMesh()[2].yaml, "second.yaml")) docs.push_back(std::move(x));
  auto res = CompileDocuments(std::move(docs));
  EXPECT_TRUE(res.has_errors);
  ASSERT_EQ(res.snapshot.excluded_size(), 1);
  EXPECT_EQ(res.snapshot.excluded(0).source().file(), "second.yaml");
  EXPECT_EQ(res.snapshot.excluded(0).reason(),
            "duplicate Service shop/catalog: an earlier document defines it");
  EXPECT_EQ(FindService(res.snapshot, "catalog.shop.svc.cluster.local")->source().file(),
            "first.yaml");
}

TEST(CompileDocuments, HasErrorsOnlyForErrors) {
  auto clean = CompileDocuments(DecodeText(BaseMesh()[2].yaml, "f.yaml"));
  EXPECT_FALSE(clean.has_errors) << Dump(clean.snapshot);
  auto noted = CompileDocuments(
      DecodeText("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n", "f.yaml"));
  EXPECT_FALSE(noted.has_errors);
  EXPECT_EQ(noted.snapshot.diagnostics_size(), 1);
}

}  // namespace
}  // namespace weft::policy
