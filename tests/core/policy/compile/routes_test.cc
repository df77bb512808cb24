// Routes pass: VirtualServices (mesh) and GAMMA HTTPRoutes become one RouteTable per host.

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
using testing::ExcludedNames;
using testing::FindRouteTable;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kMesh[] = R"(apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec: {ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: data}
spec: {ports: [{name: tcp, port: 3306}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: shop}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
)";

std::string Vs(const std::string& name, const std::string& ns, const std::string& spec,
               const std::string& created = "") {
  std::string meta = "{name: " + name + ", namespace: " + ns;
  if (!created.empty()) meta += ", creationTimestamp: \"" + created + "\"";
  meta += "}";
  return "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: " + meta +
         "\nspec:\n" + spec;
}

TEST(Routes, ShortHostsResolveInTheResourcesNamespace) {
  auto res = CompileYaml({kMesh, Vs("reviews", "shop", R"(  hosts: [reviews]
  http:
  - route:
    - destination: {host: ratings}
      weight: 50
    - destination: {host: db.data.svc.cluster.local, port: {number: 3306}}
      weight: 25
    - destination: {host: api.example.com}
      weight: 25
)")});
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr) << Dump(res.snapshot);
  EXPECT_EQ(t->port(), 0u);
  EXPECT_EQ(t->source().kind(), "VirtualService");
  EXPECT_EQ(t->source().name(), "reviews");
  ASSERT_EQ(t->http_routes_size(), 1);
  const auto& d = t->http_routes(0).destinations();
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d[0].hostname(), "ratings.shop.svc.cluster.local");
  EXPECT_EQ(d[0].cluster(), "outbound|0||ratings.shop.svc.cluster.local");
  EXPECT_EQ(d[1].hostname(), "db.data.svc.cluster.local");
  EXPECT_EQ(d[1].port(), 3306u);
  EXPECT_EQ(d[1].cluster(), "outbound|3306||db.data.svc.cluster.local");
  EXPECT_EQ(d[2].hostname(), "api.example.com");
}

TEST(Routes, ShortNameInAnotherNamespaceDoesNotResolveThere) {
  // "db" written in shop means db.shop, which does not exist; db.data is only reachable by a
  // longer name.
  auto res = CompileYaml({kMesh, Vs("reviews", "shop", R"(  hosts: [reviews]
  http:
  - route: [{destination: {host: db}}]
)")});
  EXPECT_EQ(FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local"), nullptr);
  auto e = DiagsOf(res.snapshot, code::kReference);
  ASSERT_THAT(e, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(e[0].severity(), pb::Diagnostic::ERROR);
  EXPECT_EQ(e[0].message(),
            "destination host \"db.shop.svc.cluster.local\" matches no Service or ServiceEntry");
  EXPECT_EQ(e[0].source().field(), "spec.http[0].route[0].destination.host");
  EXPECT_EQ(e[0].source().line(), 7u);
  EXPECT_THAT(ExcludedNames(res.snapshot), ElementsAre("VirtualService/shop/reviews"));
}

TEST(Routes, NamespaceQualifiedShortNameGetsAHint) {
  auto res = CompileYaml({kMesh, Vs("reviews", "shop", R"(  hosts: [reviews]
  http:
  - route: [{destination: {host: db.data}}]
)")});
  auto e = DiagsOf(res.snapshot, code::kReference);
  ASSERT_THAT(e, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(e[0].message(),
            "destination host \"db.data\" matches no Service or ServiceEntry (did you mean "
            "\"db.data.svc.cluster.local\"?)");
}

TEST(Routes, VirtualServiceHostsResolveAndFqdnsStay) {
  auto res = CompileYaml(
      {kMesh, Vs("multi", "shop", R"(  hosts: [ratings, db.data.svc.cluster.local, api.example.com]
  http:
  - route: [{destination: {host: ratings}}]
)")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  EXPECT_NE(FindRouteTable(res.snapshot, "ratings.shop.svc.cluster.local"), nullptr);
  EXPECT_NE(FindRouteTable(res.snapshot, "db.data.svc.cluster.local"), nullptr);
  EXPECT_NE(FindRouteTable(res.snapshot, "api.example.com"), nullptr);
  std::vector<std::string> hosts;
  for (const auto& t : res.snapshot.route_tables()) hosts.push_back(t.hostname());
  EXPECT_THAT(hosts, ElementsAre("api.example.com", "db.data.svc.cluster.local",
                                 "ratings.shop.svc.cluster.local"));
}

TEST(Routes, RouteOrderIsKeptSoTheFirstMatchWins) {
  auto res = CompileYaml({kMesh, Vs("reviews", "shop", R"(  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - name: api
    match: [{uri: {prefix: /api}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - name: catch-all
    route: [{destination: {host: reviews, subset: v1}}]
  - name: unreachable
    match: [{uri: {prefix: /}}]
    route: [{destination: {host: reviews, subset: v2}}]
)")});
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr) << Dump(res.snapshot);
  std::vector<std::string> names, subsets;
  for (const auto& r : t->http_routes()) {
    names.push_back(r.name());
    subsets.push_back(r.destinations(0).subset());
  }
  EXPECT_THAT(names, ElementsAre("jason", "api", "catch-all", "unreachable"));
  EXPECT_THAT(subsets, ElementsAre("v2", "v3", "v1", "v2"));
  EXPECT_EQ(t->http_routes(1).source().field(), "spec.http[1]");
  EXPECT_EQ(t->http_routes(1).source().line(), 10u);
  EXPECT_EQ(t->http_routes(1).source().column(), 5u);
  EXPECT_EQ(t->http_routes(1).destinations(0).cluster(),
            "outbound|0|v3|reviews.shop.svc.cluster.local");
  EXPECT_EQ(t->http_routes(0).destinations(0).weight(), 100u);
}

struct WeightCase {
  std::string name;
  std::vector<int> in;  // -1 = no weight field
  std::vector<uint32_t> out;
  bool warning;
};

class Weights : public ::testing::TestWithParam<WeightCase> {};

TEST_P(Weights, NormalisedToHundred) {
  const auto& c = GetParam();
  std::string route;
  const char* subsets[] = {"v1", "v2", "v3"};
  for (size_t i = 0; i < c.in.size(); ++i) {
    route += std::string("    - destination: {host: reviews, subset: ") + subsets[i] + "}\n";
    if (c.in[i] >= 0) route += "      weight: " + std::to_string(c.in[i]) + "\n";
  }
  auto res = CompileYaml(
      {kMesh, Vs("reviews", "shop", "  hosts: [reviews]\n  http:\n  - route:\n" + route)});
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr) << Dump(res.snapshot);
  std::vector<uint32_t> got;
  for (const auto& d : t->http_routes(0).destinations()) got.push_back(d.weight());
  EXPECT_EQ(got, c.out);
  auto w = DiagsOf(res.snapshot, code::kWeights);
  EXPECT_EQ(w.size(), c.warning ? 1u : 0u) << Dump(res.snapshot);
  if (c.warning) {
    EXPECT_EQ(w[0].severity(), pb::Diagnostic::WARNING);
    EXPECT_EQ(w[0].source().field(), "spec.http[0]");
  }
}

INSTANTIATE_TEST_SUITE_P(Table, Weights,
                         ::testing::Values(WeightCase{"sum100", {90, 10}, {90, 10}, false},
                                           WeightCase{"sum60", {30, 30}, {50, 50}, true},
                                           WeightCase{"thirds", {1, 2}, {33, 67}, true},
                                           WeightCase{"sum110", {50, 50, 10}, {46, 45, 9}, true},
                                           WeightCase{"zeroAndHundred", {0, 100}, {0, 100}, false},
                                           WeightCase{"single", {-1}, {100}, false},
                                           WeightCase{"singleWeighted", {50}, {100}, false}),
                         [](const auto& info) { return info.param.name; });

// Several destinations and no weight at all: Istio's "total destination weight = 0".
TEST(Routes, SeveralDestinationsWithoutWeightsAreAnError) {
  auto res = CompileYaml({kMesh, Vs("reviews", "shop", R"(  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
    - destination: {host: reviews, subset: v2}
)")});
  auto v = DiagsOf(res.snapshot, code::kValue);
  ASSERT_THAT(v, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(v[0].message(), "total destination weight = 0");
  EXPECT_EQ(v[0].source().field(), "spec.http[0].route");
  EXPECT_EQ(FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local"), nullptr);
}

TEST(Routes, AllWeightsZeroIsAnError) {
  auto res = CompileYaml({kMesh, Vs("reviews", "shop", R"(  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 0
    - destination: {host: reviews, subset: v2}
      weight: 0
)")});
  auto w = DiagsOf(res.snapshot, code::kValue);  // Istio's check, at decoding
  ASSERT_THAT(w, SizeIs(1));
  EXPECT_EQ(w[0].severity(), pb::Diagnostic::ERROR);
  EXPECT_EQ(w[0].message(), "total destination weight = 0");
  EXPECT_EQ(FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local"), nullptr);
}

TEST(Routes, UnknownSubsetIsAReferenceError) {
  auto res = CompileYaml({kMesh, Vs("reviews", "shop", R"(  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v9}
)")});
  auto e = DiagsOf(res.snapshot, code::kReference);
  ASSERT_THAT(e, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(e[0].source().field(), "spec.http[0].route[0].destination.subset");
  EXPECT_EQ(e[0].source().line(), 8u);
  EXPECT_EQ(e[0].source().column(), 44u);
  EXPECT_EQ(e[0].message(),
            "subset \"v9\" is not defined by any DestinationRule for host "
            "\"reviews.shop.svc.cluster.local\"");
  EXPECT_THAT(ExcludedNames(res.snapshot), ElementsAre("VirtualService/shop/reviews"));
  EXPECT_EQ(res.snapshot.route_tables_size(), 0);
}

TEST(Routes, MirrorsResolve) {
  auto res = CompileYaml({kMesh, Vs("reviews", "shop", R"(  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v1}}]
    mirror: {host: reviews, subset: v2}
    mirrorPercentage: {value: 5}
)")});
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr) << Dump(res.snapshot);
  ASSERT_EQ(t->http_routes(0).mirrors_size(), 1);
  EXPECT_EQ(t->http_routes(0).mirrors(0).hostname(), "reviews.shop.svc.cluster.local");
  EXPECT_EQ(t->http_routes(0).mirrors(0).subset(), "v2");
  EXPECT_DOUBLE_EQ(t->http_routes(0).mirrors(0).percent(), 5.0);
}

TEST(Routes, RouteWithoutDestinationIsAnError) {
  auto res = CompileYaml({kMesh, Vs("reviews", "shop", R"(  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /a}}]
    timeout: 1s
)")});
  auto e = DiagsOf(res.snapshot, code::kValue);  // Istio's check, at decoding
  ASSERT_THAT(e, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(e[0].source().field(), "spec.http[0]");
  EXPECT_EQ(e[0].message(), "HTTP route, redirect or direct_response is required");
}

TEST(Routes, RedirectAndDirectResponseNeedNoDestination) {
  auto res = CompileYaml({kMesh, Vs("reviews", "shop", R"(  hosts: [reviews]
  http:
  - match: [{uri: {exact: /old}}]
    redirect: {uri: /new}
  - directResponse: {status: 404}
)")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->http_routes(0).redirect().uri(), "/new");
  EXPECT_EQ(t->http_routes(1).direct_response().status(), 404u);
}

TEST(Routes, TcpRoutes) {
  auto res = CompileYaml({kMesh, Vs("db", "data", R"(  hosts: [db]
  tcp:
  - match: [{port: 3306}]
    route:
    - destination: {host: db, port: {number: 3306}}
)")});
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "db.data.svc.cluster.local");
  ASSERT_NE(t, nullptr) << Dump(res.snapshot);
  ASSERT_EQ(t->tcp_routes_size(), 1);
  const auto& r = t->tcp_routes(0);
  EXPECT_EQ(r.matches(0).port(), 3306u);
  EXPECT_EQ(r.destinations(0).hostname(), "db.data.svc.cluster.local");
  EXPECT_EQ(r.destinations(0).weight(), 100u);
  EXPECT_EQ(r.destinations(0).cluster(), "outbound|3306||db.data.svc.cluster.local");
  EXPECT_EQ(r.source().field(), "spec.tcp[0]");
  EXPECT_EQ(r.source().line(), 7u);  // the route entry, as for http routes
  EXPECT_EQ(r.source().column(), 5u);
}

TEST(Routes, OnlyTheMeshGatewayIsRouted) {
  auto res = CompileYaml({kMesh, Vs("edge", "shop", R"(  hosts: [reviews]
  gateways: [istio-system/ingress]
  http:
  - route: [{destination: {host: reviews}}]
)"),
                          Vs("both", "shop", R"(  hosts: [ratings]
  gateways: [mesh, ingress]
  http:
  - route: [{destination: {host: ratings}}]
)")});
  EXPECT_EQ(FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local"), nullptr);
  EXPECT_NE(FindRouteTable(res.snapshot, "ratings.shop.svc.cluster.local"), nullptr);
  auto w = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(w, SizeIs(2)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(w[0].source().field(), "spec.gateways");
}

TEST(Routes, WildcardAndUnknownHostsWarn) {
  auto res = CompileYaml({kMesh, Vs("w", "shop", R"(  hosts: ["*.example.com", nothing-here]
  http:
  - route: [{destination: {host: reviews}}]
)")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  EXPECT_THAT(DiagsOf(res.snapshot, code::kUnsupported), SizeIs(1));
  auto ref = DiagsOf(res.snapshot, code::kReference);
  ASSERT_THAT(ref, SizeIs(1));
  EXPECT_EQ(ref[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(ref[0].source().field(), "spec.hosts[1]");
  // The routes are kept for a host that may appear later.
  EXPECT_NE(FindRouteTable(res.snapshot, "nothing-here.shop.svc.cluster.local"), nullptr);
}

// ---- conflicts ----

TEST(RouteConflicts, OldestVirtualServiceWinsTheLaterIsExcluded) {
  std::string spec_a =
      "  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews, subset: v1}}]\n";
  std::string spec_b =
      "  hosts: [reviews.shop.svc.cluster.local]\n  http:\n  - route: [{destination: {host: "
      "reviews, subset: v2}}]\n";
  // Input order must not matter: only creationTimestamp does.
  for (bool swap : {false, true}) {
    std::string older = Vs("zz-older", "shop", spec_a, "2024-01-01T00:00:00Z");
    std::string newer = Vs("aa-newer", "shop", spec_b, "2024-06-01T00:00:00Z");
    auto res = swap ? CompileYaml({kMesh, newer, older}) : CompileYaml({kMesh, older, newer});
    const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->source().name(), "zz-older");
    EXPECT_EQ(t->http_routes(0).destinations(0).subset(), "v1");
    auto c = DiagsOf(res.snapshot, code::kConflict);
    ASSERT_THAT(c, SizeIs(1)) << Dump(res.snapshot);
    EXPECT_EQ(c[0].severity(), pb::Diagnostic::ERROR);
    EXPECT_EQ(c[0].source().name(), "aa-newer");
    EXPECT_EQ(c[0].source().field(), "spec.hosts[0]");
    EXPECT_EQ(c[0].message(),
              "host \"reviews.shop.svc.cluster.local\" is already routed by VirtualService "
              "shop/zz-older (older; it wins)");
    EXPECT_THAT(ExcludedNames(res.snapshot), ElementsAre("VirtualService/shop/aa-newer"));
    EXPECT_EQ(res.snapshot.excluded(0).reason(), c[0].message());
  }
}

TEST(RouteConflicts, SameAgeFallsBackToNamespaceThenName) {
  std::string spec =
      "  hosts: [reviews.shop.svc.cluster.local]\n  http:\n  - route: [{destination: {host: "
      "reviews.shop.svc.cluster.local}}]\n";
  auto res =
      CompileYaml({kMesh, Vs("b", "shop", spec), Vs("a", "shop", spec), Vs("a", "other", spec)});
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->source().namespace_(), "other");
  EXPECT_EQ(t->source().name(), "a");
  EXPECT_THAT(ExcludedNames(res.snapshot),
              ElementsAre("VirtualService/shop/b", "VirtualService/shop/a"));
}

TEST(RouteConflicts, ARejectedVirtualServiceReservesNoHost) {
  // "mid" loses reviews to "old", so it is left out whole; ratings stays free for "new".
  auto res = CompileYaml(
      {kMesh,
       Vs("old", "shop",
          "  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n",
          "2024-01-01T00:00:00Z"),
       Vs("mid", "shop",
          "  hosts: [ratings, reviews]\n  http:\n  - route: [{destination: {host: ratings}}]\n",
          "2024-02-01T00:00:00Z"),
       Vs("new", "shop",
          "  hosts: [ratings]\n  http:\n  - route: [{destination: {host: ratings}}]\n",
          "2024-03-01T00:00:00Z")});
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "ratings.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->source().name(), "new");
  EXPECT_THAT(ExcludedNames(res.snapshot), ElementsAre("VirtualService/shop/mid"));
}

std::string HttpRoute(const std::string& name, const std::string& created,
                      const std::string& parent_port = "") {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " + name +
         ", namespace: shop, creationTimestamp: \"" + created +
         "\"}\nspec:\n  parentRefs: [{group: \"\", kind: Service, name: reviews" +
         (parent_port.empty() ? "" : ", port: " + parent_port) +
         "}]\n  rules:\n  - backendRefs: [{name: ratings, port: 9080}]\n";
}

TEST(RouteConflicts, VirtualServiceAndHTTPRouteCompeteByAge) {
  std::string vs =
      Vs("vs", "shop", "  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n",
         "2024-02-01T00:00:00Z");
  {
    auto res = CompileYaml({kMesh, vs, HttpRoute("hr", "2024-01-01T00:00:00Z")});
    const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->source().kind(), "HTTPRoute");
    EXPECT_THAT(ExcludedNames(res.snapshot), ElementsAre("VirtualService/shop/vs"));
  }
  {
    auto res = CompileYaml({kMesh, vs, HttpRoute("hr", "2024-03-01T00:00:00Z")});
    const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->source().kind(), "VirtualService");
    EXPECT_THAT(ExcludedNames(res.snapshot), ElementsAre("HTTPRoute/shop/hr"));
    auto c = DiagsOf(res.snapshot, code::kConflict);
    ASSERT_THAT(c, SizeIs(1));
    EXPECT_EQ(c[0].source().field(), "spec.parentRefs");
    EXPECT_EQ(c[0].message(),
              "host \"reviews.shop.svc.cluster.local\" is already routed by VirtualService "
              "shop/vs (older; it wins)");
  }
}

// ---- HTTPRoute ----

TEST(HTTPRoutes, BackendsWeightsAndPortTables) {
  auto res = CompileYaml({kMesh, R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: split, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - backendRefs:
    - {name: reviews, port: 9080, weight: 3}
    - {name: ratings, port: 9080, weight: 1}
    - {name: db, namespace: data, port: 3306, weight: 0}
)"});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  EXPECT_THAT(DiagsOf(res.snapshot, code::kWeights), IsEmpty());  // relative weights: silent
  EXPECT_EQ(FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local"), nullptr);
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local", 9080);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->source().kind(), "HTTPRoute");
  ASSERT_EQ(t->http_routes_size(), 1);
  const auto& r = t->http_routes(0);
  // No match: everything, as a "/" path prefix.
  ASSERT_EQ(r.matches_size(), 1);
  EXPECT_EQ(r.matches(0).uri().path_prefix(), "/");
  ASSERT_EQ(r.destinations_size(), 3);
  EXPECT_EQ(r.destinations(0).hostname(), "reviews.shop.svc.cluster.local");
  EXPECT_EQ(r.destinations(0).weight(), 75u);
  EXPECT_EQ(r.destinations(0).cluster(), "outbound|9080||reviews.shop.svc.cluster.local");
  EXPECT_EQ(r.destinations(1).weight(), 25u);
  EXPECT_EQ(r.destinations(2).hostname(), "db.data.svc.cluster.local");
  EXPECT_EQ(r.destinations(2).weight(), 0u);
}

// Services for the retry checks: "sticky" is hashed by a DestinationRule (only its subset
// "pinned" for "split"), "web" is HTTP/1.1, "rpc" gRPC.
constexpr char kRetryMesh[] = R"(apiVersion: v1
kind: Service
metadata: {name: sticky, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: split, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{name: http, port: 80}, {name: http-admin, port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: rpc, namespace: shop}
spec: {ports: [{name: grpc, port: 9090}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: sticky, namespace: shop}
spec:
  host: sticky
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: split, namespace: shop}
spec:
  host: split
  subsets:
  - name: pinned
    labels: {v: "1"}
    trafficPolicy:
      loadBalancer: {consistentHash: {useSourceIp: true}}
  - name: spread
    labels: {v: "2"}
)";

// Retries under consistent hashing hash to the same endpoint: a warning at `retries`.
TEST(RouteChecks, RetriesUnderConsistentHashWarn) {
  auto res = CompileYaml({kRetryMesh, Vs("sticky", "shop", R"(  hosts: [sticky]
  http:
  - route: [{destination: {host: sticky}}]
    retries: {attempts: 3}
)"),
                          Vs("split", "shop", R"(  hosts: [split]
  http:
  - route: [{destination: {host: split, subset: pinned}}]
    retries: {attempts: 3}
  - route: [{destination: {host: split, subset: spread}}]
    retries: {attempts: 3}
  - route: [{destination: {host: split, subset: pinned}}]
    retries: {attempts: 0}
  - route: [{destination: {host: split, subset: pinned}}]
)")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  auto w = DiagsOf(res.snapshot, code::kValue);
  ASSERT_THAT(w, SizeIs(2)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].source().name(), "sticky");
  EXPECT_EQ(w[0].source().field(), "spec.http[0].retries");
  EXPECT_EQ(w[0].source().line(), 8u);
  EXPECT_NE(w[0].message().find("same endpoint under consistent hashing"), std::string::npos);
  EXPECT_NE(w[0].message().find("DestinationRule shop/sticky"), std::string::npos);
  EXPECT_EQ(w[1].source().name(), "split");
  EXPECT_EQ(w[1].source().field(), "spec.http[0].retries");
}

// retryRemoteLocalities picks among locality tiers, which only an outlierDetection makes.
TEST(RouteChecks, RetryRemoteLocalitiesWithoutOutlierDetectionWarns) {
  auto res = CompileYaml({kRetryMesh, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 3}}
)",
                          Vs("flat", "shop", R"(  hosts: [rpc]
  http:
  - route: [{destination: {host: rpc}}]
    retries: {attempts: 3, retryRemoteLocalities: true}
)"),
                          Vs("zoned", "shop", R"(  hosts: [web]
  http:
  - route: [{destination: {host: web}}]
    retries: {attempts: 3, retryRemoteLocalities: true}
)")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  auto w = DiagsOf(res.snapshot, code::kValue);
  ASSERT_THAT(w, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].source().name(), "flat");
  EXPECT_EQ(w[0].source().field(), "spec.http[0].retries");
  EXPECT_NE(w[0].message().find("retryRemoteLocalities has no effect"), std::string::npos);
}

TEST(RouteChecks, HTTPRouteRetryUnderConsistentHashWarns) {
  auto res = CompileYaml({kRetryMesh, R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: sticky, namespace: shop}
spec:
  parentRefs: [{kind: Service, name: sticky, port: 80}]
  rules:
  - matches: [{path: {value: /a}}, {path: {value: /b}}]
    backendRefs: [{name: sticky, port: 80}]
    retry: {attempts: 2, codes: [503]}
  - backendRefs: [{name: sticky, port: 80}]
    timeouts: {backendRequest: 1s}
)"});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  auto w = DiagsOf(res.snapshot, code::kValue);
  ASSERT_THAT(w, SizeIs(1)) << Dump(res.snapshot);  // once per rule; none without `retry`
  EXPECT_EQ(w[0].source().field(), "spec.rules[0].retry");
  // The retry compiled into every split match.
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "sticky.shop.svc.cluster.local", 80);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->http_routes_size(), 3);
  EXPECT_EQ(t->http_routes(0).retries().attempts(), 2u);
  EXPECT_THAT(t->http_routes(0).retries().retriable_status_codes(), ElementsAre(503u));
}

// retryOn naming only gRPC conditions to http (HTTP/1.1) ports can never retry.
TEST(RouteChecks, GrpcRetryConditionsOnHttpPortsWarn) {
  auto res = CompileYaml({kRetryMesh, Vs("web", "shop", R"(  hosts: [web]
  http:
  - route: [{destination: {host: web}}]
    retries: {attempts: 3, retryOn: "unavailable,cancelled"}
  - route: [{destination: {host: web, port: {number: 80}}}]
    retries: {attempts: 3, retryOn: "unavailable"}
  - route: [{destination: {host: web}}]
    retries: {attempts: 3, retryOn: "unavailable,5xx"}
)"),
                          Vs("rpc", "shop", R"(  hosts: [rpc]
  http:
  - route: [{destination: {host: rpc}}]
    retries: {attempts: 3, retryOn: "unavailable,cancelled"}
)"),
                          // HTTP/2 upstream on an http port (h2UpgradePolicy): gRPC can flow.
                          Vs("h2web", "shop", R"(  hosts: [h2web]
  http:
  - route: [{destination: {host: h2web}}]
    retries: {attempts: 3, retryOn: "unavailable"}
)"),
                          R"(apiVersion: v1
kind: Service
metadata: {name: h2web, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: h2web, namespace: shop}
spec:
  host: h2web
  trafficPolicy:
    connectionPool: {http: {h2UpgradePolicy: UPGRADE}}
)"});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  auto w = DiagsOf(res.snapshot, code::kValue);
  ASSERT_THAT(w, SizeIs(2)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].source().name(), "web");
  EXPECT_EQ(w[0].source().field(), "spec.http[0].retries.retryOn");
  EXPECT_NE(w[0].message().find("ports 80, 8080 are http"), std::string::npos) << w[0].message();
  EXPECT_EQ(w[1].source().field(), "spec.http[1].retries.retryOn");
  EXPECT_NE(w[1].message().find("port 80 is http"), std::string::npos) << w[1].message();
}

TEST(HTTPRoutes, MatchesAreOrderedByGatewayApiPrecedence) {
  auto res = CompileYaml({kMesh, R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: order, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews}]
  rules:
  - name: short-prefix
    matches: [{path: {type: PathPrefix, value: /a}}]
    backendRefs: [{name: reviews, port: 9080}]
  - name: long-prefix-and-exact
    matches:
    - path: {type: PathPrefix, value: /a/b/c}
    - path: {type: Exact, value: /z}
    backendRefs: [{name: ratings, port: 9080}]
  - name: prefix-with-header
    matches: [{path: {type: PathPrefix, value: /a}, headers: [{name: x, value: "1"}]}]
    backendRefs: [{name: reviews, port: 9080}]
)"});
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr) << Dump(res.snapshot);
  std::vector<std::string> order;
  for (const auto& r : t->http_routes()) order.push_back(r.name() + " " + r.source().field());
  EXPECT_THAT(order, ElementsAre("long-prefix-and-exact spec.rules[1].matches[1]",
                                 "long-prefix-and-exact spec.rules[1].matches[0]",
                                 "prefix-with-header spec.rules[2]", "short-prefix spec.rules[0]"));
}

// A match without `path` is Gateway API's default `PathPrefix /`: it ties with an explicit "/"
// prefix on path, and its header (or method) match then puts it first. It must not rank
// below every PathPrefix, or a header-only rule would be shadowed by a catch-all rule.
TEST(HTTPRoutes, MatchWithoutPathRanksAsPrefixSlash) {
  auto res = CompileYaml({kMesh, R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: order, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews}]
  rules:
  - name: catch-all
    matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: reviews, port: 9080}]
  - name: header-only
    matches: [{headers: [{name: x-canary, value: "1"}]}]
    backendRefs: [{name: ratings, port: 9080}]
  - name: method-only
    matches: [{method: POST}]
    backendRefs: [{name: ratings, port: 9080}]
  - name: regex
    matches: [{path: {type: RegularExpression, value: "/r.*"}}]
    backendRefs: [{name: ratings, port: 9080}]
  - name: longer-prefix
    matches: [{path: {type: PathPrefix, value: /a}}]
    backendRefs: [{name: ratings, port: 9080}]
)"});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr) << Dump(res.snapshot);
  std::vector<std::string> order;
  for (const auto& r : t->http_routes()) order.push_back(r.name());
  EXPECT_THAT(order,
              ElementsAre("longer-prefix", "method-only", "header-only", "catch-all", "regex"));
}

TEST(HTTPRoutes, AMissingParentIsAnErrorAMissingBackendAWarning) {
  auto res = CompileYaml({kMesh, R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: nope}]
  rules:
  - backendRefs: [{name: ghost, port: 80}]
)"});
  auto e = DiagsOf(res.snapshot, code::kReference);
  ASSERT_THAT(e, SizeIs(2)) << Dump(res.snapshot);
  EXPECT_EQ(e[0].message(), "parent Service shop/nope does not exist");
  EXPECT_EQ(e[0].severity(), pb::Diagnostic::ERROR);
  EXPECT_EQ(e[0].source().field(), "spec.parentRefs[0]");
  EXPECT_EQ(e[1].message(),
            "backend Service shop/ghost does not exist: its share of the requests gets 500");
  EXPECT_EQ(e[1].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(e[1].source().field(), "spec.rules[0].backendRefs[0]");
  EXPECT_THAT(ExcludedNames(res.snapshot), ElementsAre("HTTPRoute/shop/bad"));
}

// Gateway API: a backendRef that cannot be resolved does not invalidate the route; the
// requests that would have gone to it get 500 (a destination without a hostname), the others
// flow. The weights keep their meaning (no "all weights 0" warning for 90/10).
TEST(HTTPRoutes, AnUnresolvedBackendKeepsItsShareAs500) {
  auto res = CompileYaml({kMesh, R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: canary, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - backendRefs:
    - {name: reviews, port: 9080, weight: 90}
    - {name: missing, port: 9080, weight: 10}
    - {group: example.com, kind: Bucket, name: b, weight: 0}
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: gone, port: 80}}
)"});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  EXPECT_THAT(DiagsOf(res.snapshot, code::kWeights), IsEmpty()) << Dump(res.snapshot);
  auto refs = DiagsOf(res.snapshot, code::kReference);
  ASSERT_THAT(refs, SizeIs(2)) << Dump(res.snapshot);
  EXPECT_EQ(refs[1].message(),
            "backend Service shop/gone does not exist: nothing is mirrored to it");
  auto kinds = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(kinds, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(kinds[0].message(),
            "backendRef kind \"example.com/Bucket\" is not supported: its share of the requests "
            "gets 500");
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local", 9080);
  ASSERT_NE(t, nullptr) << Dump(res.snapshot);
  ASSERT_EQ(t->http_routes_size(), 1);
  const auto& d = t->http_routes(0).destinations();
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d[0].hostname(), "reviews.shop.svc.cluster.local");
  EXPECT_EQ(d[0].weight(), 90u);
  EXPECT_EQ(d[1].hostname(), "");
  EXPECT_EQ(d[1].weight(), 10u);
  EXPECT_EQ(d[2].hostname(), "");
  EXPECT_EQ(d[2].weight(), 0u);
  EXPECT_EQ(t->http_routes(0).mirrors_size(), 0);
}

// Routes of a Gateway (north-south) or a ServiceImport, or with no parent at all, are valid
// and not served by weft: a note each, no error, nothing compiled, their backends and
// hostnames not looked at (hostnames mean something there).
TEST(HTTPRoutes, RoutesOfGatewaysAreNotServed) {
  auto res = CompileYaml({kMesh, R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: north-south, namespace: shop}
spec:
  parentRefs: [{name: my-gateway}]
  hostnames: [shop.example.com]
  rules:
  - backendRefs: [{name: nowhere, port: 9080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: imported, namespace: shop}
spec:
  parentRefs: [{group: multicluster.x-k8s.io, kind: ServiceImport, name: reviews}]
  rules:
  - backendRefs: [{name: reviews, port: 9080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: orphan, namespace: shop}
spec:
  rules:
  - backendRefs: [{name: reviews, port: 9080}]
)"});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  auto d = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(d, SizeIs(3)) << Dump(res.snapshot);
  for (const auto& x : d) EXPECT_EQ(x.severity(), pb::Diagnostic::NOTE) << x.message();
  EXPECT_EQ(d[0].message(),
            "parentRef Gateway my-gateway is not served by weft, which serves mesh (GAMMA) "
            "routes, whose parent is a Service");
  EXPECT_THAT(DiagsOf(res.snapshot, code::kReference), IsEmpty());
  EXPECT_EQ(res.snapshot.route_tables_size(), 0);
}

// hostnames on a GAMMA route are ignored (a warning at the field itself).
TEST(HTTPRoutes, HostnamesOfAMeshRouteWarnAtTheField) {
  auto res = CompileYaml({kMesh, R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: mesh, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  hostnames: [reviews.shop.svc.cluster.local]
  rules:
  - backendRefs: [{name: reviews, port: 9080}]
)"});
  auto d = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(d, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(d[0].source().field(), "spec.hostnames");
  EXPECT_EQ(d[0].source().line(), 6u);
  EXPECT_EQ(d[0].severity(), pb::Diagnostic::WARNING);
}

std::string Hr(const std::string& name, const std::string& created, const std::string& rules) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " + name +
         ", namespace: shop, creationTimestamp: \"" + created +
         "\"}\nspec:\n  parentRefs: [{group: \"\", kind: Service, name: reviews, port: 9080}]\n"
         "  rules:\n" +
         rules;
}

// Gateway API merges the HTTPRoutes of one parent: one table, rules in precedence order, ties
// to the older route.
TEST(HTTPRoutes, RoutesOfOneParentAreMerged) {
  auto res = CompileYaml({kMesh,
                          Hr("old", "2026-01-01T00:00:00Z",
                             "  - matches: [{path: {type: PathPrefix, value: /a}}]\n"
                             "    backendRefs: [{name: reviews, port: 9080}]\n"
                             "  - matches: [{path: {type: PathPrefix, value: /tie}}]\n"
                             "    backendRefs: [{name: reviews, port: 9080}]\n"),
                          Hr("new", "2026-02-01T00:00:00Z",
                             "  - matches: [{path: {type: Exact, value: /a/b}}]\n"
                             "    backendRefs: [{name: ratings, port: 9080}]\n"
                             "  - matches: [{path: {type: PathPrefix, value: /tie}}]\n"
                             "    backendRefs: [{name: ratings, port: 9080}]\n")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::RouteTable* t = FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local", 9080);
  ASSERT_NE(t, nullptr) << Dump(res.snapshot);
  std::vector<std::string> order;
  for (const auto& r : t->http_routes()) {
    const auto& uri = r.matches(0).uri();
    order.push_back((uri.has_exact() ? "= " + uri.exact() : "^ " + uri.path_prefix()) + " " +
                    r.source().name());
  }
  EXPECT_THAT(order, ElementsAre("= /a/b new", "^ /tie old", "^ /tie new", "^ /a old"));
}

// A VirtualService and an HTTPRoute for one host still conflict: the older wins.
TEST(HTTPRoutes, AVirtualServiceAndAnHTTPRouteOfOneHostConflict) {
  auto res = CompileYaml(
      {kMesh,
       Vs("vs", "shop", "  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]\n",
          "2026-01-01T00:00:00Z"),
       R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hr, namespace: shop, creationTimestamp: "2026-02-01T00:00:00Z"}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews}]
  rules: [{backendRefs: [{name: reviews, port: 9080}]}]
)"});
  auto c = DiagsOf(res.snapshot, code::kConflict);
  ASSERT_THAT(c, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_THAT(ExcludedNames(res.snapshot), ElementsAre("HTTPRoute/shop/hr"));
}

}  // namespace
}  // namespace weft::policy
