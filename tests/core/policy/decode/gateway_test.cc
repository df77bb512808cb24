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
using ::testing::Not;
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
      urlRewrite: {hostname: internal, path: {type: ReplaceFullPath, replaceFullPath: /v2}}
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
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /all}}
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
  EXPECT_TRUE(route.rewrite().full_path());
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
  // replacePrefixMatch (the rule's one match: the default PathPrefix "/").
  EXPECT_EQ(r.rules[2].route.rewrite().uri(), "/all");
  EXPECT_FALSE(r.rules[2].route.rewrite().full_path());
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
      extensionRef: {group: x, kind: Filter, name: z}
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
                  "warning missing-field 15:33 spec.listeners[2].allowedRoutes.namespaces.selector",
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

// ---- The CRDs' schema and CEL rules (Gateway API v1.6.3, standard channel) ----

// Whether `d` has an error at `field` whose message contains `text`.
bool HasError(const DecodedDocument& d, std::string_view field, std::string_view text) {
  for (const auto& x : d.diagnostics) {
    if (x.severity == Severity::kError && x.field == field &&
        x.message.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string Route(const std::string& spec) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
         "metadata: {name: r, namespace: shop}\nspec:\n" +
         spec;
}

std::string RouteRule(const std::string& rule) {
  return Route(
      "  parentRefs: [{group: \"\", kind: Service, name: reviews, port: 9080}]\n"
      "  rules:\n  - " +
      rule + "\n");
}

std::string Repeat(const std::string& item, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? ", " : "") + item;
  return out;
}

TEST(HTTPRoute, SchemaLengthsPatternsAndItems) {
  struct Case {
    std::string yaml, field, text;
  };
  std::vector<Case> cases = {
      {Route("  parentRefs: [{name: \"\"}]\n"), "spec.parentRefs[0].name", "must not be empty"},
      {Route("  parentRefs: [{name: a, kind: \"\"}]\n"), "spec.parentRefs[0].kind",
       "must not be empty"},
      {Route("  parentRefs: [{name: a, namespace: Shop}]\n"), "spec.parentRefs[0].namespace",
       "must match"},
      {Route("  parentRefs: [{name: a, sectionName: \"\"}]\n"), "spec.parentRefs[0].sectionName",
       "must not be empty"},
      {Route("  parentRefs: [" + Repeat("{name: a}", 33) + "]\n"), "spec.parentRefs",
       "at most 32 items"},
      {Route("  hostnames: [\"*\"]\n"), "spec.hostnames[0]", "must match"},
      {Route("  hostnames: [Example.COM]\n"), "spec.hostnames[0]", "must match"},
      {Route("  hostnames: [\"\"]\n"), "spec.hostnames[0]", "must not be empty"},
      {Route("  hostnames: [" + Repeat("a.example", 17) + "]\n"), "spec.hostnames",
       "at most 16 items"},
      {Route("  rules: []\n"), "spec.rules", "at least one item"},
      {Route("  rules: [" + Repeat("{}", 17) + "]\n"), "spec.rules", "at most 16 items"},
      {RouteRule("name: \"\""), "spec.rules[0].name", "must not be empty"},
      {RouteRule("name: " + std::string(254, 'a')), "spec.rules[0].name", "at most 253"},
      {RouteRule("matches: [" + Repeat("{}", 65) + "]"), "spec.rules[0].matches",
       "at most 64 items"},
      {RouteRule("matches: [{headers: [{name: \"\", value: v}]}]"),
       "spec.rules[0].matches[0].headers[0].name", "must not be empty"},
      {RouteRule("matches: [{headers: [{name: x}]}]"), "spec.rules[0].matches[0].headers[0].value",
       "required"},
      {RouteRule("matches: [{queryParams: [{name: x, value: " + std::string(1025, 'a') + "}]}]"),
       "spec.rules[0].matches[0].queryParams[0].value", "at most 1024"},
      {RouteRule("matches: [{headers: [{name: x, value: a}, {name: x, value: b}]}]"),
       "spec.rules[0].matches[0].headers[1].name", "duplicate name"},
      {RouteRule("backendRefs: [{name: \"\", port: 80}]"), "spec.rules[0].backendRefs[0].name",
       "must not be empty"},
      {RouteRule("backendRefs: [{name: a, port: 80, kind: " + std::string(64, 'a') + "}]"),
       "spec.rules[0].backendRefs[0].kind", "at most 63"},
      {RouteRule("backendRefs: [" + Repeat("{name: a, port: 80}", 17) + "]"),
       "spec.rules[0].backendRefs", "at most 16 items"},
      {RouteRule("timeouts: {request: 1.5s}"), "spec.rules[0].timeouts.request",
       "invalid duration"},
  };
  for (const auto& c : cases) {
    auto d = DecodeSingle(c.yaml);
    EXPECT_TRUE(d.rejected) << c.yaml;
    EXPECT_TRUE(HasError(d, c.field, c.text)) << c.yaml << Dump(d.diagnostics);
  }
}

TEST(HTTPRoute, FilterSchemaAndCelRules) {
  struct Case {
    std::string filters, field, text;
  };
  std::vector<Case> cases = {
      {"- {requestHeaderModifier: {remove: [a]}}", "spec.rules[0].filters[0].type", "required"},
      {"- {type: RequestHeaderModifier, requestHeaderModifier: {remove: [a]}}\n"
       "    - {type: RequestHeaderModifier, requestHeaderModifier: {remove: [b]}}",
       "spec.rules[0].filters", "RequestHeaderModifier filter cannot be repeated"},
      {"- {type: RequestRedirect, requestRedirect: {port: 8080}}\n"
       "    - {type: URLRewrite, urlRewrite: {hostname: a}}",
       "spec.rules[0].filters", "but not both"},
      {"- {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: a, value: "
       "\"1\"}, {name: a, value: \"2\"}]}}",
       "spec.rules[0].filters[0].requestHeaderModifier.set[1].name", "duplicate name"},
      {"- {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: a, value: "
       "\"\"}]}}",
       "spec.rules[0].filters[0].responseHeaderModifier.add[0].value", "must not be empty"},
      {"- {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{value: x}]}}",
       "spec.rules[0].filters[0].responseHeaderModifier.add[0].name", "required"},
      {"- {type: RequestHeaderModifier, requestHeaderModifier: {remove: [a, a]}}",
       "spec.rules[0].filters[0].requestHeaderModifier.remove[1]", "duplicate value"},
      {"- {type: RequestHeaderModifier, requestHeaderModifier: {remove: [" + Repeat("a", 17) +
           "]}}",
       "spec.rules[0].filters[0].requestHeaderModifier.remove", "at most 16 items"},
      {"- {type: RequestMirror, requestMirror: {percent: 5}}",
       "spec.rules[0].filters[0].requestMirror.backendRef", "required"},
      {"- {type: RequestMirror, requestMirror: {backendRef: {name: s, port: 80}, percent: 5, "
       "fraction: {numerator: 1}}}",
       "spec.rules[0].filters[0].requestMirror", "Only one of percent or fraction"},
      {"- {type: RequestMirror, requestMirror: {backendRef: {name: s, port: 80}, fraction: "
       "{numerator: 3, denominator: 2}}}",
       "spec.rules[0].filters[0].requestMirror.fraction", "numerator must be less than"},
      {"- {type: RequestMirror, requestMirror: {backendRef: {name: s, port: 80}, fraction: "
       "{denominator: 2}}}",
       "spec.rules[0].filters[0].requestMirror.fraction.numerator", "required"},
      {"- {type: RequestRedirect, requestRedirect: {hostname: \"*.example.com\"}}",
       "spec.rules[0].filters[0].requestRedirect.hostname", "must match"},
      {"- {type: URLRewrite, urlRewrite: {hostname: Example.COM}}",
       "spec.rules[0].filters[0].urlRewrite.hostname", "must match"},
      {"- {type: URLRewrite, urlRewrite: {path: {replaceFullPath: /x}}}",
       "spec.rules[0].filters[0].urlRewrite.path.type", "required"},
      {"- {type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: "
       "/a, replaceFullPath: /x}}}",
       "spec.rules[0].filters[0].urlRewrite.path.type",
       "type must be 'ReplaceFullPath' when replaceFullPath is set"},
      {"- {type: ExtensionRef, extensionRef: {group: \"\", kind: \"\", name: x}}",
       "spec.rules[0].filters[0].extensionRef.kind", "must not be empty"},
      {"- {type: CORS, cors: {allowMethods: [GET, GET]}}",
       "spec.rules[0].filters[0].cors.allowMethods", "duplicate value"},
  };
  for (const auto& c : cases) {
    auto d = DecodeSingle(RouteRule("filters:\n    " + c.filters));
    EXPECT_TRUE(d.rejected) << c.filters;
    EXPECT_TRUE(HasError(d, c.field, c.text)) << c.filters << Dump(d.diagnostics);
  }
  // The same rules hold for a backendRef's filters.
  auto b = DecodeSingle(
      RouteRule("backendRefs:\n    - name: s\n      port: 80\n      filters:\n"
                "      - {type: RequestHeaderModifier, requestHeaderModifier: {remove: [a]}}\n"
                "      - {type: RequestHeaderModifier, requestHeaderModifier: {remove: [b]}}"));
  EXPECT_TRUE(HasError(b, "spec.rules[0].backendRefs[0].filters", "cannot be repeated"))
      << Dump(b.diagnostics);
}

TEST(HTTPRoute, RuleCelRules) {
  auto redirect =
      DecodeSingle(RouteRule("filters: [{type: RequestRedirect, requestRedirect: {port: 8080}}]\n"
                             "    backendRefs: [{name: s, port: 80}]"));
  EXPECT_TRUE(HasError(redirect, "spec.rules[0]",
                       "RequestRedirect filter must not be used together with backendRefs"))
      << Dump(redirect.diagnostics);

  const std::string rewrite =
      "    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, "
      "replacePrefixMatch: /b}}}]";
  for (const char* matches :
       {"matches: [{path: {type: Exact, value: /a}}]",
        "matches: [{path: {value: /a}}, {path: {value: /b}}]", "matches: []"}) {
    auto d = DecodeSingle(RouteRule(std::string(matches) + "\n" + rewrite));
    EXPECT_TRUE(HasError(d, "spec.rules[0]",
                         "When using URLRewrite filter with path.replacePrefixMatch, exactly one "
                         "PathPrefix match must be specified"))
        << matches << Dump(d.diagnostics);
  }
  // Absent matches, path and type default to one PathPrefix match.
  for (const char* matches :
       {"matches: [{path: {value: /a}}]", "matches: [{method: GET}]", "name: rule"}) {
    auto d = DecodeSingle(RouteRule(std::string(matches) + "\n" + rewrite));
    EXPECT_FALSE(d.rejected) << matches << Dump(d.diagnostics);
  }
  auto backend = DecodeSingle(RouteRule(
      "matches: [{path: {type: Exact, value: /a}}]\n"
      "    backendRefs:\n    - name: s\n      port: 80\n      filters: [{type: URLRewrite, "
      "urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]"));
  EXPECT_TRUE(HasError(backend, "spec.rules[0]", "Within backendRefs, When using URLRewrite"))
      << Dump(backend.diagnostics);

  std::string rules;
  for (int i = 0; i < 3; ++i) rules += "  - matches: [" + Repeat("{}", 43) + "]\n";
  auto many = DecodeSingle(Route("  rules:\n" + rules));
  EXPECT_TRUE(HasError(many, "spec.rules", "total number of matches")) << Dump(many.diagnostics);
}

TEST(HTTPRoute, PathMatchCelRules) {
  for (const char* bad :
       {"{type: Exact, value: a}", "{value: /a//b}", "{value: /a/./b}", "{value: /a/../b}",
        "{value: /a%2fb}", "{type: Exact, value: /a%2Fb}", "{value: \"/a#b\"}", "{value: /a/..}",
        "{value: /a/.}", "{value: \"/a b\"}", "{value: /a%zz}"}) {
    auto d = DecodeSingle(RouteRule(std::string("matches: [{path: ") + bad + "}]"));
    EXPECT_TRUE(d.rejected) << bad;
    EXPECT_THAT(OfCode(d.diagnostics, code::kValue), Not(IsEmpty())) << bad << Dump(d.diagnostics);
  }
  for (const char* good : {"{type: RegularExpression, value: \"a//b\"}", "{value: /a%2Eb}",
                           "{type: Exact, value: \"/a:b@c\"}"}) {
    auto d = DecodeSingle(RouteRule(std::string("matches: [{path: ") + good + "}]"));
    EXPECT_FALSE(d.rejected) << good << Dump(d.diagnostics);
  }
}

TEST(HTTPRoute, ParentRefsToOneParentNameDistinctSections) {
  auto dup = DecodeSingle(Route("  parentRefs: [{name: gw}, {name: gw}]\n"));
  EXPECT_TRUE(HasError(dup, "spec.parentRefs", "sectionName must be unique"))
      << Dump(dup.diagnostics);
  // GAMMA: two ports of one Service are one parent for the API server too.
  auto ports = DecodeSingle(
      Route("  parentRefs: [{kind: Service, group: \"\", name: s, port: 80}, {kind: Service, "
            "group: \"\", name: s, port: 81}]\n"));
  EXPECT_TRUE(HasError(ports, "spec.parentRefs", "sectionName must be unique"))
      << Dump(ports.diagnostics);
  auto mixed = DecodeSingle(Route("  parentRefs: [{name: gw}, {name: gw, sectionName: a}]\n"));
  EXPECT_TRUE(HasError(mixed, "spec.parentRefs", "sectionName must be specified"))
      << Dump(mixed.diagnostics);
  auto ok = DecodeSingle(
      Route("  parentRefs: [{name: gw, sectionName: a}, {name: gw, sectionName: b}, {name: gw, "
            "namespace: other}, {name: gw, kind: Other}]\n"));
  EXPECT_FALSE(ok.rejected) << Dump(ok.diagnostics);
}

std::string GatewayWith(const std::string& spec) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
         "metadata: {name: gw, namespace: edge}\nspec:\n  gatewayClassName: example\n" +
         spec;
}

TEST(Gateway, ListenerCelRules) {
  struct Case {
    std::string listeners, field, text;
  };
  std::vector<Case> cases = {
      {"- {name: a, port: 80, protocol: HTTP, tls: {certificateRefs: [{name: c}]}}",
       "spec.listeners[0].tls", "tls must not be specified for protocols"},
      {"- {name: a, port: 443, protocol: HTTPS, tls: {mode: Passthrough}}",
       "spec.listeners[0].tls.mode", "tls mode must be Terminate for protocol HTTPS"},
      {"- {name: a, port: 443, protocol: TLS}", "spec.listeners[0].tls",
       "tls mode must be set for protocol TLS"},
      {"- {name: a, port: 443, protocol: TCP, hostname: a.example}", "spec.listeners[0].hostname",
       "hostname must not be specified"},
      {"- {name: a, port: 443, protocol: HTTPS, tls: {}}", "spec.listeners[0].tls.certificateRefs",
       "certificateRefs or options must be specified when mode is Terminate"},
      {"- {name: a, port: 443, protocol: HTTPS, tls: {certificateRefs: []}}",
       "spec.listeners[0].tls.certificateRefs", "certificateRefs or options"},
      {"- {name: a, port: 80, protocol: HTTP}\n  - {name: b, port: 80, protocol: HTTP}",
       "spec.listeners[1]", "Combination of port, protocol and hostname must be unique"},
      {"- {name: a, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: c, kind: "
       "\"\"}]}}",
       "spec.listeners[0].tls.certificateRefs[0].kind", "must not be empty"},
      {"- {name: a, port: 443, protocol: HTTPS, tls: {certificateRefs: [" +
           Repeat("{name: c}", 65) + "]}}",
       "spec.listeners[0].tls.certificateRefs", "at most 64 items"},
      {"- {name: a, port: 80, protocol: HTTP, allowedRoutes: {kinds: [{kind: \"\"}]}}",
       "spec.listeners[0].allowedRoutes.kinds[0].kind", "must not be empty"},
      {"- {name: a, port: 80, protocol: HTTP, allowedRoutes: {kinds: [" +
           Repeat("{kind: HTTPRoute}", 9) + "]}}",
       "spec.listeners[0].allowedRoutes.kinds", "at most 8 items"},
  };
  for (const auto& c : cases) {
    auto d = DecodeSingle(GatewayWith("  listeners:\n  " + c.listeners + "\n"));
    EXPECT_TRUE(d.rejected) << c.listeners;
    EXPECT_TRUE(HasError(d, c.field, c.text)) << c.listeners << Dump(d.diagnostics);
  }
  for (const char* good :
       {"- {name: a, port: 443, protocol: HTTPS, tls: {options: {example.com/k: v}}}",
        "- {name: a, port: 443, protocol: TLS, tls: {mode: Passthrough}}",
        "- {name: a, port: 80, protocol: HTTP, hostname: a.example}\n"
        "  - {name: b, port: 80, protocol: HTTP, hostname: b.example}\n"
        "  - {name: c, port: 80, protocol: HTTP}"}) {
    auto d = DecodeSingle(GatewayWith(std::string("  listeners:\n  ") + good + "\n"));
    EXPECT_FALSE(d.rejected) << good << Dump(d.diagnostics);
  }
}

TEST(Gateway, FieldsWeftDoesNotUseAreValidatedToo) {
  const std::string listeners = "  listeners: [{name: a, port: 80, protocol: HTTP}]\n";
  struct Case {
    std::string spec, field, text;
  };
  std::vector<Case> cases = {
      {"  tls: {frontend: {}}\n", "spec.tls.frontend.default", "required"},
      {"  tls: {frontend: {default: {validation: {}}}}\n",
       "spec.tls.frontend.default.validation.caCertificateRefs", "required"},
      {"  tls: {frontend: {default: {validation: {caCertificateRefs: []}}}}\n",
       "spec.tls.frontend.default.validation.caCertificateRefs", "at least one item"},
      {"  tls: {frontend: {default: {validation: {mode: Lax, caCertificateRefs: [{group: \"\", "
       "kind: ConfigMap, name: ca}]}}}}\n",
       "spec.tls.frontend.default.validation.mode", "invalid value"},
      {"  tls: {frontend: {default: {}, perPort: [{port: 0, tls: {}}]}}\n",
       "spec.tls.frontend.perPort[0].port", ""},
      {"  tls: {frontend: {default: {}, perPort: [{port: 8443, tls: {}}, {port: 8443, tls: "
       "{}}]}}\n",
       "spec.tls.frontend.perPort[1].port", "Port for TLS configuration must be unique"},
      {"  tls: {frontend: {default: {}, perPort: [{port: 8443}]}}\n",
       "spec.tls.frontend.perPort[0].tls", "required"},
      {"  tls: {backend: {clientCertificateRef: {}}}\n",
       "spec.tls.backend.clientCertificateRef.name", "required"},
      {"  tls: {backend: {clientCertificateRef: {name: c, namespace: \"\"}}}\n",
       "spec.tls.backend.clientCertificateRef.namespace", "must not be empty"},
      {"  tls: abc\n", "spec.tls", "expected a mapping"},
      {"  allowedListeners: {namespaces: {from: Everywhere}}\n",
       "spec.allowedListeners.namespaces.from", "invalid value"},
      {"  allowedListeners: {namespaces: {selector: {matchLabels: abc}}}\n",
       "spec.allowedListeners.namespaces.selector.matchLabels", ""},
      {"  infrastructure: {parametersRef: {group: \"\", kind: \"\", name: x}}\n",
       "spec.infrastructure.parametersRef.kind", "must not be empty"},
      {"  infrastructure: {labels: {\"-bad\": x}}\n", "spec.infrastructure.labels.-bad",
       "Label keys must be"},
      {"  infrastructure: {labels: {ok: \"bad value\"}}\n", "spec.infrastructure.labels.ok",
       "must match"},
      {"  infrastructure: {labels: {" + Repeat("a: b", 1) +
           ", b: c, c: d, d: e, e: f, f: g, g: "
           "h, h: i, i: j}}\n",
       "spec.infrastructure.labels", "at most 8 entries"},
      {"  addresses: [{value: \"\"}]\n", "spec.addresses[0].value", "invalid IP address"},
      {"  addresses: [{type: Hostname, value: \"\"}]\n", "spec.addresses[0].value",
       "Hostname value must be empty or contain only valid characters"},
      {"  addresses: [{value: 10.0.0.1}, {type: IPAddress, value: 10.0.0.1}]\n",
       "spec.addresses[1].value", "IPAddress values must be unique"},
      {"  addresses: [" + Repeat("{type: example.com/x}", 17) + "]\n", "spec.addresses",
       "at most 16 items"},
  };
  for (const auto& c : cases) {
    auto d = DecodeSingle(GatewayWith(c.spec + listeners));
    EXPECT_TRUE(d.rejected) << c.spec;
    EXPECT_TRUE(HasError(d, c.field, c.text)) << c.spec << Dump(d.diagnostics);
  }
  auto empty_class = DecodeSingle(
      "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw}\n"
      "spec:\n  gatewayClassName: \"\"\n" +
      listeners);
  EXPECT_TRUE(HasError(empty_class, "spec.gatewayClassName", "must not be empty"))
      << Dump(empty_class.diagnostics);
  // Valid, then ignored with a warning.
  auto ok = DecodeSingle(GatewayWith(
      "  tls:\n    frontend:\n      default: {validation: {caCertificateRefs: [{group: \"\", kind: "
      "ConfigMap, name: ca}]}}\n      perPort: [{port: 8443, tls: {}}]\n"
      "    backend: {clientCertificateRef: {name: client}}\n"
      "  allowedListeners: {namespaces: {from: Selector, selector: {matchExpressions: [{key: a, "
      "operator: Whatever}]}}}\n" +
      listeners));
  EXPECT_FALSE(ok.rejected) << Dump(ok.diagnostics);
  EXPECT_THAT(OfCode(ok.diagnostics, code::kUnsupported), SizeIs(3)) << Dump(ok.diagnostics);
}

// The API server takes `from: Selector` without a selector; Kubernetes reads the missing
// selector as selecting nothing, so the listener admits no route from another namespace: a
// warning. An operator LabelSelectorAsSelector refuses stays an error (nothing can evaluate it).
TEST(Gateway, AllowedRoutesSelectors) {
  auto none = DecodeSingle(GatewayWith(
      "  listeners:\n  - {name: a, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: "
      "Selector}}}\n"));
  EXPECT_FALSE(none.rejected) << Dump(none.diagnostics);
  auto w = OfCode(none.diagnostics, code::kMissingField);
  ASSERT_THAT(w, SizeIs(1)) << Dump(none.diagnostics);
  EXPECT_EQ(w[0].severity, Severity::kWarning);
  EXPECT_EQ(w[0].field, "spec.listeners[0].allowedRoutes.namespaces.selector");
  for (const char* bad : {"{key: a, operator: v1}", "{key: a, operator: In}",
                          "{key: a, operator: Exists, values: [x]}"}) {
    auto d = DecodeSingle(GatewayWith(
        std::string("  listeners:\n  - {name: a, port: 80, protocol: HTTP, allowedRoutes: "
                    "{namespaces: {from: Selector, selector: {matchExpressions: [") +
        bad + "]}}}}\n"));
    EXPECT_TRUE(d.rejected) << bad;
  }
}

}  // namespace
}  // namespace weft::policy
