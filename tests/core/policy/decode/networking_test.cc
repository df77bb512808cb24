// Decoding of networking.istio.io: VirtualService, DestinationRule, ServiceEntry, in each of the
// three served versions.

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

// ---- versions ----

struct VersionCase {
  std::string api_version;
  std::string kind;
  bool ok;
};

class IstioVersions : public ::testing::TestWithParam<VersionCase> {};

TEST_P(IstioVersions, AcceptedOrRejected) {
  const auto& c = GetParam();
  std::string spec = c.kind == "VirtualService"
                         ? "spec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}\n"
                     : c.kind == "DestinationRule" ? "spec: {host: a}\n"
                     : c.kind == "ServiceEntry"    ? "spec: {hosts: [a.example.com]}\n"
                                                   : "spec: {}\n";
  auto d = DecodeSingle("apiVersion: " + c.api_version + "\nkind: " + c.kind +
                        "\nmetadata: {name: x, namespace: \"n\"}\n" + spec);
  EXPECT_EQ(d.rejected, !c.ok) << Dump(d.diagnostics);
  EXPECT_EQ(d.resource.has_value(), c.ok);
  if (!c.ok) {
    auto v = OfCode(d.diagnostics, code::kValue);
    ASSERT_THAT(v, SizeIs(1)) << Dump(d.diagnostics);
    EXPECT_EQ(v[0].field, "apiVersion");
    EXPECT_EQ(v[0].line, 1u);
    EXPECT_EQ(v[0].column, 13u);
    EXPECT_THAT(v[0].message, ::testing::HasSubstr("is not supported (supported: "));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Networking, IstioVersions,
    ::testing::Values(VersionCase{"networking.istio.io/v1alpha3", "VirtualService", true},
                      VersionCase{"networking.istio.io/v1beta1", "VirtualService", true},
                      VersionCase{"networking.istio.io/v1", "VirtualService", true},
                      VersionCase{"networking.istio.io/v2", "VirtualService", false},
                      VersionCase{"networking.istio.io/v1alpha3", "DestinationRule", true},
                      VersionCase{"networking.istio.io/v1beta1", "DestinationRule", true},
                      VersionCase{"networking.istio.io/v1", "DestinationRule", true},
                      VersionCase{"networking.istio.io/v1alpha1", "DestinationRule", false},
                      VersionCase{"networking.istio.io/v1alpha3", "ServiceEntry", true},
                      VersionCase{"networking.istio.io/v1beta1", "ServiceEntry", true},
                      VersionCase{"networking.istio.io/v1", "ServiceEntry", true},
                      VersionCase{"networking.istio.io/v3", "ServiceEntry", false}));

INSTANTIATE_TEST_SUITE_P(
    Security, IstioVersions,
    ::testing::Values(VersionCase{"security.istio.io/v1beta1", "PeerAuthentication", true},
                      VersionCase{"security.istio.io/v1", "PeerAuthentication", true},
                      VersionCase{"security.istio.io/v1alpha1", "PeerAuthentication", false},
                      VersionCase{"security.istio.io/v1beta1", "AuthorizationPolicy", true},
                      VersionCase{"security.istio.io/v1", "AuthorizationPolicy", true},
                      VersionCase{"security.istio.io/v1alpha3", "AuthorizationPolicy", false}));

TEST(IstioVersions, MessageNamesTheSupportedVersions) {
  auto d = DecodeSingle(
      "apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: x}\n"
      "spec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}\n");
  auto v = OfCode(d.diagnostics, code::kValue);
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].message,
            "version \"v2\" of VirtualService is not supported (supported: v1alpha3, v1beta1, v1)");
}

// ---- VirtualService ----

constexpr char kFullVs[] = R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews, reviews.example.com]
  gateways: [mesh]
  exportTo: ["."]
  http:
  - name: canary
    match:
    - name: m1
      uri: {prefix: /api}
      method: {exact: GET}
      headers:
        end-user: {exact: jason}
        x-any: {}
      queryParams:
        debug: {regex: "^1$"}
      withoutHeaders:
        x-skip: {exact: "1"}
      sourceLabels: {app: web}
      port: 8080
      ignoreUriCase: true
    route:
    - destination: {host: reviews, subset: v2, port: {number: 9080}}
      weight: 75
      headers:
        request:
          set: {x-route: canary}
        response:
          add: {x-served-by: v2}
    - destination: {host: reviews, subset: v1}
      weight: 25
    timeout: 1.5s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "5xx, connect-failure,503", retryRemoteLocalities: true}
    fault:
      delay: {fixedDelay: 7s, percentage: {value: 12.5}}
      abort: {httpStatus: 503, percentage: {value: 1}}
    mirror: {host: reviews-shadow, subset: v3, port: {number: 80}}
    mirrorPercentage: {value: 30}
    headers:
      request: {set: {x-a: "1"}, add: {x-b: "2"}, remove: [x-c]}
      response: {remove: [server]}
  - match: [{uri: {exact: /old}}]
    redirect: {uri: /new, authority: new.example.com, port: 8443, scheme: https, redirectCode: 308}
  - match: [{uri: {regex: "^/v[0-9]+/.*"}}]
    rewrite: {authority: internal, uriRegexRewrite: {match: "^/v1", rewrite: "/v2"}}
    route: [{destination: {host: reviews}}]
  - directResponse: {status: 418, body: {string: teapot}}
  tcp:
  - match: [{port: 3306, destinationSubnets: [10.1.2.3/16], sourceLabels: {app: db-client}}]
    route:
    - destination: {host: mysql, port: {number: 3306}}
      weight: 100
)";

TEST(VirtualService, HostsGatewaysExportTo) {
  auto vs = DecodeSpec<VirtualServiceSpec>(kFullVs);
  ASSERT_THAT(vs.hosts, SizeIs(2));
  EXPECT_EQ(vs.hosts[0].host, "reviews");
  EXPECT_EQ(vs.hosts[0].pos.field, "spec.hosts[0]");
  EXPECT_EQ(vs.hosts[0].pos.mark.line, 5u);
  EXPECT_EQ(vs.hosts[0].pos.mark.column, 11u);
  EXPECT_EQ(vs.hosts[1].host, "reviews.example.com");
  EXPECT_THAT(vs.gateways, ElementsAre("mesh"));
  EXPECT_THAT(vs.export_to, ElementsAre("."));
  ASSERT_THAT(vs.http, SizeIs(4));
  ASSERT_THAT(vs.tcp, SizeIs(1));
}

TEST(VirtualService, HttpMatch) {
  auto vs = DecodeSpec<VirtualServiceSpec>(kFullVs);
  const pb::HttpRoute& r = vs.http[0].route;
  EXPECT_EQ(r.name(), "canary");
  ASSERT_EQ(r.matches_size(), 1);
  const pb::HttpMatch& m = r.matches(0);
  EXPECT_EQ(m.name(), "m1");
  EXPECT_EQ(m.uri().prefix(), "/api");
  EXPECT_EQ(m.method().exact(), "GET");
  ASSERT_EQ(m.headers_size(), 2);
  EXPECT_EQ(m.headers(0).name(), "end-user");
  EXPECT_EQ(m.headers(0).value().exact(), "jason");
  EXPECT_EQ(m.headers(1).name(), "x-any");
  EXPECT_FALSE(m.headers(1).has_value());  // {} = presence
  ASSERT_EQ(m.query_params_size(), 1);
  EXPECT_EQ(m.query_params(0).value().regex(), "^1$");
  ASSERT_EQ(m.without_headers_size(), 1);
  EXPECT_EQ(m.without_headers(0).value().exact(), "1");
  EXPECT_EQ(m.source_labels().at("app"), "web");
  EXPECT_EQ(m.port(), 8080u);
  EXPECT_TRUE(m.ignore_uri_case());
}

TEST(VirtualService, RouteDestinationsWeightsAndHeaders) {
  auto vs = DecodeSpec<VirtualServiceSpec>(kFullVs);
  const auto& h = vs.http[0];
  EXPECT_TRUE(h.has_weights);
  EXPECT_EQ(h.pos.field, "spec.http[0]");
  EXPECT_EQ(h.pos.mark.line, 9u);
  ASSERT_EQ(h.route.destinations_size(), 2);
  ASSERT_THAT(h.destinations, SizeIs(2));
  const auto& d0 = h.route.destinations(0);
  EXPECT_EQ(d0.hostname(), "reviews");  // as written; resolved by the compiler
  EXPECT_EQ(d0.subset(), "v2");
  EXPECT_EQ(d0.port(), 9080u);
  EXPECT_EQ(d0.weight(), 75u);
  EXPECT_EQ(d0.request_headers().set().at("x-route"), "canary");
  EXPECT_EQ(d0.response_headers().add().at("x-served-by"), "v2");
  EXPECT_EQ(h.destinations[0].host.host, "reviews");
  EXPECT_EQ(h.destinations[0].host.pos.field, "spec.http[0].route[0].destination.host");
  EXPECT_EQ(h.destinations[0].subset, "v2");
  EXPECT_EQ(h.destinations[0].subset_pos.field, "spec.http[0].route[0].destination.subset");
  EXPECT_EQ(h.route.destinations(1).weight(), 25u);
  EXPECT_EQ(h.route.destinations(1).port(), 0u);
  EXPECT_FALSE(vs.http[2].has_weights);
}

TEST(VirtualService, TimeoutRetriesFaultMirrorHeaders) {
  auto vs = DecodeSpec<VirtualServiceSpec>(kFullVs);
  const pb::HttpRoute& r = vs.http[0].route;
  EXPECT_EQ(r.timeout_ms(), 1500u);
  EXPECT_EQ(r.retries().attempts(), 3u);
  EXPECT_EQ(r.retries().per_try_timeout_ms(), 500u);
  EXPECT_THAT(r.retries().retry_on(), ElementsAre("5xx", "connect-failure", "503"));
  EXPECT_TRUE(r.retries().retry_remote_localities());
  EXPECT_EQ(r.fault().delay_ms(), 7000u);
  EXPECT_DOUBLE_EQ(r.fault().delay_percent(), 12.5);
  EXPECT_EQ(r.fault().abort_http_status(), 503u);
  EXPECT_DOUBLE_EQ(r.fault().abort_percent(), 1.0);
  ASSERT_EQ(r.mirrors_size(), 1);
  EXPECT_EQ(r.mirrors(0).hostname(), "reviews-shadow");
  EXPECT_EQ(r.mirrors(0).subset(), "v3");
  EXPECT_EQ(r.mirrors(0).port(), 80u);
  EXPECT_DOUBLE_EQ(r.mirrors(0).percent(), 30.0);
  ASSERT_THAT(vs.http[0].mirrors, SizeIs(1));
  EXPECT_EQ(vs.http[0].mirrors[0].host.host, "reviews-shadow");
  EXPECT_EQ(r.request_headers().set().at("x-a"), "1");
  EXPECT_EQ(r.request_headers().add().at("x-b"), "2");
  EXPECT_THAT(r.request_headers().remove(), ElementsAre("x-c"));
  EXPECT_THAT(r.response_headers().remove(), ElementsAre("server"));
}

TEST(VirtualService, RedirectRewriteDirectResponse) {
  auto vs = DecodeSpec<VirtualServiceSpec>(kFullVs);
  const auto& rd = vs.http[1].route.redirect();
  EXPECT_EQ(vs.http[1].route.matches(0).uri().exact(), "/old");
  EXPECT_EQ(rd.uri(), "/new");
  EXPECT_EQ(rd.authority(), "new.example.com");
  EXPECT_EQ(rd.port(), 8443u);
  EXPECT_EQ(rd.scheme(), "https");
  EXPECT_EQ(rd.response_code(), 308u);
  EXPECT_EQ(vs.http[1].route.destinations_size(), 0);
  const auto& rw = vs.http[2].route.rewrite();
  EXPECT_EQ(vs.http[2].route.matches(0).uri().regex(), "^/v[0-9]+/.*");
  EXPECT_EQ(rw.uri(), "");  // uri and uriRegexRewrite exclude each other (Istio)
  EXPECT_EQ(rw.authority(), "internal");
  EXPECT_EQ(rw.uri_regex(), "^/v1");
  EXPECT_EQ(rw.uri_regex_substitution(), "/v2");
  EXPECT_EQ(vs.http[3].route.direct_response().status(), 418u);
  EXPECT_EQ(vs.http[3].route.direct_response().body(), "teapot");
}

TEST(VirtualService, TcpRoutes) {
  auto vs = DecodeSpec<VirtualServiceSpec>(kFullVs);
  const auto& t = vs.tcp[0];
  ASSERT_EQ(t.route.matches_size(), 1);
  EXPECT_EQ(t.route.matches(0).port(), 3306u);
  EXPECT_THAT(t.route.matches(0).destination_subnets(), ElementsAre("10.1.0.0/16"));
  EXPECT_EQ(t.route.matches(0).source_labels().at("app"), "db-client");
  ASSERT_EQ(t.route.destinations_size(), 1);
  EXPECT_EQ(t.route.destinations(0).hostname(), "mysql");
  EXPECT_EQ(t.route.destinations(0).port(), 3306u);
  EXPECT_EQ(t.route.destinations(0).weight(), 100u);
  EXPECT_EQ(t.pos.field, "spec.tcp[0]");
}

TEST(VirtualService, DeprecatedPercentFields) {
  auto vs = DecodeSpec<VirtualServiceSpec>(R"(apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  http:
  - route: [{destination: {host: r}}]
    fault:
      delay: {fixedDelay: 1s, percent: 40}
    mirror: {host: m}
    mirrorPercent: 5
  - route: [{destination: {host: r}}]
    mirrors:
    - destination: {host: m1}
      percentage: {value: 2.5}
    - destination: {host: m2}
)");
  EXPECT_DOUBLE_EQ(vs.http[0].route.fault().delay_percent(), 40.0);
  EXPECT_DOUBLE_EQ(vs.http[0].route.mirrors(0).percent(), 5.0);
  ASSERT_EQ(vs.http[1].route.mirrors_size(), 2);
  EXPECT_EQ(vs.http[1].route.mirrors(0).hostname(), "m1");
  EXPECT_DOUBLE_EQ(vs.http[1].route.mirrors(0).percent(), 2.5);
  // mirrors[] without a percentage mirror everything, as mirrorPercentage does.
  EXPECT_DOUBLE_EQ(vs.http[1].route.mirrors(1).percent(), 100.0);
}

TEST(VirtualService, FaultWithoutPercentageInjectsNothingAndWarns) {
  // Istio passes no percentage to Envoy, whose default is 0%: such a fault never fires (see
  // istio/istio#39969). Injecting it into all traffic instead would be a surprise in production.
  auto d = DecodeSingle(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: shop}
spec:
  hosts: [r]
  http:
  - route: [{destination: {host: r}}]
    fault:
      delay: {fixedDelay: 5s}
      abort: {httpStatus: 503}
)");
  ASSERT_FALSE(d.rejected) << Dump(d.diagnostics);
  const auto& f = d.resource->as<VirtualServiceSpec>().http[0].route.fault();
  EXPECT_EQ(f.delay_ms(), 5000u);
  EXPECT_DOUBLE_EQ(f.delay_percent(), 0.0);
  EXPECT_EQ(f.abort_http_status(), 503u);
  EXPECT_DOUBLE_EQ(f.abort_percent(), 0.0);
  std::vector<std::string> got;
  for (const auto& x : d.diagnostics) {
    got.push_back(std::string(SeverityName(x.severity)) + " " + x.code + " " +
                  std::to_string(x.line) + ":" + std::to_string(x.column) + " " + x.field + ": " +
                  x.message);
  }
  EXPECT_THAT(got, ElementsAre("warning value 9:14 spec.http[0].fault.delay: percentage is not "
                               "set: as in Istio, no request is delayed",
                               "warning value 10:14 spec.http[0].fault.abort: percentage is not "
                               "set: as in Istio, no request is aborted"));
}

TEST(VirtualService, DeprecatedAbortPercent) {
  auto vs = DecodeSpec<VirtualServiceSpec>(R"(apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  http:
  - route: [{destination: {host: r}}]
    fault:
      abort: {httpStatus: 500, percent: 100}
)");
  EXPECT_DOUBLE_EQ(vs.http[0].route.fault().abort_percent(), 100.0);
}

TEST(VirtualService, MirrorWithoutPercentageMirrorsAll) {
  auto vs = DecodeSpec<VirtualServiceSpec>(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  http:
  - route: [{destination: {host: r}}]
    mirror: {host: m}
)");
  EXPECT_DOUBLE_EQ(vs.http[0].route.mirrors(0).percent(), 100.0);
}

TEST(VirtualService, BadValues) {
  auto d = DecodeSingle(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: shop}
spec:
  hosts: [r]
  http:
  - match:
    - uri: {exact: /a, prefix: /b}
    - uri: {regex: "(unclosed"}
    route:
    - destination: {host: r}
      weight: -1
    - destination: {subset: v1}
    retries: {attempts: 2, retryOn: "5xx,bogus"}
    timeout: 10 seconds
    redirect: {redirectCode: 200}
)");
  EXPECT_TRUE(d.rejected);
  std::vector<std::string> got;
  for (const auto& x : d.diagnostics) {
    got.push_back(x.code + " " + std::to_string(x.line) + ":" + std::to_string(x.column) + " " +
                  x.field);
  }
  // The decoders' errors, then Istio's checks (istio_checks.cc): route with redirect, a
  // redirect that changes nothing (before its code is looked at), a destination without host.
  EXPECT_THAT(got, ElementsAre("value 8:12 spec.http[0].match[0].uri",
                               "value 9:20 spec.http[0].match[1].uri.regex",
                               "value 12:15 spec.http[0].route[0].weight",
                               "missing-field 13:20 spec.http[0].route[1].destination.host",
                               "duration 15:14 spec.http[0].timeout",
                               "value 14:37 spec.http[0].retries.retryOn", "value 7:5 spec.http[0]",
                               "value 16:15 spec.http[0].redirect",
                               "value 13:20 spec.http[0].route[1].destination"))
      << Dump(d.diagnostics);
  auto v = OfCode(d.diagnostics, code::kValue);
  EXPECT_EQ(v[0].message, "set only one of exact, prefix, regex");
}

TEST(VirtualService, UnsupportedFieldsWarnButDecode) {
  auto d = DecodeSingle(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  tls:
  - match: [{sniHosts: [r]}]
    route: [{destination: {host: r}}]
  http:
  - match: [{scheme: {exact: https}, gateways: [my-gw]}]
    route: [{destination: {host: r}}]
    corsPolicy: {allowOrigins: [{exact: "*"}]}
    retries: {attempts: 1, backoff: 1s}
)");
  EXPECT_FALSE(d.rejected) << Dump(d.diagnostics);
  auto w = OfCode(d.diagnostics, code::kUnsupported);
  std::vector<std::string> fields;
  for (const auto& x : w) {
    EXPECT_EQ(x.severity, Severity::kWarning);
    fields.push_back(x.field);
  }
  EXPECT_THAT(fields,
              ElementsAre("spec.http[0].match[0].gateways", "spec.http[0].corsPolicy", "spec.tls"))
      << Dump(d.diagnostics);
  // retries.backoff is Envoy's base interval.
  EXPECT_EQ(d.resource->as<VirtualServiceSpec>().http[0].route.retries().backoff_base_ms(), 1000u);
}

TEST(VirtualService, AuthoritySchemeAndSourceNamespaceMatches) {
  auto vs = DecodeSpec<VirtualServiceSpec>(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  http:
  - match:
    - authority: {prefix: api.}
      scheme: {exact: https}
      sourceNamespace: frontend
    - authority: {regex: "^r(:[0-9]+)?$"}
    route: [{destination: {host: r}}]
  tcp:
  - match: [{port: 5432, sourceNamespace: batch}]
    route: [{destination: {host: r}}]
)");
  ASSERT_EQ(vs.http.size(), 1u);
  const auto& m = vs.http[0].route.matches();
  ASSERT_EQ(m.size(), 2);
  EXPECT_EQ(m[0].authority().prefix(), "api.");
  EXPECT_EQ(m[0].scheme().exact(), "https");
  EXPECT_EQ(m[0].source_namespace(), "frontend");
  EXPECT_EQ(m[1].authority().regex(), "^r(:[0-9]+)?$");
  EXPECT_FALSE(m[1].has_scheme());
  EXPECT_EQ(m[1].source_namespace(), "");
  ASSERT_EQ(vs.tcp.size(), 1u);
  EXPECT_EQ(vs.tcp[0].route.matches(0).source_namespace(), "batch");
  EXPECT_EQ(vs.tcp[0].route.matches(0).port(), 5432u);
}

TEST(VirtualService, BadAuthorityRegexAndSourceNamespace) {
  auto d = DecodeSingle(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  http:
  - match: [{authority: {regex: "(("}, sourceNamespace: Not_A_Namespace}]
    route: [{destination: {host: r}}]
)");
  EXPECT_TRUE(d.rejected);
  auto v = OfCode(d.diagnostics, code::kValue);
  ASSERT_THAT(v, SizeIs(2)) << Dump(d.diagnostics);
  EXPECT_EQ(v[0].field, "spec.http[0].match[0].authority.regex");
  EXPECT_EQ(v[0].severity, Severity::kError);
  EXPECT_EQ(v[1].field, "spec.http[0].match[0].sourceNamespace");
  EXPECT_EQ(v[1].severity, Severity::kError);  // Istio: "sourceNamespace match ... is invalid"
}

// No hosts: a delegate VirtualService, valid with HTTP routes only (Istio); nothing at all is
// an error.
TEST(VirtualService, DelegateWithoutHosts) {
  auto ok = DecodeSingle(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n"
      "spec:\n  http: [{route: [{destination: {host: r}}]}]\n");
  EXPECT_FALSE(ok.rejected) << Dump(ok.diagnostics);
  auto tcp = DecodeSingle(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n"
      "spec:\n  tcp: [{route: [{destination: {host: r}}]}]\n");
  ASSERT_TRUE(tcp.rejected);
  EXPECT_EQ(tcp.diagnostics[0].message,
            "delegate virtual service must have no tcp route specified");
  auto none = DecodeSingle(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\n"
      "spec:\n  http: []\n");
  ASSERT_TRUE(none.rejected);
  EXPECT_EQ(none.diagnostics[0].message, "http, tcp or tls must be provided in virtual service");
}

// ---- DestinationRule ----

constexpr char kFullDr[] = R"(apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  exportTo: ["*"]
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: user, path: /, ttl: 10s}
        ringHash: {minimumRingSize: 1024}
      localityLbSetting:
        enabled: true
        failover:
        - {from: us-east, to: eu-west}
        failoverPriority: [topology.istio.io/network]
      warmupDurationSecs: 30s
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 30ms, tcpKeepalive: {time: 7200s, interval: 75s}}
      http: {http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRequestsPerConnection: 5, maxRetries: 3, maxConcurrentStreams: 64, idleTimeout: 30s, h2UpgradePolicy: UPGRADE, useClientProtocol: false}
    outlierDetection: {consecutive5xxErrors: 7, consecutiveGatewayErrors: 4, interval: 5m, baseEjectionTime: 15m, maxEjectionPercent: 50, minHealthPercent: 10, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2}
    tls: {mode: SIMPLE, sni: reviews.example.com, subjectAltNames: [a, b], caCertificates: /etc/ca.pem, clientCertificate: /c.pem, privateKey: /k.pem, insecureSkipVerify: false}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {simple: RANDOM}
      connectionPool: {tcp: {maxConnections: 5}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer:
        localityLbSetting:
          distribute:
          - from: us-west/zone1/*
            to: {"us-west/zone1/*": 80, "us-west/zone2/*": 20}
  - name: v2
    labels: {version: v2, track: stable}
    trafficPolicy:
      loadBalancer:
        consistentHash:
          useSourceIp: true
          maglev: {tableSize: 65537}
      portLevelSettings:
      - port: {number: 9443}
        tls: {mode: ISTIO_MUTUAL, credentialName: cred}
)";

TEST(DestinationRule, HostSubsetsAndExport) {
  auto dr = DecodeSpec<DestinationRuleSpec>(kFullDr);
  EXPECT_EQ(dr.host.host, "reviews");
  EXPECT_EQ(dr.host.pos.field, "spec.host");
  EXPECT_EQ(dr.host.pos.mark.line, 5u);
  EXPECT_THAT(dr.export_to, ElementsAre("*"));
  ASSERT_THAT(dr.subsets, SizeIs(2));
  EXPECT_EQ(dr.subsets[0].name, "v1");
  EXPECT_THAT(dr.subsets[0].labels, ElementsAre(Pair("version", "v1")));
  EXPECT_TRUE(dr.subsets[0].policy);  // its locality distribution
  EXPECT_EQ(dr.subsets[0].pos.field, "spec.subsets[0]");
  EXPECT_THAT(dr.subsets[1].labels, ElementsAre(Pair("track", "stable"), Pair("version", "v2")));
  ASSERT_TRUE(dr.subsets[1].policy);
}

TEST(DestinationRule, ConsistentHashRingHashAndLocality) {
  auto dr = DecodeSpec<DestinationRuleSpec>(kFullDr);
  ASSERT_TRUE(dr.policy);
  ASSERT_TRUE(dr.policy->load_balancer);
  const pb::LoadBalancer& lb = *dr.policy->load_balancer;
  EXPECT_EQ(lb.policy(), pb::LoadBalancer::RING_HASH);
  EXPECT_EQ(lb.consistent_hash().http_cookie().name(), "user");
  EXPECT_EQ(lb.consistent_hash().http_cookie().path(), "/");
  EXPECT_EQ(lb.consistent_hash().http_cookie().ttl_ms(), 10000u);
  EXPECT_EQ(lb.consistent_hash().minimum_ring_size(), 1024u);
  EXPECT_TRUE(lb.locality().enabled());
  // distribute and failover exclude each other (Istio): the distribution is subset v1's.
  const pb::LoadBalancer& v1 = *dr.subsets[0].policy->load_balancer;
  ASSERT_EQ(v1.locality().distribute_size(), 1);
  EXPECT_EQ(v1.locality().distribute(0).from(), "us-west/zone1/*");
  EXPECT_EQ(v1.locality().distribute(0).to().at("us-west/zone1/*"), 80u);
  EXPECT_EQ(v1.locality().distribute(0).to().at("us-west/zone2/*"), 20u);
  ASSERT_EQ(lb.locality().failover_size(), 1);
  EXPECT_EQ(lb.locality().failover(0).from(), "us-east");
  EXPECT_EQ(lb.locality().failover(0).to(), "eu-west");
  EXPECT_THAT(lb.locality().failover_priority(), ElementsAre("topology.istio.io/network"));
  EXPECT_EQ(lb.warmup_duration_ms(), 30000u);
}

TEST(DestinationRule, MaglevAndSourceIpInSubset) {
  auto dr = DecodeSpec<DestinationRuleSpec>(kFullDr);
  const pb::LoadBalancer& lb = *dr.subsets[1].policy->load_balancer;
  EXPECT_EQ(lb.policy(), pb::LoadBalancer::MAGLEV);
  EXPECT_TRUE(lb.consistent_hash().use_source_ip());
  EXPECT_EQ(lb.consistent_hash().table_size(), 65537u);
  ASSERT_THAT(dr.subsets[1].policy->port_level, SizeIs(1));
  EXPECT_EQ(dr.subsets[1].policy->port_level[0].port, 9443u);
  EXPECT_EQ(dr.subsets[1].policy->port_level[0].tls->mode(), pb::ClientTls::ISTIO_MUTUAL);
}

TEST(DestinationRule, ConnectionPoolOutlierTls) {
  auto dr = DecodeSpec<DestinationRuleSpec>(kFullDr);
  const pb::ConnectionPool& cp = *dr.policy->connection_pool;
  EXPECT_EQ(cp.max_connections(), 100u);
  EXPECT_EQ(cp.connect_timeout_ms(), 30u);
  EXPECT_TRUE(cp.tcp_keepalive());
  EXPECT_EQ(cp.http1_max_pending_requests(), 10u);
  EXPECT_EQ(cp.http2_max_requests(), 1000u);
  EXPECT_EQ(cp.max_requests_per_connection(), 5u);
  EXPECT_EQ(cp.max_retries(), 3u);
  EXPECT_EQ(cp.max_concurrent_streams(), 64u);
  EXPECT_EQ(cp.idle_timeout_ms(), 30000u);
  EXPECT_EQ(cp.h2_upgrade_policy(), pb::ConnectionPool::H2_UPGRADE_UPGRADE);
  EXPECT_FALSE(cp.use_client_protocol());
  const pb::OutlierDetection& od = *dr.policy->outlier_detection;
  EXPECT_EQ(od.consecutive_5xx_errors(), 7u);
  EXPECT_EQ(od.consecutive_gateway_errors(), 4u);
  EXPECT_EQ(od.interval_ms(), 300000u);
  EXPECT_EQ(od.base_ejection_time_ms(), 900000u);
  EXPECT_EQ(od.max_ejection_percent(), 50u);
  EXPECT_EQ(od.min_health_percent(), 10u);
  EXPECT_TRUE(od.split_external_local_origin_errors());
  EXPECT_EQ(od.consecutive_local_origin_failures(), 2u);
  const pb::ClientTls& tls = *dr.policy->tls;
  EXPECT_EQ(tls.mode(), pb::ClientTls::SIMPLE);
  EXPECT_EQ(tls.sni(), "reviews.example.com");
  EXPECT_THAT(tls.subject_alt_names(), ElementsAre("a", "b"));
  EXPECT_EQ(tls.ca_certificates(), "/etc/ca.pem");
  EXPECT_EQ(tls.client_certificate(), "/c.pem");
  EXPECT_EQ(tls.private_key(), "/k.pem");
  // credentialName excludes certificate files for SIMPLE and MUTUAL (Istio's ValidateTLS).
  EXPECT_EQ(tls.credential_name(), "");
  EXPECT_EQ(dr.subsets[1].policy->port_level[0].tls->credential_name(), "cred");
  EXPECT_FALSE(tls.insecure_skip_verify());
}

TEST(DestinationRule, PortLevelSettings) {
  auto dr = DecodeSpec<DestinationRuleSpec>(kFullDr);
  ASSERT_THAT(dr.policy->port_level, SizeIs(1));
  const auto& p = dr.policy->port_level[0];
  EXPECT_EQ(p.port, 9080u);
  EXPECT_EQ(p.load_balancer->policy(), pb::LoadBalancer::RANDOM);
  EXPECT_EQ(p.connection_pool->max_connections(), 5u);
  EXPECT_FALSE(p.outlier_detection);
  EXPECT_FALSE(p.tls);
}

struct SimpleCase {
  std::string simple;
  pb::LoadBalancer::Policy policy;
};

class SimpleLb : public ::testing::TestWithParam<SimpleCase> {};

TEST_P(SimpleLb, Maps) {
  auto dr = DecodeSpec<DestinationRuleSpec>(
      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n"
      "  host: h\n  trafficPolicy:\n    loadBalancer: {simple: " +
      GetParam().simple + "}\n");
  ASSERT_TRUE(dr.policy && dr.policy->load_balancer);
  EXPECT_EQ(dr.policy->load_balancer->policy(), GetParam().policy);
}

INSTANTIATE_TEST_SUITE_P(
    All, SimpleLb,
    ::testing::Values(SimpleCase{"ROUND_ROBIN", pb::LoadBalancer::ROUND_ROBIN},
                      SimpleCase{"LEAST_REQUEST", pb::LoadBalancer::LEAST_REQUEST},
                      SimpleCase{"LEAST_CONN", pb::LoadBalancer::LEAST_REQUEST},
                      SimpleCase{"RANDOM", pb::LoadBalancer::RANDOM},
                      SimpleCase{"PASSTHROUGH", pb::LoadBalancer::PASSTHROUGH},
                      SimpleCase{"UNSPECIFIED", pb::LoadBalancer::POLICY_UNSPECIFIED}));

TEST(DestinationRule, HashKeysAndHeaderName) {
  auto dr = DecodeSpec<DestinationRuleSpec>(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d}
spec:
  host: h
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user}
  subsets:
  - name: q
    trafficPolicy:
      loadBalancer:
        consistentHash: {httpQueryParameterName: uid, minimumRingSize: 64}
)");
  const auto& lb = *dr.policy->load_balancer;
  EXPECT_EQ(lb.policy(), pb::LoadBalancer::RING_HASH);
  EXPECT_EQ(lb.consistent_hash().http_header_name(), "x-user");
  const auto& q = *dr.subsets[0].policy->load_balancer;
  EXPECT_EQ(q.consistent_hash().http_query_parameter_name(), "uid");
  EXPECT_EQ(q.consistent_hash().minimum_ring_size(), 64u);
  EXPECT_THAT(dr.subsets[0].labels, IsEmpty());
}

TEST(DestinationRule, BadValues) {
  auto d = DecodeSingle(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d, namespace: shop}
spec:
  host: h
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      consistentHash: {httpHeaderName: a, useSourceIp: true}
    connectionPool:
      tcp: {maxConnections: 0}
    tls: {mode: MUTUAL_TLS}
  subsets:
  - name: a
  - name: a
  - labels: {x: "y"}
)");
  EXPECT_TRUE(d.rejected);
  std::vector<std::string> got;
  for (const auto& x : d.diagnostics) {
    got.push_back(x.code + " " + std::to_string(x.line) + ":" + std::to_string(x.column) + " " +
                  x.field);
  }
  EXPECT_THAT(
      got,
      ElementsAre("value 8:15 spec.trafficPolicy.loadBalancer.simple",
                  "value 9:23 spec.trafficPolicy.loadBalancer.consistentHash",
                  "value 12:17 spec.trafficPolicy.tls.mode", "conflict 15:11 spec.subsets[1].name",
                  "missing-field 16:5 spec.subsets[2].name", "value 16:5 spec.subsets[2]"))
      << Dump(d.diagnostics);
}

TEST(DestinationRule, DeprecatedConsecutiveErrorsWarns) {
  auto d = DecodeSingle(R"(apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: d}
spec:
  host: h
  trafficPolicy:
    outlierDetection: {consecutiveErrors: 5}
)");
  ASSERT_FALSE(d.rejected) << Dump(d.diagnostics);
  ASSERT_THAT(d.diagnostics, SizeIs(1));
  EXPECT_EQ(d.diagnostics[0].severity, Severity::kWarning);
  EXPECT_EQ(d.diagnostics[0].field, "spec.trafficPolicy.outlierDetection.consecutiveErrors");
  EXPECT_EQ(
      d.resource->as<DestinationRuleSpec>().policy->outlier_detection->consecutive_5xx_errors(),
      5u);
}

// "severity code field" of each diagnostic, for compact expectations.
std::vector<std::string> Brief(const std::vector<Diagnostic>& diags) {
  std::vector<std::string> out;
  for (const auto& x : diags) {
    out.push_back(std::string(SeverityName(x.severity)) + " " + x.code + " " + x.field);
  }
  return out;
}

std::string VsWithHttp(const std::string& http) {
  return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, "
         "namespace: shop}\nspec:\n  hosts: [r]\n  http:\n" +
         http;
}

std::string DrWithPolicy(const std::string& policy) {
  return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, "
         "namespace: shop}\nspec:\n  host: h\n" +
         policy;
}

// fault.abort.grpcStatus: Istio's status names, into abort_grpc_status as the numeric code.
TEST(VirtualService, AbortGrpcStatus) {
  auto vs = DecodeSpec<VirtualServiceSpec>(VsWithHttp(R"(  - route: [{destination: {host: r}}]
    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 50}}}
  - route: [{destination: {host: r}}]
    fault: {abort: {grpcStatus: OK, percentage: {value: 1}}}
  - route: [{destination: {host: r}}]
    fault: {abort: {grpcStatus: UNAUTHENTICATED, percentage: {value: 1}}}
  - route: [{destination: {host: r}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 1}}}
)"));
  ASSERT_THAT(vs.http, SizeIs(4));
  const auto& f = vs.http[0].route.fault();
  ASSERT_TRUE(f.has_abort_grpc_status());
  EXPECT_EQ(f.abort_grpc_status(), 14u);
  EXPECT_EQ(f.abort_http_status(), 0u);
  EXPECT_DOUBLE_EQ(f.abort_percent(), 50);
  ASSERT_TRUE(vs.http[1].route.fault().has_abort_grpc_status());  // OK is 0, still set
  EXPECT_EQ(vs.http[1].route.fault().abort_grpc_status(), 0u);
  EXPECT_EQ(vs.http[2].route.fault().abort_grpc_status(), 16u);
  EXPECT_FALSE(vs.http[3].route.fault().has_abort_grpc_status());
  EXPECT_EQ(vs.http[3].route.fault().abort_http_status(), 503u);
}

TEST(VirtualService, AbortGrpcStatusErrors) {
  auto d = DecodeSingle(VsWithHttp(R"(  - route: [{destination: {host: r}}]
    fault: {abort: {grpcStatus: UNAVAILABLE_NOW, percentage: {value: 50}}}
  - route: [{destination: {host: r}}]
    fault: {abort: {httpStatus: 503, grpcStatus: INTERNAL, percentage: {value: 50}}}
  - route: [{destination: {host: r}}]
    fault: {abort: {percentage: {value: 50}}}
)"));
  EXPECT_TRUE(d.rejected);
  EXPECT_THAT(Brief(d.diagnostics), ElementsAre("error value spec.http[0].fault.abort.grpcStatus",
                                                "error value spec.http[1].fault.abort.grpcStatus",
                                                "warning value spec.http[2].fault.abort"))
      << Dump(d.diagnostics);
  EXPECT_NE(d.diagnostics[0].message.find("UNAVAILABLE, DATA_LOSS"), std::string::npos)
      << d.diagnostics[0].message;
}

// perTryTimeout not shorter than the route timeout: attempts that time out are never retried.
TEST(VirtualService, PerTryTimeoutNotShorterThanTimeoutWarns) {
  auto d = DecodeSingle(VsWithHttp(R"(  - route: [{destination: {host: r}}]
    timeout: 2s
    retries: {attempts: 3, perTryTimeout: 2s}
  - route: [{destination: {host: r}}]
    timeout: 2s
    retries: {attempts: 3, perTryTimeout: 5s}
  - route: [{destination: {host: r}}]
    timeout: 2s
    retries: {attempts: 3, perTryTimeout: 1s}
  - route: [{destination: {host: r}}]
    retries: {attempts: 3, perTryTimeout: 5s}
  - route: [{destination: {host: r}}]
    timeout: 2s
    retries: {attempts: 0}
)"));
  ASSERT_FALSE(d.rejected) << Dump(d.diagnostics);
  EXPECT_THAT(Brief(d.diagnostics), ElementsAre("warning value spec.http[0].retries.perTryTimeout",
                                                "warning value spec.http[1].retries.perTryTimeout"))
      << Dump(d.diagnostics);
  const auto& vs = d.resource->as<VirtualServiceSpec>();
  EXPECT_EQ(vs.http[0].retries_pos.field, "spec.http[0].retries");
  EXPECT_EQ(vs.http[0].retries_pos.mark.line, 9u);
}

// Istio's TrafficPolicy.retryBudget: Envoy's defaults (20 %, 3) for what is unset.
TEST(DestinationRule, RetryBudget) {
  auto dr = DecodeSpec<DestinationRuleSpec>(DrWithPolicy(R"(  trafficPolicy:
    retryBudget: {}
  subsets:
  - name: v1
    labels: {v: "1"}
    trafficPolicy:
      retryBudget: {percent: 12.5, minRetryConcurrency: 0}
  - name: v2
    labels: {v: "2"}
)"));
  ASSERT_TRUE(dr.policy->retry_budget);
  EXPECT_TRUE(dr.policy->retry_budget->enabled());
  EXPECT_DOUBLE_EQ(dr.policy->retry_budget->percent(), 20);
  EXPECT_EQ(dr.policy->retry_budget->min_retry_concurrency(), 3u);
  ASSERT_TRUE(dr.subsets[0].policy->retry_budget);
  EXPECT_DOUBLE_EQ(dr.subsets[0].policy->retry_budget->percent(), 12.5);
  EXPECT_EQ(dr.subsets[0].policy->retry_budget->min_retry_concurrency(), 0u);
  EXPECT_FALSE(dr.subsets[1].policy);
}

TEST(DestinationRule, RetryBudgetErrors) {
  auto d = DecodeSingle(DrWithPolicy(R"(  trafficPolicy:
    retryBudget: {percent: 101, minRetryConcurrency: -1, budgetInterval: 10s}
    portLevelSettings:
    - port: {number: 80}
      retryBudget: {percent: 10}
)"));
  EXPECT_TRUE(d.rejected);
  EXPECT_THAT(Brief(d.diagnostics),
              ElementsAre("error unknown-field spec.trafficPolicy.portLevelSettings[0].retryBudget",
                          "error value spec.trafficPolicy.retryBudget.percent",
                          "error value spec.trafficPolicy.retryBudget.minRetryConcurrency",
                          "warning unsupported spec.trafficPolicy.retryBudget.budgetInterval",
                          // Istio: "port traffic policy must have at least one field"
                          "error value spec.trafficPolicy.portLevelSettings[0]"))
      << Dump(d.diagnostics);
}

// consecutive5xxErrors and maxEjectionPercent are set only when written (0 included), so the
// waypoint can tell "unset: Istio's default" from 0.
TEST(DestinationRule, OutlierDefaultsStayUnset) {
  auto dr = DecodeSpec<DestinationRuleSpec>(DrWithPolicy(R"(  trafficPolicy:
    outlierDetection: {interval: 1ms, baseEjectionTime: 30s}
  subsets:
  - name: v1
    labels: {v: "1"}
    trafficPolicy:
      outlierDetection: {consecutive5xxErrors: 0, maxEjectionPercent: 0}
)"));
  const auto& od = *dr.policy->outlier_detection;
  EXPECT_FALSE(od.has_consecutive_5xx_errors());
  EXPECT_FALSE(od.has_max_ejection_percent());
  EXPECT_EQ(od.interval_ms(), 1u);
  const auto& sub = *dr.subsets[0].policy->outlier_detection;
  ASSERT_TRUE(sub.has_consecutive_5xx_errors());
  EXPECT_EQ(sub.consecutive_5xx_errors(), 0u);
  ASSERT_TRUE(sub.has_max_ejection_percent());
  EXPECT_EQ(sub.max_ejection_percent(), 0u);
}

// As Istio validates: durations of at least 1ms, percentages 0-100, local-origin failures only
// with splitExternalLocalOriginErrors.
TEST(DestinationRule, OutlierValidation) {
  auto d = DecodeSingle(DrWithPolicy(R"(  trafficPolicy:
    outlierDetection:
      interval: 0s
      baseEjectionTime: 500us
      maxEjectionPercent: 101
      minHealthPercent: -1
      consecutiveLocalOriginFailures: 3
)"));
  EXPECT_TRUE(d.rejected);
  EXPECT_THAT(
      Brief(d.diagnostics),
      ElementsAre("error value spec.trafficPolicy.outlierDetection.interval",
                  "error value spec.trafficPolicy.outlierDetection.baseEjectionTime",
                  "error value spec.trafficPolicy.outlierDetection.maxEjectionPercent",
                  "error value spec.trafficPolicy.outlierDetection.minHealthPercent",
                  "error value spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures"))
      << Dump(d.diagnostics);
}

// httpCookie.ttl is optional: set only when written (0s: a session cookie); without it no
// cookie is generated, which gets a warning.
TEST(DestinationRule, HttpCookieTtl) {
  auto d = DecodeSingle(DrWithPolicy(R"(  trafficPolicy:
    loadBalancer: {consistentHash: {httpCookie: {name: user}}}
  subsets:
  - name: v1
    labels: {v: "1"}
    trafficPolicy:
      loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 0s}}}
)"));
  ASSERT_FALSE(d.rejected) << Dump(d.diagnostics);
  EXPECT_THAT(
      Brief(d.diagnostics),
      ElementsAre("warning value spec.trafficPolicy.loadBalancer.consistentHash.httpCookie"))
      << Dump(d.diagnostics);
  const auto& dr = d.resource->as<DestinationRuleSpec>();
  EXPECT_FALSE(dr.policy->load_balancer->consistent_hash().http_cookie().has_ttl_ms());
  const auto& sub = dr.subsets[0].policy->load_balancer->consistent_hash().http_cookie();
  ASSERT_TRUE(sub.has_ttl_ms());
  EXPECT_EQ(sub.ttl_ms(), 0u);
}

// ---- ServiceEntry ----

constexpr char kSe[] = R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: shop}
spec:
  hosts: [api.example.com, "*.cdn.example.com"]
  addresses: [192.0.2.0/24, 198.51.100.7]
  ports:
  - {number: 443, name: https, protocol: HTTPS}
  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - address: 192.0.2.10
    ports: {https: 8443}
    labels: {zone: a}
    locality: us-east/z1/s1
    weight: 3
    serviceAccount: ext-sa
  - address: 192.0.2.11
  exportTo: ["*"]
)";

TEST(ServiceEntry, AllFields) {
  auto se = DecodeSpec<ServiceEntrySpec>(kSe);
  ASSERT_THAT(se.hosts, SizeIs(2));
  EXPECT_EQ(se.hosts[1].host, "*.cdn.example.com");
  EXPECT_THAT(se.addresses, ElementsAre("192.0.2.0/24", "198.51.100.7"));
  ASSERT_THAT(se.ports, SizeIs(2));
  EXPECT_EQ(se.ports[0].number, 443u);
  EXPECT_EQ(se.ports[0].name, "https");
  EXPECT_EQ(se.ports[0].protocol, "HTTPS");
  EXPECT_EQ(se.ports[1].target_port, 8080u);
  EXPECT_EQ(se.location, "MESH_INTERNAL");
  EXPECT_EQ(se.resolution, "STATIC");
  ASSERT_THAT(se.endpoints, SizeIs(2));
  const auto& e = se.endpoints[0];
  EXPECT_EQ(e.address, "192.0.2.10");
  EXPECT_THAT(e.ports, ElementsAre(Pair("https", 8443u)));
  EXPECT_THAT(e.labels, ElementsAre(Pair("zone", "a")));
  EXPECT_EQ(e.locality, "us-east/z1/s1");
  EXPECT_EQ(e.weight, 3u);
  EXPECT_EQ(e.service_account, "ext-sa");
  EXPECT_EQ(e.pos.field, "spec.endpoints[0]");
  EXPECT_THAT(se.export_to, ElementsAre("*"));
  EXPECT_FALSE(se.workload_selector);
}

TEST(ServiceEntry, Defaults) {
  auto se = DecodeSpec<ServiceEntrySpec>(
      "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: e}\n"
      "spec:\n  hosts: [x.example.com]\n");
  EXPECT_EQ(se.location, "MESH_EXTERNAL");
  EXPECT_EQ(se.resolution, "NONE");
}

TEST(ServiceEntry, WorkloadSelectorUsesLabels) {
  // networking.istio.io's WorkloadSelector is {labels: {...}} (unlike security.istio.io's
  // {matchLabels: {...}}).
  auto se = DecodeSpec<ServiceEntrySpec>(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: shop}
spec:
  hosts: [vm.shop.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels: {app: vm}
)");
  ASSERT_TRUE(se.workload_selector);
  EXPECT_THAT(*se.workload_selector, ElementsAre(Pair("app", "vm")));
}

TEST(ServiceEntry, BadValues) {
  auto d = DecodeSingle(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: e, namespace: shop}
spec:
  hosts: [x.example.com]
  addresses: [not-an-ip]
  ports:
  - {name: p}
  resolution: MAGIC
  endpoints:
  - address: 1.2.3.4
    ports: [80]
)");
  EXPECT_TRUE(d.rejected);
  std::vector<std::string> got;
  for (const auto& x : d.diagnostics) {
    got.push_back(x.code + " " + std::to_string(x.line) + ":" + std::to_string(x.column) + " " +
                  x.field);
  }
  EXPECT_THAT(got,
              ElementsAre("value 6:15 spec.addresses[0]", "missing-field 8:5 spec.ports[0].number",
                          "value 9:15 spec.resolution", "type 12:12 spec.endpoints[0].ports",
                          "value 8:5 spec.ports[0]"))  // Istio: port number 0
      << Dump(d.diagnostics);
}

// Istio's default redirect code, 301, is in the snapshot when redirectCode is absent.
TEST(VirtualService, RedirectWithoutACodeIs301) {
  auto vs = DecodeSpec<VirtualServiceSpec>(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - redirect: {uri: /new}
)");
  ASSERT_EQ(vs.http.size(), 1u);
  EXPECT_EQ(vs.http[0].route.redirect().response_code(), 301u);
}

std::string Dr(const std::string& traffic_policy) {
  return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
         "metadata: {name: r, namespace: shop}\nspec:\n  host: reviews\n  trafficPolicy:\n" +
         traffic_policy;
}

// Fields of Istio 1.28+ (warmup, http2KeepAlive, zoneAwareLbSetting): validated as Istio does,
// then warned as not enforced; Istio's cross-field rules are errors.
TEST(DestinationRule, NewerFieldsValidatedAndWarned) {
  auto d = DecodeSingle(Dr(R"(    loadBalancer:
      warmup: {duration: 60s, minimumPercent: 20, aggression: 1.5}
      zoneAwareLbSetting: {enabled: true, minClusterSize: 3}
    connectionPool:
      http: {http2KeepAlive: {interval: 10s, timeout: 3s}}
)"));
  EXPECT_FALSE(d.rejected) << Dump(d.diagnostics);
  auto w = OfCode(d.diagnostics, code::kUnsupported);
  ASSERT_THAT(w, SizeIs(3)) << Dump(d.diagnostics);
  EXPECT_EQ(w[0].field, "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting");
  EXPECT_EQ(w[1].field, "spec.trafficPolicy.loadBalancer.warmup");
  EXPECT_EQ(w[2].field, "spec.trafficPolicy.connectionPool.http.http2KeepAlive");
  const auto& lb = std::get<DestinationRuleSpec>(d.resource->spec).policy->load_balancer;
  ASSERT_TRUE(lb.has_value());
  EXPECT_EQ(lb->warmup_duration_ms(), 60000u);
  for (const char* bad :
       {"    loadBalancer: {warmup: {minimumPercent: 5}}\n",
        "    loadBalancer: {warmup: {duration: 1s, minimumPercent: 101}}\n",
        "    loadBalancer: {warmup: {duration: 1s, aggression: 0}}\n",
        "    loadBalancer: {warmupDurationSecs: 5s, warmup: {duration: 1s}}\n",
        "    loadBalancer: {zoneAwareLbSetting: {enabled: true}, localityLbSetting: {enabled: "
        "true}}\n",
        "    connectionPool: {http: {http2KeepAlive: {interval: 10s}}}\n",
        "    connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}\n"}) {
    EXPECT_TRUE(DecodeSingle(Dr(bad)).rejected) << bad;
  }
}

std::string Se(const std::string& spec) {
  return "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
         "metadata: {name: e, namespace: shop}\nspec:\n" +
         spec;
}

// Istio's ValidateServiceEntry rules the schema does not check.
TEST(ServiceEntry, IstioValidationRules) {
  EXPECT_FALSE(DecodeSingle(Se(R"(  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
  endpoints: [{address: api.example.com, ports: {https: 8443}}]
)"))
                   .rejected);
  for (const char* bad :
       {"  hosts: [\"*\"]\n  ports: [{number: 80, name: http}]\n  resolution: DNS\n",
        "  hosts: [a.example]\n  ports: [{number: 80, name: a}, {number: 80, name: b}]\n"
        "  resolution: DNS\n",
        "  hosts: [a.example]\n  ports: [{number: 80, name: a}, {number: 81, name: a}]\n"
        "  resolution: DNS\n",
        "  hosts: [a.example]\n  ports: [{number: 80, name: a}]\n  resolution: STATIC\n"
        "  endpoints: [{address: 1.1.1.1}]\n  workloadSelector: {labels: {app: a}}\n",
        "  hosts: [a.example]\n  ports: [{number: 80, name: a}]\n"
        "  resolution: DNS_ROUND_ROBIN\n  endpoints: [{address: x.example}, {address: "
        "y.example}]\n",
        "  hosts: [a.example]\n  addresses: [10.0.0.0/8]\n  ports: [{number: 80, name: a}]\n"
        "  resolution: DNS\n",
        "  hosts: [a.example]\n  ports: [{number: 80, name: a}]\n  endpoints: [{address: "
        "1.1.1.1}]\n",
        "  hosts: [a.example]\n  ports: [{number: 80, name: a}]\n  resolution: STATIC\n"
        "  endpoints: [{address: 1.1.1.1, ports: {b: 81}}]\n"}) {
    auto d = DecodeSingle(Se(bad));
    EXPECT_TRUE(d.rejected) << bad << Dump(d.diagnostics);
  }
}

}  // namespace
}  // namespace weft::policy
