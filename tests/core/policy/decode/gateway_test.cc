// Decoding of gateway.networking.k8s.io/v1 HTTPRoute (GAMMA: parentRefs naming a Service).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using testing::DecodeSingle;
using testing::DecodeSpec;
using testing::Dump;
using ::testing::ElementsAre;
using testing::OfCode;
using ::testing::SizeIs;

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
                               "error value 15:45 spec.rules[0].timeouts.backendRequest",
                               "warning unsupported 16:12 spec.rules[0].retry"))
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

}  // namespace
}  // namespace weft::policy
