// The allow/deny matrix, end to end through the real compiler: Istio YAML -> CompileDocuments
// -> MeshSnapshot -> L4Authorizer -> Decision. Every expectation names the full verdict
// (allowed, reason, deciding policy and rule), so a wrong policy or rule index fails too.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/core/authz/authz_test_util.h"

namespace weft::authz {
namespace {

using testing::Ap;
using testing::Authorize;
using testing::Build;
using testing::Conn;
using testing::Decide;
using ::testing::ElementsAre;
using testing::kJob;
using testing::kShopDb;
using testing::kSleep;
using testing::Mesh;

constexpr char kAllowNone[] = "deny no_allow_match";
constexpr char kNoPolicy[] = "allow no_policy";

// ---- no policy, empty policies, empty rules ----

TEST(Compiled, NoPolicyAllowsEverything) {
  Mesh m = Build({});
  EXPECT_EQ(Decide(m, Conn()), kNoPolicy);
  EXPECT_EQ(Decide(m, Conn().As(kSleep).Port(1)), kNoPolicy);
}

TEST(Compiled, AllowWithoutRulesDeniesAll) {  // Istio's "allow-nothing"
  Mesh m = Build({Ap("shop", "nothing", "  {}\n")});
  EXPECT_EQ(Decide(m, Conn()), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().To("other/web").ToIp("10.244.2.10")), kNoPolicy);
}

TEST(Compiled, DenyWithoutRulesIsRejected) {
  // Istio rejects it ("DENY action without rules is meaningless"): nothing is enforced.
  auto res = policy::testing::CompileYaml({Ap("shop", "d", "  action: DENY\n")});
  EXPECT_EQ(policy::testing::ErrorCount(res.snapshot), 1u);
  EXPECT_EQ(res.snapshot.authorization_policies_size(), 0);
}

TEST(Compiled, RuleWithNoClausesMatchesAll) {
  Mesh allow = Build({Ap("shop", "all", "  rules: [{}]\n")});
  EXPECT_EQ(Decide(allow, Conn()), "allow allowed_by_policy shop/all#0");
  EXPECT_EQ(Decide(allow, Conn().As(kSleep).Port(9)), "allow allowed_by_policy shop/all#0");
  Mesh deny = Build({Ap("shop", "all", "  action: DENY\n  rules: [{}]\n")});
  EXPECT_EQ(Decide(deny, Conn()), "deny denied_by_policy shop/all#0");
  EXPECT_EQ(Decide(deny, Conn().As(kSleep)), "deny denied_by_policy shop/all#0");
}

// ---- principals ----

TEST(Compiled, PrincipalExact) {
  Mesh m =
      Build({Ap("shop", "p",
                R"(  rules: [{from: [{source: {principals: ["cluster.local/ns/front/sa/sleep"]}}]}]
)")});
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), "allow allowed_by_policy shop/p#0");
  EXPECT_EQ(Decide(m, Conn().As(std::string("spiffe://") + kSleep)),
            "allow allowed_by_policy shop/p#0");
  EXPECT_EQ(Decide(m, Conn().As(kJob)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As("cluster.local/ns/front/sa/sleepy")), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As("other.td/ns/front/sa/sleep")), kAllowNone);
  // Plaintext has no principal.
  EXPECT_EQ(Decide(m, Conn()), kAllowNone);
}

// trustDomains and source.trustDomain: the trust domain of the peer's identity.
TEST(Compiled, TrustDomains) {
  Mesh m = Build({Ap("shop", "td",
                     R"(  rules:
  - from: [{source: {trustDomains: ["*.corp", cluster.local], notTrustDomains: ["old*"]}}]
  - when: [{key: source.trustDomain, values: [partner.example]}]
)")});
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), "allow allowed_by_policy shop/td#0");
  EXPECT_EQ(Decide(m, Conn().As("eu.corp/ns/a/sa/b")), "allow allowed_by_policy shop/td#0");
  EXPECT_EQ(Decide(m, Conn().As("old.corp/ns/a/sa/b")), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As("partner.example/ns/a/sa/b")), "allow allowed_by_policy shop/td#1");
  EXPECT_EQ(Decide(m, Conn().As("corp/ns/a/sa/b")), kAllowNone);
  EXPECT_EQ(Decide(m, Conn()), kAllowNone);  // plaintext: no trust domain
}

// serviceAccounts and source.serviceAccount: a bare name is in the policy's namespace.
TEST(Compiled, ServiceAccountsBareAndQualified) {
  Mesh m = Build({Ap("shop", "sa",
                     R"(  rules:
  - from: [{source: {serviceAccounts: [sleep]}}]
  - when: [{key: source.serviceAccount, values: [batch/job]}]
)")});
  EXPECT_EQ(Decide(m, Conn().As("cluster.local/ns/shop/sa/sleep")),
            "allow allowed_by_policy shop/sa#0");
  EXPECT_EQ(Decide(m, Conn().As(kJob)), "allow allowed_by_policy shop/sa#1");
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), kAllowNone);  // front/sleep, not shop/sleep
}

TEST(Compiled, PrincipalPrefixSuffixPresence) {
  Mesh m = Build({
      Ap("shop", "prefix",
         R"(  rules: [{from: [{source: {principals: ["cluster.local/ns/front/*"]}}], to: [{operation: {ports: ["1"]}}]}]
)"),
      Ap("shop", "suffix",
         R"(  rules: [{from: [{source: {principals: ["*/sa/job"]}}], to: [{operation: {ports: ["2"]}}]}]
)"),
      Ap("shop", "presence",
         R"(  rules: [{from: [{source: {principals: ["*"]}}], to: [{operation: {ports: ["3"]}}]}]
)"),
  });
  EXPECT_EQ(Decide(m, Conn().As(kSleep).Port(1)), "allow allowed_by_policy shop/prefix#0");
  EXPECT_EQ(Decide(m, Conn().As(kJob).Port(1)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As(kJob).Port(2)), "allow allowed_by_policy shop/suffix#0");
  EXPECT_EQ(Decide(m, Conn().As(kSleep).Port(2)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As(kSleep).Port(3)), "allow allowed_by_policy shop/presence#0");
  EXPECT_EQ(Decide(m, Conn().As(kJob).Port(3)), "allow allowed_by_policy shop/presence#0");
  // "*" means "any authenticated peer": plaintext never matches it.
  EXPECT_EQ(Decide(m, Conn().Port(3)), kAllowNone);
}

TEST(Compiled, NotPrincipals) {
  Mesh m = Build({Ap("shop", "p",
                     R"(  rules: [{from: [{source: {notPrincipals: ["cluster.local/ns/front/*"]}}]}]
)")});
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As(kJob)), "allow allowed_by_policy shop/p#0");
  // No identity is "not one of these", as in Istio (Envoy and ztunnel).
  EXPECT_EQ(Decide(m, Conn()), "allow allowed_by_policy shop/p#0");
}

TEST(Compiled, DenyNotPrincipalsStarRefusesPlaintext) {  // Istio's "require mTLS" recipe
  Mesh m = Build({Ap("shop", "mtls-only", R"(  action: DENY
  rules: [{from: [{source: {notPrincipals: ["*"]}}]}]
)")});
  EXPECT_EQ(Decide(m, Conn()), "deny denied_by_policy shop/mtls-only#0");
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), kNoPolicy);
}

TEST(Compiled, PrincipalAndNotPrincipalInOneSourceAreAnded) {
  Mesh m = Build({Ap(
      "shop", "p",
      R"(  rules: [{from: [{source: {principals: ["cluster.local/ns/front/*"], notPrincipals: ["*/sa/sleep"]}}]}]
)")});
  EXPECT_EQ(Decide(m, Conn().As("cluster.local/ns/front/sa/curl")),
            "allow allowed_by_policy shop/p#0");
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), kAllowNone);
}

// ---- namespaces ----

TEST(Compiled, Namespaces) {
  Mesh m = Build({Ap("shop", "ns", R"(  rules: [{from: [{source: {namespaces: ["front", "sh*"]}}]}]
)")});
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), "allow allowed_by_policy shop/ns#0");
  EXPECT_EQ(Decide(m, Conn().As(kShopDb)), "allow allowed_by_policy shop/ns#0");
  EXPECT_EQ(Decide(m, Conn().As(kJob)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn()), kAllowNone);  // plaintext: no namespace
}

TEST(Compiled, NotNamespaces) {
  Mesh deny = Build({Ap("shop", "outsiders", R"(  action: DENY
  rules: [{from: [{source: {notNamespaces: ["shop", "front"]}}]}]
)")});
  EXPECT_EQ(Decide(deny, Conn().As(kSleep)), kNoPolicy);
  EXPECT_EQ(Decide(deny, Conn().As(kShopDb)), kNoPolicy);
  EXPECT_EQ(Decide(deny, Conn().As(kJob)), "deny denied_by_policy shop/outsiders#0");
  EXPECT_EQ(Decide(deny, Conn()), "deny denied_by_policy shop/outsiders#0");
  Mesh allow =
      Build({Ap("shop", "not-batch", R"(  rules: [{from: [{source: {notNamespaces: ["batch"]}}]}]
)")});
  EXPECT_EQ(Decide(allow, Conn().As(kSleep)), "allow allowed_by_policy shop/not-batch#0");
  EXPECT_EQ(Decide(allow, Conn().As(kJob)), kAllowNone);
}

TEST(Compiled, NamespaceIsTakenFromThePrincipal) {
  Mesh m = Build({Ap("shop", "ns", R"(  rules: [{from: [{source: {namespaces: ["front"]}}]}]
)")});
  // A service account named like a namespace does not count.
  EXPECT_EQ(Decide(m, Conn().As("cluster.local/ns/x/sa/front")), kAllowNone);
  // A peer ID that is not a workload identity is no identity at all.
  EXPECT_EQ(Decide(m, Conn().As("cluster.local/weft/node/front")), kAllowNone);
}

// ---- ipBlocks ----

TEST(Compiled, IpBlocksV4) {
  Mesh m = Build({Ap("shop", "ip",
                     R"(  rules: [{from: [{source: {ipBlocks: ["10.244.8.0/22", "192.168.1.7"]}}]}]
)")});
  EXPECT_EQ(Decide(m, Conn().From("10.244.9.9")), "allow allowed_by_policy shop/ip#0");
  EXPECT_EQ(Decide(m, Conn().From("10.244.11.255").As(kSleep)),
            "allow allowed_by_policy shop/ip#0");
  EXPECT_EQ(Decide(m, Conn().From("10.244.12.0")), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().From("192.168.1.7")), "allow allowed_by_policy shop/ip#0");
  EXPECT_EQ(Decide(m, Conn().From("192.168.1.8")), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().From("::ffff:192.168.1.7")), "allow allowed_by_policy shop/ip#0");
  EXPECT_EQ(Decide(m, Conn().From("fd00::9")), kAllowNone);
}

TEST(Compiled, IpBlocksV6) {
  Mesh m = Build(
      {Ap("shop", "ip6", R"(  rules: [{from: [{source: {ipBlocks: ["fd00:1::/64", "fd00::beef"]}}]}]
)")});
  EXPECT_EQ(Decide(m, Conn().From("fd00:1::abcd")), "allow allowed_by_policy shop/ip6#0");
  EXPECT_EQ(Decide(m, Conn().From("fd00:1:0:1::1")), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().From("fd00::beef")), "allow allowed_by_policy shop/ip6#0");
  EXPECT_EQ(Decide(m, Conn().From("fd00::bee0")), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().From("10.0.0.1")), kAllowNone);
}

TEST(Compiled, NotIpBlocks) {
  Mesh m = Build({Ap("shop", "block", R"(  action: DENY
  rules: [{from: [{source: {notIpBlocks: ["10.244.0.0/16", "fd00::/8"]}}]}]
)")});
  EXPECT_EQ(Decide(m, Conn().From("10.244.9.9")), kNoPolicy);
  EXPECT_EQ(Decide(m, Conn().From("fd00::9")), kNoPolicy);
  EXPECT_EQ(Decide(m, Conn().From("203.0.113.5")), "deny denied_by_policy shop/block#0");
  EXPECT_EQ(Decide(m, Conn().From("2001:db8::1").As(kSleep)), "deny denied_by_policy shop/block#0");
}

// ---- ports ----

TEST(Compiled, PortsAndNotPorts) {
  Mesh m = Build({
      Ap("shop", "allow-http", R"(  rules: [{to: [{operation: {ports: ["8080", "8443"]}}]}]
)"),
      Ap("shop", "deny-admin", R"(  action: DENY
  rules: [{to: [{operation: {notPorts: ["8080", "8443", "9090"]}}]}]
)"),
  });
  EXPECT_EQ(Decide(m, Conn().Port(8080)), "allow allowed_by_policy shop/allow-http#0");
  EXPECT_EQ(Decide(m, Conn().Port(8443)), "allow allowed_by_policy shop/allow-http#0");
  EXPECT_EQ(Decide(m, Conn().Port(9090)), kAllowNone);  // not denied, but not allowed either
  EXPECT_EQ(Decide(m, Conn().Port(15000)), "deny denied_by_policy shop/deny-admin#0");
}

// ---- when ----

TEST(Compiled, WhenSourcePrincipal) {
  Mesh m = Build({Ap("shop", "w", R"(  rules:
  - when: [{key: source.principal, values: ["cluster.local/ns/front/*"], notValues: ["*/sa/curl"]}]
)")});
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), "allow allowed_by_policy shop/w#0");
  EXPECT_EQ(Decide(m, Conn().As("cluster.local/ns/front/sa/curl")), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As(kJob)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn()), kAllowNone);
}

TEST(Compiled, WhenSourcePrincipalNotValuesOnPlaintext) {
  Mesh m = Build({Ap("shop", "w", R"(  action: DENY
  rules: [{when: [{key: source.principal, notValues: ["*"]}]}]
)")});
  EXPECT_EQ(Decide(m, Conn()), "deny denied_by_policy shop/w#0");
  EXPECT_EQ(Decide(m, Conn().As(kJob)), kNoPolicy);
}

TEST(Compiled, WhenSourceNamespace) {
  Mesh m = Build({Ap("shop", "w", R"(  rules:
  - when: [{key: source.namespace, values: ["front", "batch"]}, {key: source.namespace, notValues: ["batch"]}]
)")});
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), "allow allowed_by_policy shop/w#0");
  EXPECT_EQ(Decide(m, Conn().As(kJob)), kAllowNone);  // values match, notValues excludes
  EXPECT_EQ(Decide(m, Conn().As(kShopDb)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn()), kAllowNone);
}

TEST(Compiled, WhenSourceIp) {
  Mesh m = Build({Ap("shop", "w", R"(  action: DENY
  rules:
  - when: [{key: source.ip, values: ["10.244.0.0/16", "fd00::/16", "203.0.113.7"], notValues: ["10.244.1.0/24"]}]
)")});
  EXPECT_EQ(Decide(m, Conn().From("10.244.9.9")), "deny denied_by_policy shop/w#0");
  EXPECT_EQ(Decide(m, Conn().From("10.244.1.5")), kNoPolicy);  // notValues
  EXPECT_EQ(Decide(m, Conn().From("fd00::5")), "deny denied_by_policy shop/w#0");
  EXPECT_EQ(Decide(m, Conn().From("203.0.113.7")), "deny denied_by_policy shop/w#0");
  EXPECT_EQ(Decide(m, Conn().From("203.0.113.8")), kNoPolicy);
}

TEST(Compiled, WhenDestinationPort) {
  Mesh m = Build({Ap("shop", "w", R"(  rules:
  - when: [{key: destination.port, values: ["8080", "9090"]}, {key: destination.port, notValues: ["9090"]}]
)")});
  EXPECT_EQ(Decide(m, Conn().Port(8080)), "allow allowed_by_policy shop/w#0");
  EXPECT_EQ(Decide(m, Conn().Port(9090)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().Port(80)), kAllowNone);
}

TEST(Compiled, WhenDestinationIp) {
  Mesh m =
      Build({Ap("shop", "w", R"(  rules: [{when: [{key: destination.ip, values: ["fd00::10"]}]}]
)")});
  EXPECT_EQ(Decide(m, Conn().ToIp("fd00::10")), "allow allowed_by_policy shop/w#0");
  EXPECT_EQ(Decide(m, Conn().ToIp("10.244.1.10")), kAllowNone);
}

TEST(Compiled, WhenConditionsAreAndedWithFromAndTo) {
  Mesh m = Build({Ap("shop", "w", R"(  rules:
  - from: [{source: {namespaces: ["front"]}}]
    to: [{operation: {ports: ["8080"]}}]
    when: [{key: source.ip, values: ["10.244.9.0/24"]}]
)")});
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), "allow allowed_by_policy shop/w#0");
  EXPECT_EQ(Decide(m, Conn().As(kSleep).Port(8081)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As(kSleep).From("10.244.8.1")), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As(kJob)), kAllowNone);
}

// ---- rules, sources, operations: OR / AND ----

TEST(Compiled, FromEntriesAreOredAndRuleIndexIsReported) {
  Mesh m = Build({Ap("shop", "p", R"(  rules:
  - to: [{operation: {ports: ["1"]}}]
  - from: [{source: {principals: ["cluster.local/ns/front/sa/sleep"]}}, {source: {namespaces: ["batch"]}}]
    to: [{operation: {ports: ["8080"]}}, {operation: {ports: ["9090"]}}]
)")});
  EXPECT_EQ(Decide(m, Conn().Port(1)), "allow allowed_by_policy shop/p#0");
  EXPECT_EQ(Decide(m, Conn().As(kSleep).Port(8080)), "allow allowed_by_policy shop/p#1");
  EXPECT_EQ(Decide(m, Conn().As(kJob).Port(9090)), "allow allowed_by_policy shop/p#1");
  EXPECT_EQ(Decide(m, Conn().As(kShopDb).Port(9090)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As(kJob).Port(8081)), kAllowNone);
}

TEST(Compiled, AnyAllowPolicyMayAllow) {
  Mesh m = Build({
      Ap("shop", "a", R"(  rules: [{from: [{source: {namespaces: ["front"]}}]}]
)"),
      Ap("shop", "b", R"(  rules: [{from: [{source: {namespaces: ["batch"]}}]}]
)"),
  });
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), "allow allowed_by_policy shop/a#0");
  EXPECT_EQ(Decide(m, Conn().As(kJob)), "allow allowed_by_policy shop/b#0");
  EXPECT_EQ(Decide(m, Conn().As(kShopDb)), kAllowNone);
}

TEST(Compiled, DenyBeatsAllow) {
  Mesh m = Build({
      Ap("shop", "allow-front", R"(  rules: [{from: [{source: {namespaces: ["front"]}}]}]
)"),
      Ap("shop", "deny-debug", R"(  action: DENY
  rules: [{to: [{operation: {ports: ["9999"]}}]}]
)"),
  });
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), "allow allowed_by_policy shop/allow-front#0");
  EXPECT_EQ(Decide(m, Conn().As(kSleep).Port(9999)), "deny denied_by_policy shop/deny-debug#0");
  // A mesh-wide ALLOW-all does not override a namespace DENY either.
  Mesh m2 = Build({
      Ap("istio-system", "allow-all", "  rules: [{}]\n"),
      Ap("shop", "deny-job", R"(  action: DENY
  rules: [{from: [{source: {principals: ["cluster.local/ns/batch/sa/job"]}}]}]
)"),
  });
  EXPECT_EQ(Decide(m2, Conn().As(kJob)), "deny denied_by_policy shop/deny-job#0");
  EXPECT_EQ(Decide(m2, Conn().As(kSleep)), "allow allowed_by_policy istio-system/allow-all#0");
}

// ---- which policies apply ----

TEST(Compiled, MeshNamespaceAndWorkloadScopes) {
  Mesh m = Build({
      Ap("istio-system", "mesh-deny", R"(  action: DENY
  rules: [{to: [{operation: {ports: ["1"]}}]}]
)"),
      Ap("shop", "ns-deny", R"(  action: DENY
  rules: [{to: [{operation: {ports: ["2"]}}]}]
)"),
      Ap("shop", "web-deny", R"(  action: DENY
  selector: {matchLabels: {app: web}}
  rules: [{to: [{operation: {ports: ["3"]}}]}]
)"),
  });
  EXPECT_EQ(Decide(m, Conn().Port(1)), "deny denied_by_policy istio-system/mesh-deny#0");
  EXPECT_EQ(Decide(m, Conn().Port(2)), "deny denied_by_policy shop/ns-deny#0");
  EXPECT_EQ(Decide(m, Conn().Port(3)), "deny denied_by_policy shop/web-deny#0");
  // shop/db: mesh and namespace, not the web selector.
  Conn db = Conn().To("shop/db").ToIp("10.244.1.11");
  EXPECT_EQ(Decide(m, Conn(db).Port(1)), "deny denied_by_policy istio-system/mesh-deny#0");
  EXPECT_EQ(Decide(m, Conn(db).Port(2)), "deny denied_by_policy shop/ns-deny#0");
  EXPECT_EQ(Decide(m, Conn(db).Port(3)), kNoPolicy);
  // other/web: only the mesh policy; shop's policies are another namespace's.
  Conn other = Conn().To("other/web").ToIp("10.244.2.10");
  EXPECT_EQ(Decide(m, Conn(other).Port(1)), "deny denied_by_policy istio-system/mesh-deny#0");
  EXPECT_EQ(Decide(m, Conn(other).Port(2)), kNoPolicy);
  EXPECT_EQ(Decide(m, Conn(other).Port(3)), kNoPolicy);
}

TEST(Compiled, AnotherNamespacesAllowPolicyDoesNotApply) {
  Mesh m = Build({Ap("other", "lockdown", "  {}\n")});
  EXPECT_EQ(Decide(m, Conn()), kNoPolicy);
  EXPECT_EQ(Decide(m, Conn().To("other/web").ToIp("10.244.2.10")), kAllowNone);
}

TEST(Compiled, SelectorMismatchDoesNotApply) {
  Mesh m = Build({Ap("shop", "db-only", R"(  selector: {matchLabels: {app: db}}
  rules: [{from: [{source: {namespaces: ["front"]}}]}]
)"),
                  Ap("shop", "two-labels", R"(  action: DENY
  selector: {matchLabels: {app: web, tier: back}}
  rules: [{}]
)")});
  EXPECT_EQ(Decide(m, Conn().As(kJob)), kNoPolicy);
  EXPECT_EQ(Decide(m, Conn().To("shop/db").ToIp("10.244.1.11").As(kJob)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().To("shop/db").ToIp("10.244.1.11").As(kSleep)),
            "allow allowed_by_policy shop/db-only#0");
}

TEST(Compiled, RootNamespaceSelectorAppliesInEveryNamespace) {
  Mesh m = Build({Ap("istio-system", "all-webs", R"(  action: DENY
  selector: {matchLabels: {app: web}}
  rules: [{to: [{operation: {ports: ["7"]}}]}]
)")});
  EXPECT_EQ(Decide(m, Conn().Port(7)), "deny denied_by_policy istio-system/all-webs#0");
  EXPECT_EQ(Decide(m, Conn().To("other/web").ToIp("10.244.2.10").Port(7)),
            "deny denied_by_policy istio-system/all-webs#0");
  EXPECT_EQ(Decide(m, Conn().To("shop/db").ToIp("10.244.1.11").Port(7)), kNoPolicy);
}

TEST(Compiled, WaypointPoliciesAreNotEnforcedByTheNodeProxy) {
  Mesh m = Build({
      R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
)",
      Ap("shop", "at-waypoint", R"(  action: DENY
  targetRefs: [{kind: Service, group: "", name: web}]
  rules: [{}]
)"),
      Ap("shop", "allow-at-waypoint", R"(  targetRefs: [{kind: Service, group: "", name: web}]
  rules: [{from: [{source: {namespaces: ["nobody"]}}]}]
)"),
  });
  ASSERT_EQ(policy::testing::FindAuthz(*m.snapshot, "shop", "at-waypoint")->scope(),
            pb::AuthorizationPolicy::WAYPOINT);
  EXPECT_EQ(Decide(m, Conn()), kNoPolicy);
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), kNoPolicy);
}

TEST(Compiled, AuditPoliciesNeverDecide) {
  Mesh m = Build({Ap("shop", "audit", "  action: AUDIT\n  rules: [{}]\n")});
  EXPECT_EQ(Decide(m, Conn()), kNoPolicy);
  EXPECT_THAT(m.authz->PoliciesFor(*m.W("shop/web")), ::testing::IsEmpty());
}

TEST(Compiled, ScopeResolutionAgreesWithTheCompilersList) {
  Mesh m = Build({
      Ap("istio-system", "mesh",
         "  action: DENY\n  rules: [{to: [{operation: {ports: [\"1\"]}}]}]\n"),
      Ap("istio-system", "root-web", "  selector: {matchLabels: {app: web}}\n  rules: [{}]\n"),
      Ap("istio-system", "root-audit", "  action: AUDIT\n  rules: [{}]\n"),
      Ap("shop", "ns", "  rules: [{}]\n"),
      Ap("shop", "db", "  action: DENY\n  selector: {matchLabels: {app: db}}\n  rules: [{}]\n"),
      Ap("shop", "empty-selector", "  selector: {matchLabels: {}}\n  rules: [{}]\n"),
      Ap("other", "ns", "  action: DENY\n  rules: [{}]\n"),
  });
  for (const auto& w : m.snapshot->workloads()) {
    EXPECT_EQ(m.authz->PoliciesFor(w), m.authz->PoliciesByScope(w.namespace_(), w.labels()))
        << w.uid();
  }
  EXPECT_THAT(
      m.authz->PoliciesFor(*m.W("shop/web")),
      ElementsAre("istio-system/mesh", "istio-system/root-web", "shop/empty-selector", "shop/ns"));
  EXPECT_THAT(m.authz->PoliciesFor(*m.W("shop/db")),
              ElementsAre("istio-system/mesh", "shop/db", "shop/empty-selector", "shop/ns"));
  EXPECT_THAT(m.authz->PoliciesFor(*m.W("other/web")),
              ElementsAre("istio-system/mesh", "other/ns", "istio-system/root-web"));
}

// ---- L7 rules at the node proxy (compiler + authorizer: fail closed) ----

TEST(Compiled, AllowRuleWithL7IsDroppedOtherRulesStillAllow) {
  Mesh m = Build({Ap("shop", "mixed", R"(  rules:
  - from: [{source: {namespaces: ["batch"]}}]
    to: [{operation: {methods: ["GET"]}}]
  - from: [{source: {namespaces: ["front"]}}]
)")});
  const auto* p = policy::testing::FindAuthz(*m.snapshot, "shop", "mixed");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->l7_attributes_removed());
  EXPECT_FALSE(policy::testing::DiagsOf(*m.snapshot, "unsupported").empty());
  // batch would have matched rule 0 on its L4 part; the L7 rule grants nothing.
  EXPECT_EQ(Decide(m, Conn().As(kJob)), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), "allow allowed_by_policy shop/mixed#1");
}

TEST(Compiled, AllowPolicyWithOnlyL7RulesDeniesAll) {
  Mesh m = Build({
      Ap("shop", "l7-only", R"(  rules:
  - to: [{operation: {paths: ["/public/*"]}}]
  - when: [{key: "request.headers[x-token]", values: ["a"]}]
)"),
      Ap("shop", "allow-front", R"(  rules: [{from: [{source: {namespaces: ["front"]}}]}]
)"),
  });
  // The compiler turns it into DENY-all (fail closed): nobody gets in, not even through the
  // other ALLOW policy.
  EXPECT_EQ(Decide(m, Conn()), "deny denied_by_policy shop/l7-only#0");
  EXPECT_EQ(Decide(m, Conn().As(kSleep)), "deny denied_by_policy shop/l7-only#0");
}

TEST(Compiled, DenyRuleWithL7DeniesOnItsL4PartsAlone) {
  Mesh m = Build({Ap("shop", "no-admin", R"(  action: DENY
  rules:
  - to: [{operation: {ports: ["8080"], paths: ["/admin*"]}}]
    when: [{key: "request.auth.claims[group]", values: ["ops"]}, {key: source.namespace, values: ["batch"]}]
)")});
  // Every connection from batch to 8080 is denied, whatever the path would have been.
  EXPECT_EQ(Decide(m, Conn().As(kJob).Port(8080)), "deny denied_by_policy shop/no-admin#0");
  EXPECT_EQ(Decide(m, Conn().As(kJob).Port(8081)), kNoPolicy);
  EXPECT_EQ(Decide(m, Conn().As(kSleep).Port(8080)), kNoPolicy);
}

TEST(Compiled, DenyRuleWithOnlyL7DeniesEverything) {
  Mesh m = Build({Ap("shop", "no-delete", R"(  action: DENY
  rules: [{to: [{operation: {methods: ["DELETE"]}}]}]
)")});
  EXPECT_EQ(Decide(m, Conn()), "deny denied_by_policy shop/no-delete#0");
  EXPECT_EQ(Decide(m, Conn().As(kSleep).Port(1)), "deny denied_by_policy shop/no-delete#0");
}

TEST(Compiled, RemoteIpBlocksAreL7) {
  Mesh m = Build({Ap("shop", "xff", R"(  rules:
  - from: [{source: {remoteIpBlocks: ["0.0.0.0/0"]}}]
  - from: [{source: {ipBlocks: ["10.244.9.0/24"]}}]
)")});
  EXPECT_EQ(Decide(m, Conn().From("10.244.9.9")), "allow allowed_by_policy shop/xff#1");
  EXPECT_EQ(Decide(m, Conn().From("10.1.1.1")), kAllowNone);
}

// ---- PeerAuthentication (Authorize = mTLS mode, then policy) ----

std::string Pa(const std::string& ns, const std::string& name, const std::string& spec) {
  return "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec;
}

TEST(Compiled, StrictRefusesPlaintextOnly) {
  Mesh m = Build({Pa("shop", "strict", "  mtls: {mode: STRICT}\n")});
  EXPECT_EQ(Authorize(m, Conn()), "deny mtls_strict shop/strict");
  EXPECT_EQ(m.authz->Authorize(testing::Attrs(m, Conn())).mtls_mode, pb::MTLS_MODE_STRICT);
  EXPECT_EQ(Authorize(m, Conn().As(kSleep)), kNoPolicy);
  // Decide alone does not look at the mode.
  EXPECT_EQ(Decide(m, Conn()), kNoPolicy);
  // Another namespace is still PERMISSIVE.
  EXPECT_EQ(Authorize(m, Conn().To("other/web").ToIp("10.244.2.10")), kNoPolicy);
}

TEST(Compiled, PermissiveAndDisableAdmitPlaintextAndHbone) {
  for (const char* mode : {"PERMISSIVE", "DISABLE"}) {
    Mesh m = Build({Pa("shop", "pa", std::string("  mtls: {mode: ") + mode + "}\n")});
    EXPECT_EQ(Authorize(m, Conn()), kNoPolicy) << mode;
    EXPECT_EQ(Authorize(m, Conn().As(kSleep)), kNoPolicy) << mode;
  }
}

TEST(Compiled, MeshStrictWithPortLevelPermissive) {
  Mesh m = Build({
      Pa("istio-system", "mesh", "  mtls: {mode: STRICT}\n"),
      Pa("shop", "web-metrics", R"(  selector: {matchLabels: {app: web}}
  portLevelMtls: {"9090": {mode: PERMISSIVE}}
)"),
  });
  EXPECT_EQ(Authorize(m, Conn().Port(9090)), kNoPolicy);
  EXPECT_EQ(Authorize(m, Conn().Port(8080)), "deny mtls_strict istio-system/mesh");
  EXPECT_EQ(Authorize(m, Conn().Port(8080).As(kSleep)), kNoPolicy);
  EXPECT_EQ(Authorize(m, Conn().To("shop/db").ToIp("10.244.1.11").Port(9090)),
            "deny mtls_strict istio-system/mesh");
}

TEST(Compiled, PortLevelStrictUnderPermissive) {
  Mesh m = Build({Pa("shop", "db-port", R"(  selector: {matchLabels: {app: web}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls: {"5432": {mode: STRICT}}
)")});
  EXPECT_EQ(Authorize(m, Conn().Port(5432)), "deny mtls_strict shop/db-port");
  EXPECT_EQ(Authorize(m, Conn().Port(5433)), kNoPolicy);
}

TEST(Compiled, StrictIsCheckedBeforePolicy) {
  Mesh m = Build(
      {Pa("shop", "strict", "  mtls: {mode: STRICT}\n"), Ap("shop", "all", "  rules: [{}]\n")});
  EXPECT_EQ(Authorize(m, Conn()), "deny mtls_strict shop/strict");
  EXPECT_EQ(Authorize(m, Conn().As(kJob)), "allow allowed_by_policy shop/all#0");
}

}  // namespace
}  // namespace weft::authz
