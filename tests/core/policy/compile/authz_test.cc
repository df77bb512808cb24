// AuthorizationPolicy pass: scopes, and what the node proxy can enforce. L7 attributes are
// invisible to it, so it fails closed: under ALLOW an L7 rule is dropped (it can never grant),
// under DENY its L7 parts are stripped (it denies more, never less).

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
using testing::FindAuthz;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kPods[] = R"(apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
)";

std::string Ap(const std::string& ns, const std::string& name, const std::string& spec) {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec;
}

TEST(Authz, Scopes) {
  auto res =
      CompileYaml({kPods, Ap("istio-system", "mesh", "  action: DENY\n  rules: [{}]\n"),
                   Ap("shop", "ns", "  rules: [{}]\n"),
                   Ap("shop", "wl", "  selector: {matchLabels: {app: web}}\n  rules: [{}]\n"),
                   Ap("shop", "wp", "  targetRefs: [{kind: Service, group: \"\", name: web}]\n")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  EXPECT_EQ(FindAuthz(res.snapshot, "istio-system", "mesh")->scope(),
            pb::AuthorizationPolicy::MESH);
  EXPECT_EQ(FindAuthz(res.snapshot, "shop", "ns")->scope(), pb::AuthorizationPolicy::NAMESPACE);
  const pb::AuthorizationPolicy* wl = FindAuthz(res.snapshot, "shop", "wl");
  EXPECT_EQ(wl->scope(), pb::AuthorizationPolicy::WORKLOAD);
  EXPECT_EQ(wl->selector().at("app"), "web");
  EXPECT_EQ(wl->action(), pb::AuthorizationPolicy::ALLOW);
  EXPECT_EQ(wl->source().kind(), "AuthorizationPolicy");
  const pb::AuthorizationPolicy* wp = FindAuthz(res.snapshot, "shop", "wp");
  EXPECT_EQ(wp->scope(), pb::AuthorizationPolicy::WAYPOINT);
  ASSERT_EQ(wp->target_refs_size(), 1);
  EXPECT_EQ(wp->target_refs(0).namespace_(), "shop");  // defaults to the policy's
  // Sorted by namespace, then name.
  std::vector<std::string> order;
  for (const auto& p : res.snapshot.authorization_policies()) {
    order.push_back(p.namespace_() + "/" + p.name());
  }
  EXPECT_THAT(order, ElementsAre("istio-system/mesh", "shop/ns", "shop/wl", "shop/wp"));
}

TEST(Authz, L4RulesAreKeptAsWritten) {
  auto res = CompileYaml({kPods, Ap("shop", "l4", R"(  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {principals: [cluster.local/ns/a/sa/b], ipBlocks: [10.0.0.0/8]}}]
    to: [{operation: {ports: ["80"]}}]
    when: [{key: source.ip, values: [10.1.0.0/16]}, {key: destination.port, values: ["80"]}]
)")});
  const pb::AuthorizationPolicy* p = FindAuthz(res.snapshot, "shop", "l4");
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->l7_attributes_removed());
  ASSERT_EQ(p->rules_size(), 1);
  EXPECT_EQ(p->rules(0).principals(0).exact(), "cluster.local/ns/a/sa/b");
  EXPECT_THAT(p->rules(0).ip_blocks(), ElementsAre("10.0.0.0/8"));
  EXPECT_THAT(p->rules(0).ports(), ElementsAre(80u));
  EXPECT_EQ(p->rules(0).conditions_size(), 2);
  EXPECT_THAT(DiagsOf(res.snapshot, code::kUnsupported), IsEmpty());
}

TEST(Authz, L7RulesUnderAllowAreDroppedFailClosed) {
  auto res = CompileYaml({kPods, Ap("shop", "mixed", R"(  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - to: [{operation: {methods: [GET], paths: [/api/*]}}]
  - from: [{source: {namespaces: [shop]}}]
  - when: [{key: "request.headers[x-user]", values: [alice]}]
)")});
  const pb::AuthorizationPolicy* p = FindAuthz(res.snapshot, "shop", "mixed");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->action(), pb::AuthorizationPolicy::ALLOW);
  EXPECT_TRUE(p->l7_attributes_removed());
  // Only the L4 rule remains: the L7 ones can never match at the node proxy.
  ASSERT_EQ(p->rules_size(), 1);
  EXPECT_EQ(p->rules(0).rule_index(), 1u);
  EXPECT_EQ(p->rules(0).namespaces(0).exact(), "shop");
  auto w = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(w, SizeIs(2)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].severity(), pb::Diagnostic::WARNING);
  std::vector<std::string> fields = {w[0].source().field(), w[1].source().field()};
  EXPECT_THAT(fields, ::testing::UnorderedElementsAre("spec.rules[0]", "spec.rules[2]"));
  for (const auto& d : w) EXPECT_THAT(d.message(), HasSubstr("ALLOW rule matches nothing"));
}

TEST(Authz, AllowWithOnlyL7RulesDeniesEverything) {
  auto res = CompileYaml({kPods, Ap("shop", "l7-only", R"(  selector: {matchLabels: {app: web}}
  rules:
  - to: [{operation: {methods: [GET]}}]
)")});
  const pb::AuthorizationPolicy* p = FindAuthz(res.snapshot, "shop", "l7-only");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->action(), pb::AuthorizationPolicy::DENY);
  ASSERT_EQ(p->rules_size(), 1);
  EXPECT_EQ(p->rules(0).ByteSizeLong(), 0u);  // an empty rule matches everything
}

// Warnings about a rule are at the rule: two identical rules get one each (they used to share
// one position, and the second was lost as a duplicate).
TEST(Authz, IdenticalRulesEachGetTheirWarningAtTheRule) {
  auto res = CompileYaml({kPods, Ap("shop", "deny", R"(  action: DENY
  rules:
  - to: [{operation: {methods: [POST]}}]
  - to: [{operation: {methods: [POST]}}]
)")});
  auto w = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(w, SizeIs(2)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].source().field(), "spec.rules[0]");
  EXPECT_EQ(w[1].source().field(), "spec.rules[1]");
  EXPECT_NE(w[0].source().line(), w[1].source().line());
}

// At a waypoint, what it cannot evaluate either fails closed, with a warning.
TEST(Authz, AttributesTheWaypointCannotEvaluateWarn) {
  auto res = CompileYaml({kPods, Ap("shop", "w", R"(  targetRefs: [{kind: Service, name: web}]
  rules:
  - when: [{key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: [t]}]
)")});
  auto w = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(w, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_THAT(w[0].message(), HasSubstr("this rule matches nothing (fail closed)"));
}

TEST(Authz, L7PartsUnderDenyAreStripped) {
  auto res = CompileYaml({kPods, Ap("shop", "deny", R"(  selector: {matchLabels: {app: web}}
  action: DENY
  rules:
  - from: [{source: {namespaces: [untrusted], requestPrincipals: ["*"]}}]
    to: [{operation: {ports: ["8080"], methods: [POST], hosts: [x], paths: [/admin]}}]
    when:
    - {key: source.ip, values: [10.0.0.0/8]}
    - {key: "request.auth.claims[group]", values: [admin]}
)")});
  const pb::AuthorizationPolicy* p = FindAuthz(res.snapshot, "shop", "deny");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->action(), pb::AuthorizationPolicy::DENY);
  EXPECT_TRUE(p->l7_attributes_removed());
  ASSERT_EQ(p->rules_size(), 1);
  const auto& r = p->rules(0);
  EXPECT_EQ(r.namespaces(0).exact(), "untrusted");
  EXPECT_THAT(r.ports(), ElementsAre(8080u));
  EXPECT_EQ(r.request_principals_size(), 0);
  EXPECT_EQ(r.methods_size(), 0);
  EXPECT_EQ(r.hosts_size(), 0);
  EXPECT_EQ(r.paths_size(), 0);
  ASSERT_EQ(r.conditions_size(), 1);
  EXPECT_EQ(r.conditions(0).key(), "source.ip");
  auto w = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(w, SizeIs(1));
  EXPECT_THAT(w[0].message(), HasSubstr("requestPrincipals, hosts, methods, paths, when "
                                        "request.auth.claims[group]"));
  EXPECT_THAT(w[0].message(), HasSubstr("DENY rule applies to all traffic its L4 fields match"));
}

TEST(Authz, WaypointPoliciesKeepL7Rules) {
  auto res = CompileYaml({kPods, Ap("shop", "wp", R"(  targetRefs:
  - {kind: Service, group: "", name: web}
  - {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}
  rules:
  - to: [{operation: {methods: [GET]}}]
)")});
  const pb::AuthorizationPolicy* p = FindAuthz(res.snapshot, "shop", "wp");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->rules_size(), 0);
  ASSERT_EQ(p->l7_rules_size(), 1);
  EXPECT_THAT(p->l7_rules(0).methods(), ElementsAre("GET"));
  EXPECT_EQ(p->target_refs(1).name(), "waypoint");
  EXPECT_FALSE(p->l7_attributes_removed());
  EXPECT_THAT(DiagsOf(res.snapshot, code::kUnsupported), IsEmpty());
}

TEST(Authz, TargetRefProblems) {
  auto res =
      CompileYaml({kPods, Ap("shop", "ghost", "  targetRefs: [{kind: Service, name: nope}]\n"),
                   Ap("shop", "odd", "  targetRefs: [{kind: Deployment, name: web}]\n")});
  auto ref = DiagsOf(res.snapshot, code::kReference);
  ASSERT_THAT(ref, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(ref[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(ref[0].message(), "Service shop/nope does not exist");
  EXPECT_EQ(ref[0].source().field(), "spec.targetRefs[0]");
  auto val = DiagsOf(res.snapshot, code::kValue);
  ASSERT_THAT(val, SizeIs(1));
  EXPECT_EQ(val[0].severity(), pb::Diagnostic::ERROR);
  EXPECT_THAT(ExcludedNames(res.snapshot), ElementsAre("AuthorizationPolicy/shop/odd"));
  EXPECT_EQ(FindAuthz(res.snapshot, "shop", "odd"), nullptr);
  EXPECT_NE(FindAuthz(res.snapshot, "shop", "ghost"), nullptr);
}

TEST(Authz, AuditIsANoteAndUnmatchedSelectorIsANote) {
  auto res = CompileYaml({kPods, Ap("shop", "audit", "  action: AUDIT\n  rules: [{}]\n"),
                          Ap("shop", "nobody", "  selector: {matchLabels: {app: none}}\n")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u);
  std::vector<std::string> notes;
  for (const auto& d : res.snapshot.diagnostics()) {
    if (d.severity() == pb::Diagnostic::NOTE) notes.push_back(d.source().name() + " " + d.code());
  }
  EXPECT_THAT(notes, ::testing::UnorderedElementsAre("audit unsupported", "nobody reference"));
  EXPECT_EQ(FindAuthz(res.snapshot, "shop", "audit")->action(), pb::AuthorizationPolicy::AUDIT);
}

TEST(Authz, AllowNothingHasNoRules) {
  auto res = CompileYaml({kPods, Ap("shop", "allow-nothing", "  {}\n")});
  const pb::AuthorizationPolicy* p = FindAuthz(res.snapshot, "shop", "allow-nothing");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->action(), pb::AuthorizationPolicy::ALLOW);
  EXPECT_EQ(p->rules_size(), 0);
}

}  // namespace
}  // namespace weft::policy
