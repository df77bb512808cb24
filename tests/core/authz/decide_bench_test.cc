// Decide() cost on a snapshot with 1,000 AuthorizationPolicies. Prints nanoseconds per call;
// asserts only the decisions, never the timings (shared CI machines).
//
//   build-authz/bin/tests/authz_bench_test
//
// "spread": 100 namespaces x 10 policies (a typical mesh: each workload sees the mesh policy,
// its namespace's policies and the workload policies that select it). "one namespace": all
// 1,000 apply to the destination and the connection matches none until the last one — the
// worst case, linear in the number of rules.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "core/authz/l4_authorizer.h"

namespace weft::authz {
namespace {

using Clock = std::chrono::steady_clock;

void AddAllow(pb::MeshSnapshot& s, const std::string& ns, const std::string& name, int i,
              bool selector) {
  pb::AuthorizationPolicy* p = s.add_authorization_policies();
  p->set_namespace_(ns);
  p->set_name(name);
  p->set_action(pb::AuthorizationPolicy::ALLOW);
  p->set_scope(selector ? pb::AuthorizationPolicy::WORKLOAD : pb::AuthorizationPolicy::NAMESPACE);
  if (selector) (*p->mutable_selector())["app"] = "app-" + std::to_string(i % 10);
  for (int r = 0; r < 2; ++r) {
    pb::AuthorizationRule* rule = p->add_rules();
    rule->set_rule_index(r);
    rule->add_principals()->set_exact("cluster.local/ns/client-" + std::to_string(i) + "/sa/sa-" +
                                      std::to_string(r));
    rule->add_principals()->set_prefix("cluster.local/ns/team-" + std::to_string(i) + "/");
    rule->add_ip_blocks("10." + std::to_string(i % 250) + ".0.0/16");
    rule->add_ports(8000 + r);
    rule->add_ports(9000 + r);
  }
}

void AddDeny(pb::MeshSnapshot& s, const std::string& ns, const std::string& name, int i) {
  pb::AuthorizationPolicy* p = s.add_authorization_policies();
  p->set_namespace_(ns);
  p->set_name(name);
  p->set_action(pb::AuthorizationPolicy::DENY);
  p->set_scope(ns == "istio-system" ? pb::AuthorizationPolicy::MESH
                                    : pb::AuthorizationPolicy::NAMESPACE);
  pb::AuthorizationRule* rule = p->add_rules();
  rule->add_not_namespaces()->set_exact(ns);
  rule->add_not_namespaces()->set_prefix("team-");
  rule->add_not_namespaces()->set_exact("front");
  rule->add_ports(15000 + i % 10);
  pb::Condition* c = rule->add_conditions();
  c->set_key("source.ip");
  c->add_not_values()->set_exact("10.0.0.0/8");
}

struct Bench {
  std::shared_ptr<const pb::MeshSnapshot> snapshot;
  std::unique_ptr<L4Authorizer> authz;
  const pb::Workload* dst = nullptr;
};

// Workload "ns-<n>/w-<k>" labelled app-<k>, 10 per namespace; the compiler's
// authorization_policies list filled by scope, as the compiler would.
Bench Make(pb::MeshSnapshot s, int namespaces, const std::string& want) {
  s.mutable_settings()->set_root_namespace("istio-system");
  for (int n = 0; n < namespaces; ++n) {
    for (int k = 0; k < 10; ++k) {
      pb::Workload* w = s.add_workloads();
      w->set_namespace_("ns-" + std::to_string(n));
      w->set_name("w-" + std::to_string(k));
      w->set_uid(w->namespace_() + "/" + w->name());
      (*w->mutable_labels())["app"] = "app-" + std::to_string(k);
    }
  }
  Bench b;
  {
    auto tmp = std::make_shared<pb::MeshSnapshot>(s);
    L4Authorizer resolver(tmp);  // fill the lists from scopes
    for (auto& w : *tmp->mutable_workloads()) {
      for (const auto& key : resolver.PoliciesByScope(w.namespace_(), w.labels())) {
        w.add_authorization_policies(key);
      }
    }
    b.snapshot = tmp;
  }
  auto start = Clock::now();
  b.authz = std::make_unique<L4Authorizer>(b.snapshot);
  auto build_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  std::printf("  build: %zu policies, %d workloads: %lld us\n",
              static_cast<size_t>(b.snapshot->authorization_policies_size()),
              b.snapshot->workloads_size(), static_cast<long long>(build_us));
  for (const auto& w : b.snapshot->workloads()) {
    if (w.uid() == want) b.dst = &w;
  }
  return b;
}

// Runs Decide() in batches for about 200 ms and returns the mean time per call.
double NsPerDecide(const L4Authorizer& authz, const ConnectionAttributes& a, bool want_allowed) {
  constexpr int kBatch = 256;
  long long calls = 0, allowed = 0;
  auto start = Clock::now();
  auto elapsed = Clock::duration::zero();
  while (elapsed < std::chrono::milliseconds(200)) {
    for (int i = 0; i < kBatch; ++i) allowed += authz.Decide(a).allowed;
    calls += kBatch;
    elapsed = Clock::now() - start;
  }
  EXPECT_EQ(allowed, want_allowed ? calls : 0);
  return static_cast<double>(
             std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) /
         static_cast<double>(calls);
}

TEST(DecideBench, ThousandPoliciesSpreadOverNamespaces) {
  pb::MeshSnapshot s;
  AddDeny(s, "istio-system", "mesh-deny", 0);
  int i = 0;
  for (int n = 0; n < 100; ++n) {
    std::string ns = "ns-" + std::to_string(n);
    AddDeny(s, ns, "deny", i++);
    for (int k = 0; k < 8; ++k) AddAllow(s, ns, "allow-" + std::to_string(k), i++, k >= 2);
  }
  for (; s.authorization_policies_size() < 1000; ++i) {
    AddAllow(s, "ns-99", "extra-" + std::to_string(i), i, true);
  }
  Bench b = Make(std::move(s), 100, "ns-42/w-3");
  ASSERT_NE(b.dst, nullptr);
  std::printf("  ns-42/w-3 sees %zu policies\n", b.authz->PoliciesFor(*b.dst).size());

  ConnectionAttributes a;
  a.destination = b.dst;
  a.destination_port = 8001;
  // Policy allow-1 of ns-42 (i = 42 * 9 + 2) allows team-<i>/ from 10.<i % 250>/16 on rule 1.
  const int target = 42 * 9 + 2;
  a.source_ip = *IpAddress::Parse("10." + std::to_string(target % 250) + ".1.2");
  a.transport = Transport::kHbone;
  std::string principal = "spiffe://cluster.local/ns/team-" + std::to_string(target) + "/sa/x";
  a.source_principal = principal;
  Decision d = b.authz->Decide(a);
  ASSERT_TRUE(d.allowed) << ReasonName(d.reason);
  EXPECT_EQ(d.policy, "ns-42/allow-1");
  std::printf("  allowed (mTLS, 2nd ALLOW policy matches): %.0f ns/Decide\n",
              NsPerDecide(*b.authz, a, true));
  a.source_principal = "spiffe://cluster.local/ns/nobody/sa/x";
  std::printf("  denied (mTLS, no ALLOW matches):           %.0f ns/Decide\n",
              NsPerDecide(*b.authz, a, false));
  a.transport = Transport::kPlaintext;
  std::printf("  denied (plaintext):                        %.0f ns/Decide\n",
              NsPerDecide(*b.authz, a, false));
  a.destination_port = 15000 + (42 * 9) % 10;  // ns-42's DENY policy
  a.source_ip = *IpAddress::Parse("192.168.0.1");
  EXPECT_EQ(b.authz->Decide(a).reason, Reason::kDeniedByPolicy);
}

TEST(DecideBench, ThousandPoliciesInOneNamespace) {
  pb::MeshSnapshot s;
  for (int i = 0; i < 1000; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "allow-%04d", i);
    AddAllow(s, "ns-0", name, i, false);
  }
  Bench b = Make(std::move(s), 1, "ns-0/w-0");
  ASSERT_NE(b.dst, nullptr);
  ConnectionAttributes a;
  a.destination = b.dst;
  a.destination_port = 8000;
  a.source_ip = *IpAddress::Parse("10.231.1.2");  // in the ipBlock of policies 231, 481, 731, 981
  a.transport = Transport::kHbone;
  std::string principal = "spiffe://cluster.local/ns/team-981/sa/x";
  a.source_principal = principal;
  Decision d = b.authz->Decide(a);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.policy, "ns-0/allow-0981");
  std::printf("  worst case (1,000 ALLOW policies, 2,000 rules; match near the end): %.0f ns\n",
              NsPerDecide(*b.authz, a, true));
}

}  // namespace
}  // namespace weft::authz
