// Decoding of gateway.networking.k8s.io: HTTPRoute (GAMMA: parentRefs naming a Service) and
// Gateway (waypoints: classes weft-waypoint and istio-waypoint).

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
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr char kRoute[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: shop}
spec:
  parentRefs:
  - {group: "", kind: Service, name: reviews, port: 9080}
  - {name: gw, namespace: infra}
  rules:
  - name: first
    matches:
    - path: {type: PathPrefix, value: /api}
      headers:
      - {name: x-env, value: canary}
      - {type: RegularExpression, name: x-id, value: "^[0-9]+$"}
      queryParams: [{name: debug, value: "1"}]
      method: POST
    - path: {type: Exact, value: /exact}
    - path: {type: RegularExpression, value: "^/r/.*"}
    - headers: [{name: only-header, value: x}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: x-a, value: "1"}]
        add: [{name: x-b, value: "2"}]
        remove: [x-c]
    - type: ResponseHeaderModifier
      responseHeaderModifier: {remove: [server]}
    - type: URLRewrite
      urlRewrite: {hostname: internal, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: shadow, port: 80}, percent: 25}
    backendRefs:
    - name: reviews-v1
      port: 9080
      weight: 3
    - name: reviews-v2
      namespace: other
      port: 9080
      weight: 1
      filters:
      - type: ResponseHeaderModifier
        responseHeaderModifier: {set: [{name: x-v, value: "2"}]}
    timeouts: {request: 10s, backendRequest: 2s}
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, hostname: new.example.com, port: 443, statusCode: 301, path: {type: ReplaceFullPath, replaceFullPath: /new}}
  - backendRefs: [{name: reviews-v1, port: 9080}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /all}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: shadow, port: 80}, fraction: {numerator: 1, denominator: 8}}
)";

TEST(HTTPRoute, ParentRefs) {
  auto r = DecodeSpec<HTTPRouteSpec>(kRoute);
  ASSERT_THAT(r.parents, SizeIs(2));
  EXPECT_EQ(r.parents[0].group, "");
  EXPECT_EQ(r.parents[0].kind, "Service");
  EXPECT_EQ(r.parents[0].name, "reviews");
  EXPECT_EQ(r.parents[0].port, 9080u);
  EXPECT_EQ(r.parents[0].pos.field, "spec.parentRefs[0]");
  // Gateway API defaults parentRef kind to Gateway.
  EXPECT_EQ(r.parents[1].kind, "Gateway");
  EXPECT_EQ(r.parents[1].ns, "infra");
  ASSERT_THAT(r.rules, SizeIs(3));
}

TEST(HTTPRoute, Matches) {
  auto r = DecodeSpec<HTTPRouteSpec>(kRoute);
  const pb::HttpRoute& route = r.rules[0].route;
  EXPECT_EQ(route.name(), "first");
  EXPECT_EQ(route.source().field(), "spec.rules[0]");
  EXPECT_EQ(route.source().line(), 9u);
  ASSERT_EQ(route.matches_size(), 4);
  const auto& m0 = route.matches(0);
  EXPECT_EQ(m0.uri().path_prefix(), "/api");
  ASSERT_EQ(m0.headers_size(), 2);
  EXPECT_EQ(m0.headers(0).name(), "x-env");
  EXPECT_EQ(m0.headers(0).value().exact(), "canary");  // type defaults to Exact
  EXPECT_EQ(m0.headers(1).value().regex(), "^[0-9]+$");
  ASSERT_EQ(m0.query_params_size(), 1);
  EXPECT_EQ(m0.query_params(0).value().exact(), "1");
  EXPECT_EQ(m0.method().exact(), "POST");
  EXPECT_EQ(route.matches(1).uri().exact(), "/exact");
  EXPECT_EQ(route.matches(2).uri().regex(), "^/r/.*");
  EXPECT_FALSE(route.matches(3).has_uri());
  EXPECT_EQ(route.matches(3).headers(0).name(), "only-header");
}

TEST(HTTPRoute, FiltersBackendsAndTimeouts) {
  auto r = DecodeSpec<HTTPRouteSpec>(kRoute);
  const auto& rule = r.rules[0];
  const pb::HttpRoute& route = rule.route;
  EXPECT_EQ(route.request_headers().set().at("x-a"), "1");
  EXPECT_EQ(route.request_headers().add().at("x-b"), "2");
  EXPECT_THAT(route.request_headers().remove(), ElementsAre("x-c"));
  EXPECT_THAT(route.response_headers().remove(), ElementsAre("server"));
  EXPECT_EQ(route.rewrite().authority(), "internal");
  EXPECT_EQ(route.rewrite().uri(), "/v2");
  EXPECT_FALSE(route.rewrite().full_path());
  ASSERT_EQ(route.mirrors_size(), 1);
  EXPECT_DOUBLE_EQ(route.mirrors(0).percent(), 25.0);
  ASSERT_THAT(rule.mirrors, SizeIs(1));
  EXPECT_EQ(rule.mirrors[0].name, "shadow");
  EXPECT_EQ(rule.mirrors[0].port, 80u);
  ASSERT_THAT(rule.backends, SizeIs(2));
  EXPECT_EQ(rule.backends[0].name, "reviews-v1");
  EXPECT_EQ(rule.backends[0].kind, "Service");
  EXPECT_EQ(rule.backends[0].port, 9080u);
  EXPECT_EQ(rule.backends[0].weight, 3u);
  EXPECT_EQ(rule.backends[1].ns, "other");
  EXPECT_EQ(rule.backends[1].weight, 1u);
  EXPECT_EQ(rule.backends[1].response_headers.set().at("x-v"), "2");
  EXPECT_EQ(route.timeout_ms(), 10000u);
  EXPECT_EQ(route.retries().per_try_timeout_ms(), 2000u);
  // Default weight is 1, as in Gateway API.
  EXPECT_EQ(r.rules[2].backends[0].weight, 1u);
}

TEST(HTTPRoute, RedirectFullPathRewriteAndMirrorFraction) {
  auto r = DecodeSpec<HTTPRouteSpec>(kRoute);
  const auto& rd = r.rules[1].route.redirect();
  EXPECT_EQ(rd.scheme(), "https");
  EXPECT_EQ(rd.authority(), "new.example.com");
  EXPECT_EQ(rd.port(), 443u);
  EXPECT_EQ(rd.response_code(), 301u);
  EXPECT_EQ(rd.uri(), "/new");
  EXPECT_THAT(r.rules[1].backends, SizeIs(0));
  EXPECT_EQ(r.rules[2].route.rewrite().uri(), "/all");
  EXPECT_TRUE(r.rules[2].route.rewrite().full_path());
  EXPECT_DOUBLE_EQ(r.rules[2].route.mirrors(0).percent(), 12.5);
}

TEST(HTTPRoute, PathWithoutValueMatchesEverything) {
  auto r = DecodeSpec<HTTPRouteSpec>(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{kind: Service, name: s, group: ""}]
  rules:
  - matches: [{path: {type: PathPrefix}}]
    backendRefs: [{name: s, port: 80}]
)");
  EXPECT_EQ(r.rules[0].route.matches(0).uri().path_prefix(), "/");
}

TEST(HTTPRoute, BadValues) {
  auto d = DecodeSingle(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: shop}
spec:
  parentRefs: [{kind: Service}]
  rules:
  - matches:
    - path: {type: PathPrefix, value: api}
      method: FETCH
    filters:
    - type: ExtensionRef
      extensionRef: {group: x, kind: y, name: z}
    backendRefs:
    - name: s
    timeouts: {request: 1s, backendRequest: 2s}
    retry: {attempts: 2}
)");
  EXPECT_TRUE(d.rejected);
  std::vector<std::string> got;
  for (const auto& x : d.diagnostics) {
    got.push_back(std::string(SeverityName(x.severity)) + " " + x.code + " " +
                  std::to_string(x.line) + ":" + std::to_string(x.column) + " " + x.field);
  }
  EXPECT_THAT(got, ElementsAre("error missing-field 5:16 spec.parentRefs[0].name",
                               "error value 8:39 spec.rules[0].matches[0].path.value",
                               "error value 9:15 spec.rules[0].matches[0].method",
                               "error unsupported 11:13 spec.rules[0].filters[0].type",
                               "error missing-field 14:7 spec.rules[0].backendRefs[0].port",
                               "error value 15:45 spec.rules[0].timeouts.backendRequest"))
      << Dump(d.diagnostics);
}

// HTTPRouteRetry (Gateway API v1.2+, experimental): codes 400-599, attempts >= 0, backoff, as
// Istio converts it: retry_on stays empty (Istio's connection-error set) plus the codes.
TEST(HTTPRoute, Retry) {
  auto hr = DecodeSpec<HTTPRouteSpec>(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: shop}
spec:
  parentRefs: [{kind: Service, name: s}]
  rules:
  - backendRefs: [{name: s, port: 80}]
    retry: {codes: [500, 503], attempts: 4, backoff: 100ms}
    timeouts: {request: 10s, backendRequest: 2s}
  - backendRefs: [{name: s, port: 80}]
    retry: {}
  - backendRefs: [{name: s, port: 80}]
    retry: {attempts: 0}
  - backendRefs: [{name: s, port: 80}]
    timeouts: {backendRequest: 3s}
  - backendRefs: [{name: s, port: 80}]
)");
  ASSERT_THAT(hr.rules, SizeIs(5));
  const pb::RetryPolicy& a = hr.rules[0].route.retries();
  EXPECT_EQ(a.attempts(), 4u);
  EXPECT_THAT(a.retriable_status_codes(), ElementsAre(500u, 503u));
  EXPECT_THAT(a.retry_on(), IsEmpty());
  EXPECT_EQ(a.backoff_base_ms(), 100u);
  EXPECT_EQ(a.per_try_timeout_ms(), 2000u);  // backendRequest: each attempt's timeout
  EXPECT_EQ(hr.rules[0].route.timeout_ms(), 10000u);
  EXPECT_EQ(hr.rules[0].retry_pos.field, "spec.rules[0].retry");
  EXPECT_EQ(hr.rules[0].retry_pos.mark.line, 8u);
  // No attempts: Istio's 2.
  ASSERT_TRUE(hr.rules[1].route.has_retries());
  EXPECT_EQ(hr.rules[1].route.retries().attempts(), 2u);
  EXPECT_THAT(hr.rules[1].route.retries().retriable_status_codes(), IsEmpty());
  // attempts: 0 disables retries.
  ASSERT_TRUE(hr.rules[2].route.has_retries());
  EXPECT_EQ(hr.rules[2].route.retries().attempts(), 0u);
  // backendRequest without retry: per-try timeout, and Istio's default policy's 2 attempts
  // (not 0, which would disable the default retries).
  ASSERT_TRUE(hr.rules[3].route.has_retries());
  EXPECT_EQ(hr.rules[3].route.retries().attempts(), 2u);
  EXPECT_EQ(hr.rules[3].route.retries().per_try_timeout_ms(), 3000u);
  EXPECT_EQ(hr.rules[3].retry_pos.mark.line, 0u);  // not written: no retry warnings
  EXPECT_FALSE(hr.rules[4].route.has_retries());
}

TEST(HTTPRoute, RetryErrors) {
  auto d = DecodeSingle(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: shop}
spec:
  parentRefs: [{kind: Service, name: s}]
  rules:
  - backendRefs: [{name: s, port: 80}]
    retry: {codes: [200, 503, x], attempts: -1, backoff: soon, onError: true}
  - backendRefs: [{name: s, port: 80}]
    retry: {attempts: 3}
    timeouts: {request: 2s, backendRequest: 2s}
)");
  EXPECT_TRUE(d.rejected);
  std::vector<std::string> got;
  for (const auto& x : d.diagnostics) {
    got.push_back(std::string(SeverityName(x.severity)) + " " + x.code + " " + x.field);
  }
  EXPECT_THAT(got, UnorderedElementsAre("error value spec.rules[0].retry.codes[0]",
                                        "error type spec.rules[0].retry.codes[2]",
                                        "error value spec.rules[0].retry.attempts",
                                        "error duration spec.rules[0].retry.backoff",
                                        "error unknown-field spec.rules[0].retry.onError",
                                        "warning value spec.rules[1].timeouts.backendRequest"))
      << Dump(d.diagnostics);
}

TEST(HTTPRoute, OnlyV1) {
  auto d = DecodeSingle(
      "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\nmetadata: {name: r}\n"
      "spec: {}\n");
  EXPECT_TRUE(d.rejected);
  auto v = OfCode(d.diagnostics, code::kValue);
  ASSERT_THAT(v, SizeIs(1)) << Dump(d.diagnostics);
  EXPECT_EQ(v[0].message, "version \"v1beta1\" of HTTPRoute is not supported (supported: v1)");
}

TEST(HTTPRoute, OtherGatewayKindsWarn) {
  auto d = DecodeSingle(
      "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: r}\n"
      "spec: {}\n");
  EXPECT_FALSE(d.rejected);
  EXPECT_FALSE(d.resource);
  ASSERT_THAT(d.diagnostics, SizeIs(1));
  EXPECT_EQ(d.diagnostics[0].code, "unsupported");
  EXPECT_EQ(d.diagnostics[0].severity, Severity::kWarning);
}

// ---- Gateway ----

// All of a diagnostic list as "severity code line:col field", for exact comparisons.
std::vector<std::string> Summary(const std::vector<Diagnostic>& diags) {
  std::vector<std::string> got;
  for (const auto& x : diags) {
    got.push_back(std::string(SeverityName(x.severity)) + " " + x.code + " " +
                  std::to_string(x.line) + ":" + std::to_string(x.column) + " " + x.field);
  }
  return got;
}

// The waypoint of docs/waypoint.md, as `weftctl waypoint generate --node node1` prints it.
constexpr char kWaypoint[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: demo
  annotations:
    weft.dev/node: node1          # local mode: the node that runs it (default: the first)
spec:
  gatewayClassName: weft-waypoint # istio-waypoint is accepted too
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
)";

TEST(Gateway, ValidWaypointDecodesWithoutDiagnostics) {
  DecodedDocument d = DecodeSingle(kWaypoint);
  EXPECT_FALSE(d.rejected);
  EXPECT_THAT(d.diagnostics, IsEmpty()) << Dump(d.diagnostics);
  ASSERT_TRUE(d.resource);
  EXPECT_EQ(d.resource->kind, Kind::kGateway);
  EXPECT_EQ(KindName(d.resource->kind), "Gateway");
  EXPECT_EQ(d.resource->meta.ns, "demo");
  const auto& g = d.resource->as<GatewaySpec>();
  EXPECT_EQ(g.gateway_class, "weft-waypoint");
  EXPECT_TRUE(g.waypoint);
  EXPECT_EQ(g.node, "node1");
  ASSERT_THAT(g.listeners, SizeIs(1));
  EXPECT_EQ(g.mesh_listener, 0u);
  EXPECT_EQ(g.listeners[0].name, "mesh");
  EXPECT_EQ(g.listeners[0].port, 15008u);
  EXPECT_EQ(g.listeners[0].protocol, "HBONE");
  EXPECT_EQ(g.listeners[0].routes_from, "Same");
  EXPECT_EQ(g.listeners[0].pos.field, "spec.listeners[0]");
}

TEST(Gateway, IstioWaypointV1beta1WithAllowedRoutes) {
  // What `istioctl waypoint generate` writes, plus cross-namespace use.
  auto g = DecodeSpec<GatewaySpec>(R"(apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata:
  name: waypoint
  namespace: infra
  labels: {istio.io/waypoint-for: service}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels: {kubernetes.io/metadata.name: info}
          matchExpressions:
          - {key: tier, operator: NotIn, values: [test]}
          - {key: team, operator: Exists}
      kinds: [{kind: HTTPRoute}, {group: gateway.networking.k8s.io, kind: GRPCRoute}]
)");
  EXPECT_TRUE(g.waypoint);
  EXPECT_EQ(g.node, "");
  ASSERT_THAT(g.listeners, SizeIs(1));
  const auto& l = g.listeners[0];
  EXPECT_EQ(l.routes_from, "Selector");
  ASSERT_TRUE(l.routes_selector);
  EXPECT_TRUE(l.routes_selector->Matches(
      {{"kubernetes.io/metadata.name", "info"}, {"team", "a"}, {"tier", "prod"}}));
  EXPECT_FALSE(l.routes_selector->Matches(
      {{"kubernetes.io/metadata.name", "info"}, {"team", "a"}, {"tier", "test"}}));
  EXPECT_FALSE(l.routes_selector->Matches({{"kubernetes.io/metadata.name", "info"}}));
  EXPECT_FALSE(l.routes_selector->Matches({{"team", "a"}}));
}

TEST(LabelSelector, Operators) {
  LabelSelector s;
  s.match_expressions = {{"a", "In", {"1", "2"}}, {"b", "DoesNotExist", {}}};
  EXPECT_TRUE(s.Matches({{"a", "2"}}));
  EXPECT_FALSE(s.Matches({{"a", "3"}}));
  EXPECT_FALSE(s.Matches({{"a", "1"}, {"b", "x"}}));
  EXPECT_TRUE(LabelSelector{}.Matches({}));
}

// Every field of the v1 Gateway schema, on a Gateway of another class: no errors, one note.
constexpr char kFullGateway[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: edge}
spec:
  gatewayClassName: example
  addresses:
  - {type: IPAddress, value: 192.0.2.10}
  - {type: Hostname, value: lb.example.com}
  - {type: example.com/pool, value: blue}
  - {value: "2001:db8::1"}
  infrastructure:
    labels: {team: edge}
    annotations: {example.com/lb: internal}
    parametersRef: {group: example.com, kind: Config, name: edge}
  listeners:
  - name: http
    hostname: "*.example.com"
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces: {from: All}
      kinds: [{kind: HTTPRoute}]
  - name: https
    hostname: shop.example.com
    port: 443
    protocol: HTTPS
    tls:
      mode: Terminate
      certificateRefs:
      - {group: "", kind: Secret, name: shop-cert, namespace: certs}
      options: {example.com/min-version: "1.3"}
    allowedRoutes:
      namespaces:
        from: Selector
        selector: {matchLabels: {shared: "true"}}
  - name: passthrough
    port: 8443
    protocol: TLS
    tls: {mode: Passthrough}
  - {name: raw, port: 9000, protocol: TCP}
  - {name: custom, port: 9001, protocol: example.com/custom}
)";

TEST(Gateway, EveryV1FieldOfAnotherClassIsANote) {
  DecodedDocument d = DecodeSingle(kFullGateway);
  EXPECT_FALSE(d.rejected) << Dump(d.diagnostics);
  ASSERT_TRUE(d.resource);
  EXPECT_THAT(Summary(d.diagnostics), ElementsAre("note unsupported 5:21 spec.gatewayClassName"))
      << Dump(d.diagnostics);
  EXPECT_EQ(d.diagnostics[0].message,
            "gateway class \"example\" is not served by weft (gateways come later); only "
            "waypoints (weft-waypoint, istio-waypoint) are");
  const auto& g = d.resource->as<GatewaySpec>();
  EXPECT_FALSE(g.waypoint);
  EXPECT_THAT(g.listeners, SizeIs(5));
  EXPECT_TRUE(g.listeners[1].has_tls);
  EXPECT_EQ(g.listeners[0].hostname, "*.example.com");
  EXPECT_EQ(g.listeners[0].routes_from, "All");
  ASSERT_THAT(g.addresses, SizeIs(4));
  EXPECT_EQ(g.addresses[3].type, "IPAddress");
  EXPECT_EQ(g.infrastructure_labels.at("team"), "edge");
  EXPECT_EQ(g.infrastructure_annotations.at("example.com/lb"), "internal");
}

TEST(Gateway, UnknownFieldsAreErrors) {
  auto d = DecodeSingle(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint}
spec:
  gatewayClassName: weft-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE, prot: x}
  listenrs: []
)");
  EXPECT_TRUE(d.rejected);
  EXPECT_FALSE(d.resource);
  EXPECT_THAT(Summary(d.diagnostics), ElementsAre("error unknown-field 7:48 spec.listeners[0].prot",
                                                  "error unknown-field 8:3 spec.listenrs"))
      << Dump(d.diagnostics);
}

TEST(Gateway, WaypointWithoutAnHboneListenerOn15008) {
  auto wrong_port = DecodeSingle(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint}
spec:
  gatewayClassName: weft-waypoint
  listeners:
  - {name: mesh, port: 15009, protocol: HBONE}
)");
  EXPECT_TRUE(wrong_port.rejected);
  EXPECT_THAT(Summary(wrong_port.diagnostics),
              ElementsAre("error value 7:24 spec.listeners[0].port"));
  EXPECT_EQ(wrong_port.diagnostics[0].message, "a waypoint's HBONE listener must be on port 15008");

  auto wrong_protocol = DecodeSingle(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint}
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HTTP}
)");
  EXPECT_TRUE(wrong_protocol.rejected);
  EXPECT_THAT(Summary(wrong_protocol.diagnostics),
              ElementsAre("error value 7:41 spec.listeners[0].protocol"));

  auto none = DecodeSingle(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint}
spec:
  gatewayClassName: weft-waypoint
  listeners:
  - {name: http, port: 80, protocol: HTTP}
)");
  EXPECT_TRUE(none.rejected);
  EXPECT_THAT(Summary(none.diagnostics), ElementsAre("error missing-field 7:3 spec.listeners"));
  EXPECT_EQ(none.diagnostics[0].message,
            "a waypoint needs the listener {name: mesh, port: 15008, protocol: HBONE}");

  auto missing = DecodeSingle(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint}
spec: {gatewayClassName: weft-waypoint}
)");
  EXPECT_TRUE(missing.rejected);
  EXPECT_THAT(Summary(missing.diagnostics), ElementsAre("error missing-field 4:7 spec.listeners"));
}

TEST(Gateway, OtherListenersAndWaypointOnlyFieldsWarn) {
  auto d = DecodeSingle(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  labels: {istio.io/waypoint-for: workload}
spec:
  gatewayClassName: weft-waypoint
  addresses: [{value: 10.0.0.1}]
  infrastructure:
    parametersRef: {group: "", kind: ConfigMap, name: wp}
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE, hostname: x.example.com}
  - {name: proxy, port: 15088, protocol: istio.io/PROXY}
)");
  EXPECT_FALSE(d.rejected) << Dump(d.diagnostics);
  EXPECT_THAT(Summary(d.diagnostics),
              ElementsAre("warning unsupported 12:5 spec.listeners[0].hostname",
                          "warning unsupported 13:5 spec.listeners[1]",
                          "warning unsupported 8:14 spec.addresses",
                          "warning unsupported 10:5 spec.infrastructure",
                          "warning unsupported 4:3 metadata.labels.istio.io/waypoint-for"))
      << Dump(d.diagnostics);
  EXPECT_EQ(d.diagnostics[1].message,
            "listener \"proxy\" (port 15088, istio.io/PROXY) is not served: a waypoint serves "
            "only its HBONE listener on port 15008");
  ASSERT_TRUE(d.resource);
  EXPECT_EQ(d.resource->as<GatewaySpec>().mesh_listener, 0u);
}

TEST(Gateway, BadValues) {
  auto d = DecodeSingle(R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  annotations: {weft.dev/node: Node_1}
spec:
  gatewayClassName: example
  addresses: [{type: IPAddress, value: not-an-ip}, {type: Bogus, value: x}]
  listeners:
  - {name: a, port: 80, protocol: "HT TP"}
  - {name: a, port: 0, protocol: HTTP, hostname: "bad_host"}
  - name: c
    port: 81
    protocol: HTTP
    allowedRoutes: {namespaces: {from: Selector}}
  - name: d
    port: 82
    protocol: HTTPS
    tls: {mode: Offload}
)");
  EXPECT_TRUE(d.rejected);
  EXPECT_THAT(
      Summary(d.diagnostics),
      ElementsAre("error value 4:3 metadata.annotations.weft.dev/node",
                  "error value 10:35 spec.listeners[0].protocol",
                  "error conflict 11:12 spec.listeners[1].name",
                  "error value 11:50 spec.listeners[1].hostname",
                  "error value 11:21 spec.listeners[1].port",
                  "error missing-field 15:33 spec.listeners[2].allowedRoutes.namespaces.selector",
                  "error value 19:17 spec.listeners[3].tls.mode",
                  "error value 8:40 spec.addresses[0].value",
                  "error value 8:59 spec.addresses[1].type",
                  "note unsupported 7:21 spec.gatewayClassName"))
      << Dump(d.diagnostics);
}

std::string RouteWithFilters(const std::string& filters) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
         "metadata: {name: r, namespace: shop}\nspec:\n"
         "  parentRefs: [{group: \"\", kind: Service, name: reviews, port: 9080}]\n"
         "  rules:\n  - filters:\n" +
         filters;
}

// Gateway API v1.5: statusCode is one of 301, 302, 303, 307, 308, and 302 when absent (the
// snapshot carries the default).
TEST(HTTPRoute, RedirectCodesOfTheStandardChannel) {
  for (int code : {301, 302, 303, 307, 308}) {
    auto r = DecodeSpec<HTTPRouteSpec>(RouteWithFilters(
        "    - {type: RequestRedirect, requestRedirect: {statusCode: " + std::to_string(code) +
        "}}\n"));
    EXPECT_EQ(r.rules[0].route.redirect().response_code(), static_cast<uint32_t>(code));
  }
  auto r = DecodeSpec<HTTPRouteSpec>(
      RouteWithFilters("    - {type: RequestRedirect, requestRedirect: {hostname: a.example}}\n"));
  EXPECT_EQ(r.rules[0].route.redirect().response_code(), 302u);
  for (int code : {300, 304, 309}) {
    auto d = DecodeSingle(RouteWithFilters(
        "    - {type: RequestRedirect, requestRedirect: {statusCode: " + std::to_string(code) +
        "}}\n"));
    EXPECT_TRUE(d.rejected) << code;
  }
}

// The CORS filter (v1.5 standard channel, Extended): validated as the CRD does, then a
// warning that it is not enforced yet.
TEST(HTTPRoute, CorsFilterValidatedAndNotEnforced) {
  auto d = DecodeSingle(RouteWithFilters(R"(    - type: CORS
      cors:
        allowOrigins: ["https://a.example", "http://*.b.example:8080"]
        allowMethods: [GET, POST]
        allowHeaders: [x-a]
        exposeHeaders: [x-b]
        maxAge: 60
        allowCredentials: true
)"));
  EXPECT_FALSE(d.rejected) << Dump(d.diagnostics);
  auto w = OfCode(d.diagnostics, code::kUnsupported);
  ASSERT_THAT(w, SizeIs(1)) << Dump(d.diagnostics);
  EXPECT_EQ(w[0].field, "spec.rules[0].filters[0].cors");
  EXPECT_NE(w[0].message.find("not enforced yet"), std::string::npos);
  for (const char* bad :
       {"allowOrigins: [\"ftp://a.example\"]", "allowOrigins: [\"*\", \"https://a.example\"]",
        "allowMethods: [GET, FETCH]", "allowMethods: [\"*\", GET]", "allowHeaders: [\"x a\"]",
        "maxAge: 0"}) {
    auto b = DecodeSingle(
        RouteWithFilters(std::string("    - type: CORS\n      cors: {") + bad + "}\n"));
    EXPECT_TRUE(b.rejected) << bad << Dump(b.diagnostics);
  }
}

// The schema's CEL rules: a filter's type names the one field it sets.
TEST(HTTPRoute, AFilterSetsTheFieldOfItsType) {
  auto missing = DecodeSingle(RouteWithFilters("    - {type: RequestRedirect}\n"));
  EXPECT_TRUE(missing.rejected);
  EXPECT_THAT(OfCode(missing.diagnostics, code::kMissingField), SizeIs(1))
      << Dump(missing.diagnostics);
  auto other = DecodeSingle(RouteWithFilters(
      "    - {type: URLRewrite, urlRewrite: {hostname: a}, requestRedirect: {hostname: b}}\n"));
  EXPECT_TRUE(other.rejected);
  auto v = OfCode(other.diagnostics, code::kValue);
  ASSERT_THAT(v, SizeIs(1)) << Dump(other.diagnostics);
  EXPECT_EQ(v[0].message, "requestRedirect must not be set for a filter of type URLRewrite");
}

}  // namespace
}  // namespace weft::policy
