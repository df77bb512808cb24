// L4Authorizer over hand-written snapshots: what the compiler never produces but a snapshot
// could hold (invalid values, L7 leftovers, missing scopes), the lookup paths, and the
// small helpers. The Istio allow/deny matrix itself is in compiled_policy_test.cc.

#include "core/authz/l4_authorizer.h"

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include "tests/core/authz/authz_test_util.h"

namespace weft::authz {
namespace {

using testing::Conn;
using testing::Decide;
using ::testing::ElementsAre;
using testing::kJob;
using testing::kSleep;
using testing::Mesh;

// shop/web (app=web) with the given policies, as text-format AuthorizationPolicy messages.
// Workload.authorization_policies lists every given policy (as the compiler would for
// node-scope policies that select it), unless `refs` is given.
Mesh FromText(const std::vector<std::string>& policies, std::vector<std::string> refs = {"*"}) {
  pb::MeshSnapshot s;
  s.mutable_settings()->set_root_namespace("istio-system");
  s.mutable_settings()->set_trust_domain("cluster.local");
  for (const auto& text : policies) {
    pb::AuthorizationPolicy* p = s.add_authorization_policies();
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, p)) << text;
  }
  pb::Workload* w = s.add_workloads();
  w->set_uid("shop/web");
  w->set_name("web");
  w->set_namespace_("shop");
  (*w->mutable_labels())["app"] = "web";
  if (refs.size() == 1 && refs[0] == "*") {
    refs.clear();
    for (const auto& p : s.authorization_policies())
      refs.push_back(p.namespace_() + "/" + p.name());
  }
  for (const auto& r : refs) w->add_authorization_policies(r);
  Mesh m;
  m.snapshot = std::make_shared<const pb::MeshSnapshot>(std::move(s));
  m.authz = std::make_shared<const L4Authorizer>(m.snapshot);
  return m;
}

constexpr char kAllowNone[] = "deny no_allow_match";
constexpr char kNoPolicy[] = "allow no_policy";

// ---- invalid values: fail closed for the policy's action ----

TEST(FailClosed, InvalidSourceIpValueUnderAllowMatchesNothing) {
  Mesh m = FromText({R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE
    rules { conditions { key: "source.ip" values { exact: "not-an-ip" } values { exact: "10.244.9.0/24" } } })"});
  EXPECT_EQ(m.authz->invalid_values(), 1u);
  EXPECT_EQ(Decide(m, Conn().From("10.244.9.9")), "allow allowed_by_policy shop/a#0");
  EXPECT_EQ(Decide(m, Conn().From("10.1.1.1")), kAllowNone);
}

TEST(FailClosed, InvalidSourceIpValueUnderDenyMatchesEverything) {
  Mesh m = FromText({R"(name: "d" namespace: "shop" action: DENY scope: NAMESPACE
    rules { conditions { key: "source.ip" values { exact: "10.0.0.0/33" } } })"});
  EXPECT_EQ(m.authz->invalid_values(), 1u);
  EXPECT_EQ(Decide(m, Conn().From("10.1.1.1")), "deny denied_by_policy shop/d#0");
  EXPECT_EQ(Decide(m, Conn().From("fd00::1")), "deny denied_by_policy shop/d#0");
}

TEST(FailClosed, InvalidNotValuesAreTheReverse) {
  // ALLOW notValues: an invalid value makes the clause fail (grants less).
  Mesh allow = FromText({R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE
    rules { conditions { key: "destination.port" not_values { exact: "http" } } })"});
  EXPECT_EQ(Decide(allow, Conn()), kAllowNone);
  // DENY notValues: an invalid value is ignored (the clause holds unless a valid one matches).
  Mesh deny = FromText({R"(name: "d" namespace: "shop" action: DENY scope: NAMESPACE
    rules { conditions { key: "destination.port" not_values { exact: "http" } not_values { exact: "9090" } } })"});
  EXPECT_EQ(Decide(deny, Conn().Port(8080)), "deny denied_by_policy shop/d#0");
  EXPECT_EQ(Decide(deny, Conn().Port(9090)), kNoPolicy);
}

TEST(FailClosed, WildcardsAreNotValidForAddressesAndPorts) {
  Mesh m = FromText({R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE
    rules { conditions { key: "destination.port" values { presence: true } } }
    rules { rule_index: 1 conditions { key: "source.ip" values { prefix: "10." } } })"});
  EXPECT_EQ(m.authz->invalid_values(), 2u);
  EXPECT_EQ(Decide(m, Conn().From("10.1.1.1")), kAllowNone);
}

TEST(FailClosed, PortsOutOfRange) {
  Mesh m = FromText({R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE
    rules { ports: 0 ports: 70000 ports: 8080 })",
                     R"(name: "d" namespace: "shop" action: DENY scope: NAMESPACE
    rules { conditions { key: "destination.port" values { exact: "65536" } } })"});
  EXPECT_EQ(m.authz->invalid_values(), 3u);
  // The DENY rule's invalid port matches everything.
  EXPECT_EQ(Decide(m, Conn().Port(8080)), "deny denied_by_policy shop/d#0");
}

TEST(FailClosed, InvalidIpBlockInRule) {
  Mesh allow = FromText({R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE
    rules { ip_blocks: "bogus" })"});
  EXPECT_EQ(Decide(allow, Conn()), kAllowNone);
  Mesh deny = FromText({R"(name: "d" namespace: "shop" action: DENY scope: NAMESPACE
    rules { not_ip_blocks: "bogus" not_ip_blocks: "10.244.9.0/24" })"});
  EXPECT_EQ(Decide(deny, Conn().From("10.244.9.1")), kNoPolicy);
  EXPECT_EQ(Decide(deny, Conn().From("10.244.8.1")), "deny denied_by_policy shop/d#0");
}

TEST(FailClosed, UnsetStringMatch) {
  Mesh allow = FromText({R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE
    rules { principals { } })"});
  EXPECT_EQ(Decide(allow, Conn().As(kSleep)), kAllowNone);
  Mesh deny = FromText({R"(name: "d" namespace: "shop" action: DENY scope: NAMESPACE
    rules { principals { } })"});
  EXPECT_EQ(Decide(deny, Conn().As(kSleep)), "deny denied_by_policy shop/d#0");
  EXPECT_EQ(Decide(deny, Conn()), "deny denied_by_policy shop/d#0");
}

TEST(FailClosed, NonL4ConditionKeyLeftInSnapshot) {
  Mesh allow = FromText({R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE
    rules { conditions { key: "request.headers[x]" values { exact: "y" } } }
    rules { rule_index: 1 ports: 9090 })"});
  EXPECT_EQ(Decide(allow, Conn().Port(8080)), kAllowNone);
  EXPECT_EQ(Decide(allow, Conn().Port(9090)), "allow allowed_by_policy shop/a#1");
  Mesh deny = FromText({R"(name: "d" namespace: "shop" action: DENY scope: NAMESPACE
    rules { ports: 8080 conditions { key: "request.headers[x]" values { exact: "y" } } })"});
  EXPECT_EQ(Decide(deny, Conn().Port(8080)), "deny denied_by_policy shop/d#0");
  EXPECT_EQ(Decide(deny, Conn().Port(8081)), kNoPolicy);
}

TEST(FailClosed, L7FieldsLeftInSnapshot) {
  Mesh allow = FromText({R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE
    rules { methods: "GET" })"});
  EXPECT_EQ(Decide(allow, Conn()), kAllowNone);
  Mesh deny = FromText({R"(name: "d" namespace: "shop" action: DENY scope: NAMESPACE
    rules { paths { prefix: "/admin" } ports: 8080 })"});
  EXPECT_EQ(Decide(deny, Conn().Port(8080)), "deny denied_by_policy shop/d#0");
  EXPECT_EQ(Decide(deny, Conn().Port(8081)), kNoPolicy);
}

// ---- snapshot shapes ----

TEST(Snapshot, UnspecifiedActionIsAllow) {
  Mesh m = FromText({R"(name: "a" namespace: "shop" scope: NAMESPACE rules { ports: 9090 })"});
  EXPECT_EQ(Decide(m, Conn().Port(9090)), "allow allowed_by_policy shop/a#0");
  EXPECT_EQ(Decide(m, Conn().Port(8080)), kAllowNone);
}

TEST(Snapshot, UnspecifiedScopeIsDerived) {
  Mesh m = FromText(
      {
          R"(name: "wp" namespace: "shop" action: DENY rules { } target_refs { kind: "Service" name: "web" })",
          R"(name: "other" namespace: "other" action: DENY rules { })",
          R"(name: "db" namespace: "shop" action: DENY selector { key: "app" value: "db" } rules { })",
          R"(name: "mesh" namespace: "istio-system" action: DENY rules { ports: 1 })",
      },
      {"istio-system/mesh", "shop/wp"});
  EXPECT_EQ(Decide(m, Conn().Port(1)), "deny denied_by_policy istio-system/mesh#0");
  EXPECT_EQ(Decide(m, Conn().Port(2)), kNoPolicy);
  EXPECT_THAT(m.authz->PoliciesByScope("shop", m.W("shop/web")->labels()),
              ElementsAre("istio-system/mesh"));
}

TEST(Snapshot, WaypointAndAuditListedOnTheWorkloadAreSkipped) {
  Mesh m = FromText({
      R"(name: "wp" namespace: "shop" action: DENY scope: WAYPOINT rules { })",
      R"(name: "audit" namespace: "shop" action: AUDIT scope: NAMESPACE rules { })",
  });
  EXPECT_EQ(Decide(m, Conn()), kNoPolicy);
  EXPECT_EQ(m.authz->unresolved_references(), 0u);
}

TEST(Snapshot, TheWorkloadsListIsAuthoritative) {
  // A namespace policy the compiler did not list for the workload is not applied on the fast
  // path; a listed name with no policy behind it is counted and skipped.
  Mesh m =
      FromText({R"(name: "d" namespace: "shop" action: DENY scope: NAMESPACE rules { })",
                R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE rules { ports: 1 })"},
               {"shop/a", "shop/missing"});
  EXPECT_EQ(m.authz->unresolved_references(), 1u);
  EXPECT_EQ(Decide(m, Conn().Port(1)), "allow allowed_by_policy shop/a#0");
  EXPECT_EQ(Decide(m, Conn().Port(2)), kAllowNone);
}

TEST(Snapshot, PoliciesAreEvaluatedInSnapshotOrder) {
  Mesh m = FromText(
      {R"(name: "a" namespace: "shop" action: DENY scope: NAMESPACE rules { rule_index: 3 ports: 1 })",
       R"(name: "b" namespace: "shop" action: DENY scope: NAMESPACE rules { })"},
      {"shop/b", "shop/a"});
  EXPECT_EQ(Decide(m, Conn().Port(1)), "deny denied_by_policy shop/a#3");
  EXPECT_EQ(Decide(m, Conn().Port(2)), "deny denied_by_policy shop/b#0");
  EXPECT_THAT(m.authz->PoliciesFor(*m.W("shop/web")), ElementsAre("shop/a", "shop/b"));
}

TEST(Snapshot, EmptyPatternsNeedAnIdentity) {
  // prefix "" and suffix "" match any string, but plaintext has no string to match at all.
  Mesh m = FromText({R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE
    rules { namespaces { prefix: "" } } rules { rule_index: 1 principals { suffix: "" } })"});
  EXPECT_EQ(Decide(m, Conn()), kAllowNone);
  EXPECT_EQ(Decide(m, Conn().As(kJob)), "allow allowed_by_policy shop/a#0");
}

// ---- lookup paths ----

TEST(Lookup, NullDestinationIsDenied) {
  Mesh m = FromText({});
  ConnectionAttributes a;
  Decision d = m.authz->Decide(a);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kUnknownDestination);
  EXPECT_EQ(m.authz->Authorize(a).reason, Reason::kUnknownDestination);
}

TEST(Lookup, WorkloadFromAnotherSnapshotIsResolvedByScope) {
  Mesh m = FromText(
      {R"(name: "d" namespace: "shop" action: DENY scope: WORKLOAD selector { key: "app" value: "web" } rules { ports: 1 })"});
  pb::Workload copy = *m.W("shop/web");
  copy.clear_authorization_policies();  // not consulted on this path
  Conn c = Conn().Port(1);
  ConnectionAttributes a = testing::Attrs(m, c);
  a.destination = &copy;
  EXPECT_EQ(testing::Verdict(m.authz->Decide(a)), "deny denied_by_policy shop/d#0");
  a.destination_port = 2;
  EXPECT_EQ(testing::Verdict(m.authz->Decide(a)), kNoPolicy);
  (*copy.mutable_labels())["app"] = "db";
  a.destination_port = 1;
  EXPECT_EQ(testing::Verdict(m.authz->Decide(a)), kNoPolicy);
}

TEST(Lookup, ExplicitSourceNamespaceOverridesDerived) {
  Mesh m = FromText(
      {R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE rules { namespaces { exact: "front" } })"});
  Conn c = Conn().As(kJob);
  ConnectionAttributes a = testing::Attrs(m, c);
  EXPECT_EQ(testing::Verdict(m.authz->Decide(a)), kAllowNone);
  a.source_namespace = "front";
  EXPECT_EQ(testing::Verdict(m.authz->Decide(a)), "allow allowed_by_policy shop/a#0");
  // Plaintext: the namespace is ignored along with the principal.
  a.transport = Transport::kPlaintext;
  EXPECT_EQ(testing::Verdict(m.authz->Decide(a)), kAllowNone);
}

TEST(Lookup, UnsetAddressesMatchNoBlock) {
  Mesh m = FromText(
      {R"(name: "a" namespace: "shop" action: ALLOW scope: NAMESPACE rules { ip_blocks: "0.0.0.0/0" } rules { rule_index: 1 not_ip_blocks: "0.0.0.0/0" })"});
  Conn c;
  ConnectionAttributes a = testing::Attrs(m, c);
  a.source_ip = IpAddress();
  EXPECT_EQ(testing::Verdict(m.authz->Decide(a)), "allow allowed_by_policy shop/a#1");
}

// ---- helpers ----

TEST(PeerIdentity, Parse) {
  auto id = ParsePeerIdentity("spiffe://cluster.local/ns/front/sa/sleep");
  EXPECT_EQ(id.principal, "cluster.local/ns/front/sa/sleep");
  EXPECT_EQ(id.ns, "front");
  id = ParsePeerIdentity("td/ns/a/sa/b");
  EXPECT_EQ(id.principal, "td/ns/a/sa/b");
  EXPECT_EQ(id.ns, "a");
  for (const char* bad : {"", "spiffe://", "td", "td/ns/a", "td/ns/a/sa/", "td/ns//sa/b",
                          "/ns/a/sa/b", "td/ns/a/sa/b/c", "td/nss/a/sa/b", "td/ns/a/xa/b",
                          "cluster.local/weft/node/n1", "spiffe://td/weft/ca"}) {
    EXPECT_TRUE(ParsePeerIdentity(bad).principal.empty()) << bad;
    EXPECT_TRUE(ParsePeerIdentity(bad).ns.empty()) << bad;
  }
}

TEST(Reason, Names) {
  EXPECT_EQ(ReasonName(Reason::kNoPolicy), "no_policy");
  EXPECT_EQ(ReasonName(Reason::kAllowedByPolicy), "allowed_by_policy");
  EXPECT_EQ(ReasonName(Reason::kDeniedByPolicy), "denied_by_policy");
  EXPECT_EQ(ReasonName(Reason::kNoAllowMatch), "no_allow_match");
  EXPECT_EQ(ReasonName(Reason::kMtlsStrict), "mtls_strict");
  EXPECT_EQ(ReasonName(Reason::kUnknownDestination), "unknown_destination");
  EXPECT_EQ(DeniedMetricLabel(Reason::kDeniedByPolicy), "deny_policy");
  EXPECT_EQ(DeniedMetricLabel(Reason::kNoAllowMatch), "no_allow_match");
  EXPECT_EQ(DeniedMetricLabel(Reason::kMtlsStrict), "mtls_strict");
  EXPECT_EQ(DeniedMetricLabel(Reason::kAllowedByPolicy), "");
  EXPECT_EQ(DeniedMetricLabel(Reason::kNoPolicy), "");
}

TEST(Decision, ViewsOutliveTheSnapshotHandle) {
  Mesh m = FromText({R"(name: "d" namespace: "shop" action: DENY scope: NAMESPACE rules { })"});
  Decision d = m.authz->Decide(testing::Attrs(m, Conn()));
  std::shared_ptr<const L4Authorizer> keep = m.authz;
  m = Mesh();  // the authorizer holds the snapshot
  EXPECT_EQ(d.policy, "shop/d");
}

}  // namespace
}  // namespace weft::authz
