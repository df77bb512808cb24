// Istio's validation of the networking kinds (core/policy/decode/istio_checks.cc): one case per
// rule group, each with Istio's message. tests/compat's differential test compares the whole
// against Istio's own code; these say what each rule is, and fail without it.

#include "core/policy/decode/istio_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;

// The error messages of one document.
std::vector<std::string> Errors(const std::string& kind, const std::string& spec) {
  std::string api = kind == "ServiceEntry" || kind == "VirtualService" || kind == "DestinationRule"
                        ? "networking.istio.io/v1"
                        : "security.istio.io/v1";
  auto d = testing::DecodeSingle("apiVersion: " + api + "\nkind: " + kind +
                                 "\nmetadata: {name: x, namespace: shop}\nspec:\n" + spec);
  std::vector<std::string> out;
  for (const auto& x : d.diagnostics) {
    if (x.severity == Severity::kError) out.push_back(x.field + ": " + x.message);
  }
  return out;
}

std::vector<std::string> Vs(const std::string& spec) {
  return Errors("VirtualService", spec);
}
std::vector<std::string> Dr(const std::string& spec) {
  return Errors("DestinationRule", spec);
}
std::vector<std::string> Se(const std::string& spec) {
  return Errors("ServiceEntry", spec);
}

constexpr char kRoute[] = "    route: [{destination: {host: r}}]\n";

TEST(IstioChecks, HttpRouteConflicts) {
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - redirect: {uri: /x}\n" + std::string(kRoute)),
              Contains("spec.http[0]: HTTP route cannot contain both route and redirect"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - directResponse: {status: 200}\n"
                 "    fault: {abort: {httpStatus: 500}}\n"),
              Contains("spec.http[0]: HTTP route cannot contain both fault and direct_response"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - match: [{uri: {prefix: /a}}]\n"),
              Contains("spec.http[0]: HTTP route, redirect or direct_response is required"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - delegate: {name: d}\n" + std::string(kRoute)),
              Contains("spec.http[0].route: root HTTP route  must not specify route"));
}

TEST(IstioChecks, HostsAndDelegates) {
  EXPECT_THAT(Vs("  hosts: [\"*\"]\n  http:\n  -" + std::string(kRoute).substr(3)),
              Contains("spec.hosts[0]: wildcard host * is not allowed for virtual services bound "
                       "to the mesh gateway"));
  EXPECT_THAT(Vs("  hosts: [a.example.com, \"*.example.com\"]\n  http:\n  -" +
                 std::string(kRoute).substr(3)),
              Contains("spec.hosts[1]: duplicate hosts in virtual service: a.example.com & "
                       "*.example.com"));
  EXPECT_THAT(Vs("  http:\n  -" + std::string(kRoute).substr(3)), IsEmpty());  // a delegate
  EXPECT_THAT(Vs("  gateways: [gw]\n  http:\n  -" + std::string(kRoute).substr(3)),
              Contains("spec.gateways: delegate virtual service must have no gateways specified"));
  EXPECT_THAT(Vs("  hosts: [r]\n"),
              Contains("spec: http, tcp or tls must be provided in virtual service"));
}

TEST(IstioChecks, DestinationsWeightsAndMatches) {
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - route: [{destination: {host: a}}, "
                 "{destination: {host: b}}]\n"),
              Contains("spec.http[0].route: total destination weight = 0"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - route: [{destination: {host: a, subset: v_1}}]\n"),
              Contains("spec.http[0].route[0].destination.subset: subset name is invalid: v_1"));
  EXPECT_THAT(
      Vs("  hosts: [r]\n  http:\n  - match: [{uri: {prefix: /a}, method: {prefix: \"\"}}]\n" +
         std::string(kRoute)),
      Contains("spec.http[0].match[0].method.prefix: \"method\": prefix string match "
               "should not be empty"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - match: [{headers: {\"bad header\": {exact: a}}}]\n" +
                 std::string(kRoute)),
              Contains("spec.http[0].match[0].headers.bad header: header name bad header is not "
                       "a valid header name"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - headers: {response: {set: {host: a}}}\n" +
                 std::string(kRoute)),
              Contains("spec.http[0].headers.response.set.host: invalid header \"host\": cannot "
                       "set Host header"));
}

TEST(IstioChecks, RetriesRedirectRewriteFaultCors) {
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - retries: {attempts: 0, perTryTimeout: 1s}\n" +
                 std::string(kRoute)),
              Contains("spec.http[0].retries: http retry policy configured when attempts are set "
                       "to 0 (disabled)"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - redirect: {}\n"),
              Contains("spec.http[0].redirect: redirect must specify URI, authority, scheme, or "
                       "port"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - match: [{uri: {exact: /a}}]\n"
                 "    redirect: {prefixRewrite: /b}\n"),
              Contains("spec.http[0].redirect.prefixRewrite: redirect prefix_rewrite requires all "
                       "URI matches to use prefix match type"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - rewrite: {uri: /a, uriRegexRewrite: {match: a, "
                 "rewrite: b}}\n" +
                 std::string(kRoute)),
              Contains("spec.http[0].rewrite: rewrite may only contain one of URI or "
                       "UriRegexRewrite"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - fault: {}\n" + std::string(kRoute)),
              Contains("spec.http[0].fault: HTTP fault injection must have an abort and/or a "
                       "delay"));
  EXPECT_THAT(
      Vs("  hosts: [r]\n  http:\n  - corsPolicy: {allowMethods: [FETCH]}\n" + std::string(kRoute)),
      Contains("spec.http[0].corsPolicy.allowMethods[0]: \"FETCH\" is not a supported "
               "HTTP method"));
  EXPECT_THAT(Vs("  hosts: [r]\n  http:\n  - timeout: 0.5ms\n" + std::string(kRoute)),
              Contains("spec.http[0].timeout: duration must be greater than 1ms"));
}

TEST(IstioChecks, TlsAndTcpRoutes) {
  EXPECT_THAT(Vs("  hosts: [a.example.com]\n  tls:\n  - match: [{sniHosts: [b.example.com]}]\n"
                 "    route: [{destination: {host: a.example.com}}]\n"),
              Contains("spec.tls[0].match[0].sniHosts[0]: SNI host \"b.example.com\" is not a "
                       "compatible subset of any of the virtual service hosts: [a.example.com]"));
  EXPECT_THAT(Vs("  hosts: [a.example.com]\n  tls:\n  - match: [{sniHosts: [a.example.com]}]\n"),
              Contains("spec.tls[0]: TLS route is required"));
  EXPECT_THAT(Vs("  hosts: [r]\n  tcp:\n  - match: [{port: 80}]\n"),
              Contains("spec.tcp[0]: TCP route is required"));
}

TEST(IstioChecks, DestinationRuleTrafficPolicy) {
  EXPECT_THAT(Dr("  host: r\n  trafficPolicy: {}\n"),
              Contains("spec.trafficPolicy: traffic policy must have at least one field"));
  EXPECT_THAT(Dr("  host: r\n  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n"
                 "        distribute: [{from: a/b/*, to: {\"a/b/*\": 90}}]\n"),
              Contains("spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0]: total "
                       "locality weight 90 != 100"));
  EXPECT_THAT(Dr("  host: r\n  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
                 "        useSourceIp: true\n        maglev: {tableSize: 65536}\n"),
              Contains("spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: "
                       "tableSize must be a prime number for maglev"));
  EXPECT_THAT(Dr("  host: r\n  trafficPolicy: {tls: {mode: MUTUAL}}\n"),
              Contains("spec.trafficPolicy.tls: client certificate required for mutual tls"));
  EXPECT_THAT(Dr("  host: r\n  trafficPolicy: {tunnel: {targetHost: a.example.com, "
                 "targetPort: 8080, protocol: GET}}\n"),
              Contains("spec.trafficPolicy.tunnel.protocol: tunnel protocol must be \"CONNECT\" "
                       "or \"POST\""));
  EXPECT_THAT(Dr("  host: r\n  subsets: [{name: Version_1}]\n"),
              Contains("spec.subsets[0].name: subset name is invalid: Version_1"));
  EXPECT_THAT(Dr("  host: r\n  exportTo: [a, a]\n"),
              Contains("spec.exportTo[1]: duplicate entries in exportTo for entry a"));
}

TEST(IstioChecks, ServiceEntryResolutions) {
  const std::string ports = "  ports: [{number: 80, name: http, protocol: HTTP}]\n";
  EXPECT_THAT(Se("  hosts: [a.example.com]\n" + ports + "  resolution: NONE\n  endpoints: []\n"),
              Contains("spec.endpoints: NONE mode cannot set endpoints"));
  EXPECT_THAT(Se("  hosts: [a.example.com]\n" + ports + "  resolution: DYNAMIC_DNS\n"),
              Contains("spec.hosts[0]: host must be wildcarded for resolution mode DYNAMIC_DNS"));
  EXPECT_THAT(Se("  hosts: [a.example.com]\n" + ports +
                 "  resolution: STATIC\n  endpoints: [{address: db.example.com}]\n"),
              Contains("spec.endpoints[0].address: endpoint address \"db.example.com\" is not a "
                       "valid IP address"));
  EXPECT_THAT(Se("  hosts: [a.example.com, b.example.com]\n"
                 "  ports: [{number: 5432, name: pg, protocol: TCP}]\n  resolution: DNS\n"),
              Contains("spec.hosts: multiple hosts provided with non-HTTP, non-TLS ports"));
  EXPECT_THAT(Se("  hosts: [a.example.com]\n  ports: [{number: 80, name: \"p_1\"}]\n"),
              Contains("spec.ports[0].name: invalid port name: p_1"));
}

}  // namespace
}  // namespace weft::policy
