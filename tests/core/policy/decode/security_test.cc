// Decoding of security.istio.io: PeerAuthentication and AuthorizationPolicy.

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
using ::testing::Pair;
using ::testing::SizeIs;

std::vector<std::string> Where(const std::vector<Diagnostic>& ds) {
  std::vector<std::string> got;
  for (const auto& x : ds) {
    got.push_back(x.code + " " + std::to_string(x.line) + ":" + std::to_string(x.column) + " " +
                  x.field);
  }
  return got;
}

// ---- PeerAuthentication ----

TEST(PeerAuthentication, ModeSelectorAndPortLevel) {
  auto pa = DecodeSpec<PeerAuthenticationSpec>(R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: shop}
spec:
  selector:
    matchLabels: {app: web}
  mtls: {mode: STRICT}
  portLevelMtls:
    8080: {mode: DISABLE}
    "9090": {mode: UNSET}
    9443:
      mode: PERMISSIVE
)");
  ASSERT_TRUE(pa.selector);
  EXPECT_THAT(*pa.selector, ElementsAre(Pair("app", "web")));
  EXPECT_EQ(pa.mode, pb::MTLS_MODE_STRICT);
  EXPECT_THAT(pa.port_level, ElementsAre(Pair(8080u, pb::MTLS_MODE_DISABLE),
                                         Pair(9090u, pb::MTLS_MODE_UNSPECIFIED),
                                         Pair(9443u, pb::MTLS_MODE_PERMISSIVE)));
}

TEST(PeerAuthentication, EmptySpecIsUnset) {
  auto pa = DecodeSpec<PeerAuthenticationSpec>(
      "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\n"
      "metadata: {name: default, namespace: istio-system}\n");
  EXPECT_FALSE(pa.selector);
  EXPECT_EQ(pa.mode, pb::MTLS_MODE_UNSPECIFIED);
  EXPECT_THAT(pa.port_level, IsEmpty());
}

TEST(PeerAuthentication, Modes) {
  for (auto [text, mode] :
       std::vector<std::pair<std::string, pb::MtlsMode>>{{"UNSET", pb::MTLS_MODE_UNSPECIFIED},
                                                         {"DISABLE", pb::MTLS_MODE_DISABLE},
                                                         {"PERMISSIVE", pb::MTLS_MODE_PERMISSIVE},
                                                         {"STRICT", pb::MTLS_MODE_STRICT}}) {
    auto pa = DecodeSpec<PeerAuthenticationSpec>(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\n"
        "spec:\n  mtls: {mode: " +
        text + "}\n");
    EXPECT_EQ(pa.mode, mode) << text;
  }
}

TEST(PeerAuthentication, BadValues) {
  auto d = DecodeSingle(R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: shop}
spec:
  mtls: {mode: strict}
  portLevelMtls:
    http: {mode: STRICT}
    8080: {mode: STRICT}
)");
  EXPECT_TRUE(d.rejected);
  EXPECT_THAT(Where(d.diagnostics),
              ElementsAre("value 5:16 spec.mtls.mode", "value 7:5 spec.portLevelMtls.http",
                          "value 7:5 spec.portLevelMtls"))
      << Dump(d.diagnostics);
  EXPECT_EQ(d.diagnostics[2].message,
            "a mesh or namespace PeerAuthentication cannot have portLevelMtls: it needs a "
            "workload selector with labels (as in Istio)");
  EXPECT_EQ(d.diagnostics[2].severity, Severity::kError);
  // An empty selector is no selector; an empty map is an error of its own.
  auto empty_selector = DecodeSingle(R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: shop}
spec:
  selector: {matchLabels: {}}
  portLevelMtls: {8080: {mode: STRICT}}
)");
  EXPECT_TRUE(empty_selector.rejected) << Dump(empty_selector.diagnostics);
  auto empty_map = DecodeSingle(R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: shop}
spec:
  selector: {matchLabels: {app: a}}
  portLevelMtls: {}
)");
  EXPECT_TRUE(empty_map.rejected) << Dump(empty_map.diagnostics);
}

// ---- AuthorizationPolicy ----

constexpr char kPolicy[] = R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  selector:
    matchLabels: {app: web}
  action: DENY
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/a/sa/b", "*"]
        namespaces: ["prod-*"]
        ipBlocks: ["10.1.2.3/8", "192.168.0.7"]
        requestPrincipals: ["issuer/*"]
    - source:
        notPrincipals: ["*/sa/bad"]
        notNamespaces: ["*-test"]
        notIpBlocks: ["2001:db8::1/32"]
        notRequestPrincipals: ["x"]
    to:
    - operation: {ports: ["8080", "9090"], methods: [GET], paths: ["/api/*"]}
    - operation: {notPorts: ["22"], hosts: ["*.example.com"]}
    - operation: {notMethods: [DELETE], notPaths: ["/admin"], notHosts: [x]}
    when:
    - key: source.ip
      values: ["10.0.0.0/8"]
    - key: request.headers[x-token]
      notValues: ["bad"]
  - {}
)";

TEST(AuthorizationPolicy, FromToCrossProductWithWhenOnEach) {
  auto ap = DecodeSpec<AuthorizationPolicySpec>(kPolicy);
  ASSERT_TRUE(ap.selector);
  EXPECT_THAT(*ap.selector, ElementsAre(Pair("app", "web")));
  EXPECT_EQ(ap.action, pb::AuthorizationPolicy::DENY);
  EXPECT_TRUE(ap.has_rules_field);
  EXPECT_EQ(ap.spec_rule_count, 2u);
  // Rule 0: 2 sources x 3 operations; rule 1: one rule that matches everything.
  ASSERT_THAT(ap.rules, SizeIs(7));
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(ap.rules[i].rule_index(), 0u);
    ASSERT_EQ(ap.rules[i].conditions_size(), 2) << i;
    EXPECT_EQ(ap.rules[i].conditions(0).key(), "source.ip");
    EXPECT_EQ(ap.rules[i].conditions(1).key(), "request.headers[x-token]");
    EXPECT_EQ(ap.rules[i].conditions(1).not_values(0).exact(), "bad");
  }
  // Source-major order: s0xo0, s0xo1, s0xo2, s1xo0, ...
  EXPECT_EQ(ap.rules[0].principals_size(), 2);
  EXPECT_EQ(ap.rules[0].ports_size(), 2);
  EXPECT_EQ(ap.rules[1].principals_size(), 2);
  EXPECT_EQ(ap.rules[1].not_ports_size(), 1);
  EXPECT_EQ(ap.rules[2].not_methods_size(), 1);
  EXPECT_EQ(ap.rules[3].principals_size(), 0);
  EXPECT_EQ(ap.rules[3].not_principals_size(), 1);
  EXPECT_EQ(ap.rules[3].ports_size(), 2);
  EXPECT_EQ(ap.rules[5].not_hosts_size(), 1);
  const auto& last = ap.rules[6];
  EXPECT_EQ(last.rule_index(), 1u);
  pb::AuthorizationRule only_index;
  only_index.set_rule_index(1);
  EXPECT_EQ(last.SerializeAsString(), only_index.SerializeAsString());
}

TEST(AuthorizationPolicy, StringMatchesAndNormalisedIpBlocks) {
  auto ap = DecodeSpec<AuthorizationPolicySpec>(kPolicy);
  const auto& r = ap.rules[0];
  EXPECT_EQ(r.principals(0).exact(), "cluster.local/ns/a/sa/b");
  EXPECT_TRUE(r.principals(1).presence());
  EXPECT_EQ(r.namespaces(0).prefix(), "prod-");
  EXPECT_THAT(r.ip_blocks(), ElementsAre("10.0.0.0/8", "192.168.0.7/32"));
  EXPECT_EQ(r.request_principals(0).prefix(), "issuer/");
  EXPECT_THAT(r.ports(), ElementsAre(8080u, 9090u));
  EXPECT_THAT(r.methods(), ElementsAre("GET"));
  EXPECT_EQ(r.paths(0).prefix(), "/api/");
  EXPECT_EQ(r.conditions(0).values(0).exact(), "10.0.0.0/8");
  const auto& s1 = ap.rules[3];
  EXPECT_EQ(s1.not_principals(0).suffix(), "/sa/bad");
  EXPECT_EQ(s1.not_namespaces(0).suffix(), "-test");
  EXPECT_THAT(s1.not_ip_blocks(), ElementsAre("2001:db8::/32"));
  EXPECT_EQ(s1.not_request_principals(0).exact(), "x");
  EXPECT_THAT(ap.rules[1].not_ports(), ElementsAre(22u));
  EXPECT_EQ(ap.rules[1].hosts(0).suffix(), ".example.com");
  EXPECT_THAT(ap.rules[2].not_methods(), ElementsAre("DELETE"));
  EXPECT_EQ(ap.rules[2].not_paths(0).exact(), "/admin");
  EXPECT_EQ(ap.rules[2].not_hosts(0).exact(), "x");
}

TEST(AuthorizationPolicy, DefaultsAllowAndNoRules) {
  auto ap = DecodeSpec<AuthorizationPolicySpec>(
      "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\n"
      "metadata: {name: allow-nothing, namespace: shop}\nspec: {}\n");
  EXPECT_EQ(ap.action, pb::AuthorizationPolicy::ALLOW);
  EXPECT_FALSE(ap.selector);
  EXPECT_FALSE(ap.has_rules_field);
  EXPECT_THAT(ap.rules, IsEmpty());
}

TEST(AuthorizationPolicy, TargetRefsAndAudit) {
  auto ap = DecodeSpec<AuthorizationPolicySpec>(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: w, namespace: shop}
spec:
  targetRefs:
  - {kind: Service, group: "", name: reviews}
  - {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}
  action: AUDIT
  rules:
  - to: [{operation: {methods: [POST]}}]
)");
  ASSERT_THAT(ap.target_refs, SizeIs(2));
  EXPECT_EQ(ap.target_refs[0].kind(), "Service");
  EXPECT_EQ(ap.target_refs[0].name(), "reviews");
  EXPECT_EQ(ap.target_refs[1].group(), "gateway.networking.k8s.io");
  EXPECT_EQ(ap.target_refs[1].name(), "waypoint");
  // A namespace is refused (Istio's validatePolicyTargetReference).
  auto cross = DecodeSingle(
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: s}\n"
      "spec:\n  targetRef: {kind: Service, name: a, namespace: other}\n");
  ASSERT_TRUE(cross.rejected);
  EXPECT_EQ(cross.diagnostics[0].message,
            "targetRef namespace must not be set; cross namespace referencing is not supported");
  EXPECT_EQ(ap.action, pb::AuthorizationPolicy::AUDIT);
  auto single = DecodeSpec<AuthorizationPolicySpec>(
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: s}\n"
      "spec:\n  targetRef: {kind: Service, name: a}\n");
  ASSERT_THAT(single.target_refs, SizeIs(1));
  EXPECT_EQ(single.target_refs[0].name(), "a");
}

TEST(AuthorizationPolicy, BadValues) {
  auto d = DecodeSingle(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  selector: {matchLabels: {app: a}}
  targetRefs: [{kind: Service, name: a}]
  action: CUSTOM
  rules:
  - from:
    - source: {ipBlocks: [300.1.1.1]}
    to:
    - operation: {ports: ["80a", "70000"]}
    when:
    - key: source.color
      values: [red]
    - key: source.ip
)");
  EXPECT_TRUE(d.rejected);
  EXPECT_THAT(Where(d.diagnostics),
              ElementsAre("value 6:15 spec.targetRefs", "unsupported 7:11 spec.action",
                          "value 10:27 spec.rules[0].from[0].source.ipBlocks[0]",
                          "value 12:27 spec.rules[0].to[0].operation.ports[0]",
                          "value 12:34 spec.rules[0].to[0].operation.ports[1]",
                          "value 14:12 spec.rules[0].when[0].key",
                          "missing-field 16:7 spec.rules[0].when[1]"))
      << Dump(d.diagnostics);
  EXPECT_EQ(d.diagnostics[1].message, "action CUSTOM (external authorization) is not supported");
  EXPECT_EQ(d.diagnostics[5].message, "unknown condition key \"source.color\"");
  EXPECT_EQ(d.diagnostics[6].message,
            "at least one of values or notValues must be set for key source.ip");
}

TEST(AuthorizationPolicy, MatchExpressionsAreNotSilentlyIgnored) {
  // A selector field weft does not read must not widen the policy silently.
  auto d = DecodeSingle(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  selector:
    matchLabels: {app: a}
    matchExpressions: [{key: tier, operator: In, values: [x]}]
)");
  EXPECT_TRUE(d.rejected) << Dump(d.diagnostics);
}

TEST(AuthorizationPolicy, ServiceAccounts) {
  auto ap = DecodeSpec<AuthorizationPolicySpec>(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  rules:
  - from:
    - source: {serviceAccounts: [shop/web]}
    - source: {notServiceAccounts: [other/bad]}
)");
  ASSERT_THAT(ap.rules, SizeIs(2));
  // "<namespace>/<name>" is that account in any trust domain.
  EXPECT_EQ(ap.rules[0].principals(0).suffix(), "/ns/shop/sa/web");
  EXPECT_EQ(ap.rules[1].not_principals(0).suffix(), "/ns/other/sa/bad");
}

TEST(AuthorizationPolicy, ServiceAccountsWithPrincipalsOrNamespacesIsAnError) {
  // A source ANDs its fields; serviceAccounts become principals, so mixing them would OR the
  // two lists and widen an ALLOW. Istio rejects the combination.
  auto d = DecodeSingle(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  rules:
  - from:
    - source: {principals: [cluster.local/ns/a/sa/x], serviceAccounts: [b/y]}
    - source: {notNamespaces: [c], notServiceAccounts: [d/z]}
    - source: {serviceAccounts: ["web*"]}
)");
  EXPECT_TRUE(d.rejected);
  EXPECT_THAT(Where(d.diagnostics),
              ElementsAre("value 7:72 spec.rules[0].from[0].source.serviceAccounts",
                          "value 8:56 spec.rules[0].from[1].source.notServiceAccounts",
                          "value 9:34 spec.rules[0].from[2].source.serviceAccounts[0]"))
      << Dump(d.diagnostics);
  EXPECT_EQ(d.diagnostics[0].message,
            "serviceAccounts cannot be set with principals or namespaces");
}

// Istio's CheckServiceAccount: a bare name is in the policy's namespace.
TEST(AuthorizationPolicy, ABareServiceAccountIsInThePolicysNamespace) {
  auto ap = DecodeSpec<AuthorizationPolicySpec>(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  rules:
  - from:
    - source: {serviceAccounts: [web, other/api]}
    when:
    - key: source.serviceAccount
      values: [cart]
      notValues: [pay/ledger]
)");
  ASSERT_THAT(ap.rules, SizeIs(1));
  EXPECT_EQ(ap.rules[0].principals(0).suffix(), "/ns/shop/sa/web");
  EXPECT_EQ(ap.rules[0].principals(1).suffix(), "/ns/other/sa/api");
  // source.serviceAccount conditions are the principals they name.
  ASSERT_EQ(ap.rules[0].conditions_size(), 1);
  EXPECT_EQ(ap.rules[0].conditions(0).key(), "source.principal");
  EXPECT_EQ(ap.rules[0].conditions(0).values(0).suffix(), "/ns/shop/sa/cart");
  EXPECT_EQ(ap.rules[0].conditions(0).not_values(0).suffix(), "/ns/pay/sa/ledger");
}

TEST(AuthorizationPolicy, TrustDomainsAndConditionKeysIstioAccepts) {
  auto d = DecodeSingle(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ap, namespace: shop}
spec:
  targetRefs: [{kind: Service, name: web}]
  rules:
  - from:
    - source: {trustDomains: [cluster.local, "*.corp"], notTrustDomains: ["old*"]}
    to:
    - operation: {ports: ["0"]}
    when:
    - {key: source.trustDomain, values: ["*"]}
    - {key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: [users]}
    - {key: "request.headers[x-a]", values: [b]}
)");
  EXPECT_FALSE(d.rejected) << Dump(d.diagnostics);
  const auto& ap = std::get<AuthorizationPolicySpec>(d.resource->spec);
  ASSERT_THAT(ap.rules, SizeIs(1));
  EXPECT_EQ(ap.rules[0].trust_domains(0).exact(), "cluster.local");
  EXPECT_EQ(ap.rules[0].trust_domains(1).suffix(), ".corp");
  EXPECT_EQ(ap.rules[0].not_trust_domains(0).prefix(), "old");
  EXPECT_EQ(ap.rules[0].conditions(0).key(), "source.trustDomain");
}

// The rules of Istio's ValidateAuthorizationPolicy weft had not applied.
TEST(AuthorizationPolicy, IstioValidationRules) {
  auto errors = [](const std::string& spec) {
    auto d = DecodeSingle(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        "metadata: {name: ap, namespace: shop}\nspec:\n" +
        spec);
    std::vector<std::string> out;
    for (const auto& x : d.diagnostics) {
      if (x.severity == Severity::kError) out.push_back(x.message);
    }
    return out;
  };
  EXPECT_THAT(errors("  action: DENY\n"),
              ElementsAre(::testing::HasSubstr("DENY action without rules is meaningless")));
  EXPECT_THAT(errors("  action: DENY\n  rules: [{}]\n"), IsEmpty());
  EXPECT_THAT(errors("  provider: {name: ext}\n  rules: [{}]\n"),
              ElementsAre("provider must not be set with action ALLOW"));
  // An empty list is no list (Istio reads both as unset), so from: [] is a rule without sources;
  // a source or operation whose fields are all empty is Istio's error.
  EXPECT_THAT(errors("  rules: [{from: []}]\n"), IsEmpty());
  EXPECT_THAT(errors("  rules: [{to: [{operation: {}}]}]\n"),
              ElementsAre("`to.operation` must not be empty"));
  EXPECT_THAT(errors("  rules: [{from: [{source: {}}]}]\n"),
              ElementsAre("`from.source` must not be empty"));
  EXPECT_THAT(errors("  rules: [{from: [{source: {ipBlocks: []}}]}]\n"),
              ElementsAre("`from.source` must not be empty"));
  EXPECT_THAT(errors("  rules: [{from: [{source: {principals: [\"\"]}}]}]\n"),
              ElementsAre("empty value not allowed"));
  EXPECT_THAT(errors("  rules: [{from: [{source: {trustDomains: [\"a*b\"]}}]}]\n"),
              ElementsAre(::testing::HasSubstr("only allowed at the start or the end")));
  EXPECT_THAT(errors("  rules: [{from: [{source: {trustDomains: [a/b]}}]}]\n"),
              ElementsAre(::testing::HasSubstr("a trust domain has no '/'")));
  EXPECT_THAT(errors("  rules: [{when: [{key: \"destination.labels[app]\", values: [a]}]}]\n"),
              ElementsAre(::testing::HasSubstr("replaced by the workload selector")));
  EXPECT_THAT(errors("  rules: [{when: [{key: destination.namespace, values: [a]}]}]\n"),
              ElementsAre(::testing::HasSubstr("replaced by metadata.namespace")));
  EXPECT_THAT(errors("  rules: [{when: [{key: request.headers, values: [a]}]}]\n"),
              ElementsAre(::testing::HasSubstr("should have the format a[b]")));
  EXPECT_THAT(errors("  rules: [{when: [{key: destination.port, values: [\"65536\"]}]}]\n"),
              ElementsAre(::testing::HasSubstr("not a port")));
  EXPECT_THAT(errors("  rules: [{when: [{key: source.serviceAccount, values: [a/b/c]}]}]\n"),
              ElementsAre(::testing::HasSubstr("invalid service account")));
}

}  // namespace
}  // namespace weft::policy
