// Diagnostics as a compiler prints them, one bad input per diagnostic class (code::k*), each
// checked as the full line a user sees: file:line:col: severity: Kind/ns/name: field: message.

#include "core/policy/diagnostics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using testing::CompileInputs;
using testing::Dump;
using ::testing::ElementsAre;
using testing::ExcludedNames;
using testing::FindRouteTable;
using testing::FindService;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// The snapshot's diagnostics in FormatDiagnostic's layout.
std::string Line(const pb::Diagnostic& d) {
  Diagnostic x;
  x.severity = d.severity() == pb::Diagnostic::ERROR     ? Severity::kError
               : d.severity() == pb::Diagnostic::WARNING ? Severity::kWarning
                                                         : Severity::kNote;
  x.code = d.code();
  x.message = d.message();
  x.resource.file = d.source().file();
  x.resource.kind = d.source().kind();
  x.resource.ns = d.source().namespace_();
  x.resource.name = d.source().name();
  x.line = d.source().line();
  x.column = d.source().column();
  x.field = d.source().field();
  return FormatDiagnostic(x);
}

// "[code] file:line:col: ..." for every diagnostic of the compile.
std::vector<std::string> Lines(const pb::MeshSnapshot& s) {
  std::vector<std::string> out;
  for (const auto& d : s.diagnostics()) out.push_back("[" + d.code() + "] " + Line(d));
  return out;
}

std::vector<std::string> CompileLines(const std::string& text) {
  return Lines(CompileInputs({{"mesh.yaml", text}}).snapshot);
}

constexpr char kCatalog[] = R"(apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: shop}
spec:
  selector: {app: catalog}
  ports: [{name: http, port: 80}]
)";

// ---- FormatDiagnostic ----

TEST(FormatDiagnostic, FullLine) {
  Diagnostic d;
  d.severity = Severity::kError;
  d.code = "type";
  d.message = "expected an integer";
  d.resource = {"dir/f.yaml", "DestinationRule", "networking.istio.io/v1", "shop", "catalog", 1, 1};
  d.line = 11;
  d.column = 25;
  d.field = "spec.trafficPolicy.connectionPool.tcp.maxConnections";
  EXPECT_EQ(FormatDiagnostic(d),
            "dir/f.yaml:11:25: error: DestinationRule/shop/catalog: "
            "spec.trafficPolicy.connectionPool.tcp.maxConnections: expected an integer");
}

TEST(FormatDiagnostic, FallsBackToTheResourcesLineAndOmitsWhatIsUnknown) {
  Diagnostic d;
  d.severity = Severity::kWarning;
  d.message = "m";
  d.resource = {"f.yaml", "Namespace", "v1", "", "shop", 4, 1};
  EXPECT_EQ(FormatDiagnostic(d), "f.yaml:4:1: warning: Namespace/shop: m");
  d.severity = Severity::kNote;
  d.resource = {};
  EXPECT_EQ(FormatDiagnostic(d), "<input>: note: m");
  d.resource.file = "x";
  d.resource.name = "n";
  d.line = 3;
  EXPECT_EQ(FormatDiagnostic(d), "x:3: note: ?/n: m");
}

TEST(FormatDiagnostic, ColourOnlyWhenAsked) {
  Diagnostic d;
  d.message = "m";
  d.resource.file = "f";
  std::string plain = FormatDiagnostic(d, false);
  std::string colour = FormatDiagnostic(d, true);
  EXPECT_EQ(plain.find('\033'), std::string::npos);
  EXPECT_NE(colour.find("\033[31m"), std::string::npos);  // red error
  EXPECT_NE(colour.find("\033[0m"), std::string::npos);
  d.severity = Severity::kWarning;
  EXPECT_NE(FormatDiagnostic(d, true).find("\033[35m"), std::string::npos);
}

TEST(DiagnosticSink, CountsErrorsAndStampsTheResource) {
  ResourceRef ref{"f", "Service", "v1", "n", "s", 2, 1};
  DiagnosticSink sink(ref);
  sink.Warning(code::kUnsupported, {3, 4}, "spec.x", "w");
  sink.Note(code::kUnusedKind, {}, "", "n");
  EXPECT_EQ(sink.error_count(), 0u);
  sink.Error(code::kValue, {5, 6}, "spec.y", "e");
  EXPECT_EQ(sink.error_count(), 1u);
  auto ds = sink.Take();
  ASSERT_THAT(ds, SizeIs(3));
  EXPECT_EQ(ds[2].resource, ref);
  EXPECT_EQ(ds[2].line, 5u);
  EXPECT_EQ(sink.error_count(), 0u);
  EXPECT_EQ(SeverityName(Severity::kNote), "note");
}

// ---- one bad input per class ----

TEST(DiagnosticClasses, YamlSyntax) {
  EXPECT_THAT(CompileLines(R"(apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: app: web
)"),
              ElementsAre("[yaml-syntax] mesh.yaml:7:16: error: Service/shop/web: mapping values "
                          "are not allowed in this context"));
}

TEST(DiagnosticClasses, TypeMaximoDeConexao) {
  EXPECT_THAT(CompileLines(R"(apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: catalog
  namespace: shop
spec:
  host: catalog
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1 -maximo de conexao
)"),
              ElementsAre("[type] mesh.yaml:11:25: error: DestinationRule/shop/catalog: "
                          "spec.trafficPolicy.connectionPool.tcp.maxConnections: expected an "
                          "integer, got \"1 -maximo de conexao\""));
}

TEST(DiagnosticClasses, DurationTempo) {
  EXPECT_THAT(CompileLines(R"(apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: catalog
  namespace: shop
spec:
  host: catalog
  trafficPolicy:
    outlierDetection:
      interval: 5s tempo
)"),
              ElementsAre("[duration] mesh.yaml:10:17: error: DestinationRule/shop/catalog: "
                          "spec.trafficPolicy.outlierDetection.interval: invalid duration \"5s "
                          "tempo\": unknown unit \"s tempo\"; expected a number followed by a unit "
                          "(h, m, s, ms, us, ns), e.g. \"5s\" or \"1m30s\""));
}

TEST(DiagnosticClasses, UnknownField) {
  EXPECT_THAT(CompileLines(std::string(kCatalog) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: catalog, namespace: shop}
spec:
  hosts: [catalog]
  htp:
  - route: [{destination: {host: catalog}}]
)"),
              ElementsAre("[value] mesh.yaml:12:3: error: VirtualService/shop/catalog: spec: "
                          "http, tcp or tls must be provided in virtual service",
                          "[unknown-field] mesh.yaml:13:3: error: VirtualService/shop/catalog: "
                          "spec.htp: unknown field \"htp\""));
}

TEST(DiagnosticClasses, MissingField) {
  EXPECT_THAT(CompileLines(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog, namespace: shop}
spec:
  subsets: [{name: v1}]
)"),
              ElementsAre("[missing-field] mesh.yaml:5:3: error: DestinationRule/shop/catalog: "
                          "spec.host: required field \"host\" is missing"));
}

TEST(DiagnosticClasses, ValueInvalidEnum) {
  EXPECT_THAT(CompileLines(std::string(kCatalog) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog, namespace: shop}
spec:
  host: catalog
  trafficPolicy:
    loadBalancer:
      simple: FASTEST
)"),
              ElementsAre("[value] mesh.yaml:15:15: error: DestinationRule/shop/catalog: "
                          "spec.trafficPolicy.loadBalancer.simple: invalid value \"FASTEST\"; "
                          "expected one of: UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, "
                          "ROUND_ROBIN, LEAST_REQUEST"));
}

TEST(DiagnosticClasses, ReferenceToAMissingHostAndSubset) {
  EXPECT_THAT(CompileLines(std::string(kCatalog) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: catalog, namespace: shop}
spec:
  hosts: [catalog]
  http:
  - route:
    - destination: {host: catalgo}
      weight: 50
    - destination: {host: catalog, subset: v1}
      weight: 50
)"),
              ElementsAre("[reference] mesh.yaml:15:27: error: VirtualService/shop/catalog: "
                          "spec.http[0].route[0].destination.host: destination host "
                          "\"catalgo.shop.svc.cluster.local\" matches no Service or ServiceEntry",
                          "[reference] mesh.yaml:17:44: error: VirtualService/shop/catalog: "
                          "spec.http[0].route[1].destination.subset: subset \"v1\" is not defined "
                          "by any DestinationRule for host \"catalog.shop.svc.cluster.local\""));
}

TEST(DiagnosticClasses, Conflict) {
  EXPECT_THAT(CompileLines(std::string(kCatalog) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: first, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [catalog]
  http: [{route: [{destination: {host: catalog}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: second, namespace: shop, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  hosts: [catalog.shop.svc.cluster.local]
  http: [{route: [{destination: {host: catalog}}]}]
)"),
              ElementsAre("[conflict] mesh.yaml:19:11: error: VirtualService/shop/second: "
                          "spec.hosts[0]: host \"catalog.shop.svc.cluster.local\" is already "
                          "routed by VirtualService shop/first (older; it wins)"));
}

TEST(DiagnosticClasses, Unsupported) {
  EXPECT_THAT(CompileLines(std::string(kCatalog) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: catalog, namespace: shop}
spec:
  hosts: [catalog]
  http:
  - route: [{destination: {host: catalog}}]
    corsPolicy: {allowOrigins: [{exact: "*"}]}
)"),
              ElementsAre("[unsupported] mesh.yaml:15:17: warning: VirtualService/shop/catalog: "
                          "spec.http[0].corsPolicy: corsPolicy is not enforced yet: requests pass "
                          "without CORS checks or headers"));
}

TEST(DiagnosticClasses, Weights) {
  EXPECT_THAT(CompileLines(std::string(kCatalog) + R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog, namespace: shop}
spec:
  host: catalog
  subsets: [{name: a}, {name: b}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: catalog, namespace: shop}
spec:
  hosts: [catalog]
  http:
  - route:
    - {destination: {host: catalog, subset: a}, weight: 30}
    - {destination: {host: catalog, subset: b}, weight: 30}
)"),
              ElementsAre("[weights] mesh.yaml:21:5: warning: VirtualService/shop/catalog: "
                          "spec.http[0]: destination weights sum to 60, not 100; they are "
                          "normalised to shares of 100"));
}

TEST(DiagnosticClasses, UnusedKind) {
  EXPECT_THAT(CompileLines(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: catalog, namespace: shop}
spec: {}
)"),
              ElementsAre("[unused-kind] mesh.yaml:2:7: note: Deployment/shop/catalog: kind: "
                          "apps/v1 Deployment is not used by weft; ignored"));
}

// kIo comes from the file loader (core/source); see tests/core/source/files_test.cc.

// ---- a broken resource is rejected alone ----

constexpr char kMixed[] = R"(apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: shop}
spec:
  selector: {app: catalog}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog, namespace: shop}
spec:
  host: catalog
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1 -maximo de conexao}
---
apiVersion: v1
kind: Service
metadata: {name: webapp, namespace: shop}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: webapp, namespace: shop}
spec:
  hosts: [webapp]
  http: [{route: [{destination: {host: webapp}}], retries: {attempts: 3, perTryTimeout: 2s}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ghost, namespace: shop}
spec:
  hosts: [catalog]
  http: [{route: [{destination: {host: ghost}}]}]
---
kind: Service
apiVersion: v1
metadata: {name: broken-yaml, namespace: shop}
spec: [unclosed
)";

TEST(RejectedAlone, TheRestCompilesAndExcludedSaysWhatWasLeftOut) {
  auto res = CompileInputs({{"mixed.yaml", kMixed}});
  EXPECT_TRUE(res.has_errors);
  const pb::MeshSnapshot& s = res.snapshot;
  // The good resources are all there.
  EXPECT_NE(FindService(s, "catalog.shop.svc.cluster.local"), nullptr);
  EXPECT_NE(FindService(s, "webapp.shop.svc.cluster.local"), nullptr);
  const pb::RouteTable* t = FindRouteTable(s, "webapp.shop.svc.cluster.local");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->http_routes(0).retries().attempts(), 3u);
  // The broken ones are not, and nothing of them leaks in.
  EXPECT_EQ(s.cluster_policies_size(), 0);
  EXPECT_EQ(FindRouteTable(s, "catalog.shop.svc.cluster.local"), nullptr);
  EXPECT_EQ(s.services_size(), 2);
  EXPECT_THAT(ExcludedNames(s),
              ElementsAre("DestinationRule/shop/catalog", "VirtualService/shop/ghost",
                          "Service/shop/broken-yaml"));
  // Each with where it is and why.
  EXPECT_EQ(s.excluded(0).source().file(), "mixed.yaml");
  EXPECT_EQ(s.excluded(0).source().line(), 8u);
  EXPECT_EQ(s.excluded(0).reason(), "expected an integer, got \"1 -maximo de conexao\"");
  EXPECT_EQ(s.excluded(1).source().line(), 30u);
  EXPECT_EQ(s.excluded(1).reason(),
            "destination host \"ghost.shop.svc.cluster.local\" matches no Service or "
            "ServiceEntry");
  EXPECT_EQ(s.excluded(2).source().line(), 36u);
  EXPECT_THAT(s.excluded(2).reason(), ::testing::HasSubstr("did not find expected"));
  EXPECT_THAT(Lines(s),
              ElementsAre("[type] mixed.yaml:15:29: error: DestinationRule/shop/catalog: "
                          "spec.trafficPolicy.connectionPool.tcp.maxConnections: expected an "
                          "integer, got \"1 -maximo de conexao\"",
                          "[reference] mixed.yaml:35:40: error: VirtualService/shop/ghost: "
                          "spec.http[0].route[0].destination.host: destination host "
                          "\"ghost.shop.svc.cluster.local\" matches no Service or ServiceEntry",
                          ::testing::StartsWith("[yaml-syntax] mixed.yaml:41:1: error: "
                                                "Service/shop/broken-yaml: ")))
      << Dump(s);
}

TEST(RejectedAlone, DiagnosticsAreOrderedByFileAndLine) {
  auto res =
      CompileInputs({{"b.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"},
                     {"a.yaml", std::string(kCatalog) + "---\napiVersion: apps/v1\nkind: "
                                                        "Job\nmetadata: {name: j}\n"}});
  std::vector<std::string> where;
  for (const auto& d : res.snapshot.diagnostics()) {
    where.push_back(d.source().file() + ":" + std::to_string(d.source().line()));
  }
  EXPECT_THAT(where, ElementsAre("a.yaml:9", "b.yaml:2"));
}

}  // namespace
}  // namespace weft::policy
