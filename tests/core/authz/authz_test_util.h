#pragma once

// Helpers for the authorizer tests: compile YAML with the real policy compiler, build an
// L4Authorizer over the snapshot, and describe decisions as one comparable string.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/authz/l4_authorizer.h"
#include "tests/core/policy/policy_test_util.h"

namespace weft::authz::testing {

// Two namespaces; shop/web and other/web share the label app=web.
inline constexpr char kWorkloads[] = R"(apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web, tier: front}}
spec: {nodeName: n1, serviceAccountName: web}
status: {phase: Running, podIPs: [{ip: 10.244.1.10}, {ip: "fd00::10"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {nodeName: n1, serviceAccountName: db}
status: {phase: Running, podIPs: [{ip: 10.244.1.11}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: other, labels: {app: web}}
spec: {nodeName: n2, serviceAccountName: web}
status: {phase: Running, podIPs: [{ip: 10.244.2.10}]}
)";

// Source identities used across the tests.
inline constexpr char kSleep[] = "cluster.local/ns/front/sa/sleep";
inline constexpr char kJob[] = "cluster.local/ns/batch/sa/job";
inline constexpr char kShopDb[] = "cluster.local/ns/shop/sa/db";

inline std::string Ap(const std::string& ns, const std::string& name, const std::string& spec) {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec;
}

struct Mesh {
  std::shared_ptr<const pb::MeshSnapshot> snapshot;
  std::shared_ptr<const L4Authorizer> authz;

  const pb::Workload* W(std::string_view uid) const {
    const pb::Workload* w = policy::testing::FindWorkload(*snapshot, uid);
    EXPECT_NE(w, nullptr) << uid;
    return w;
  }
};

// Compiles kWorkloads plus `docs`; the snapshot must have no errors.
inline Mesh Build(const std::vector<std::string>& docs, bool with_workloads = true) {
  std::vector<std::string> all;
  if (with_workloads) all.push_back(kWorkloads);
  all.insert(all.end(), docs.begin(), docs.end());
  auto res = policy::testing::CompileYaml(all);
  EXPECT_EQ(policy::testing::ErrorCount(res.snapshot), 0u) << policy::testing::Dump(res.snapshot);
  Mesh m;
  m.snapshot = std::make_shared<const pb::MeshSnapshot>(std::move(res.snapshot));
  m.authz = std::make_shared<const L4Authorizer>(m.snapshot);
  return m;
}

// One connection as the destination's node proxy sees it.
struct Conn {
  std::string to = "shop/web";
  uint32_t port = 8080;
  std::string from_ip = "10.244.9.9";
  std::string principal;  // empty: plaintext (:15006); otherwise HBONE with this peer ID
  std::string to_ip = "10.244.1.10";

  Conn& Port(uint32_t p) {
    port = p;
    return *this;
  }
  Conn& From(std::string ip) {
    from_ip = std::move(ip);
    return *this;
  }
  Conn& As(std::string p) {
    principal = std::move(p);
    return *this;
  }
  Conn& To(std::string uid) {
    to = std::move(uid);
    return *this;
  }
  Conn& ToIp(std::string ip) {
    to_ip = std::move(ip);
    return *this;
  }
};

inline ConnectionAttributes Attrs(const Mesh& m, const Conn& c) {
  ConnectionAttributes a;
  a.destination = m.W(c.to);
  a.destination_port = c.port;
  a.source_ip = IpAddress::Parse(c.from_ip).value_or(IpAddress());
  a.destination_ip = IpAddress::Parse(c.to_ip).value_or(IpAddress());
  a.transport = c.principal.empty() ? Transport::kPlaintext : Transport::kHbone;
  a.source_principal = c.principal;
  return a;
}

// "allow no_policy", "allow allowed_by_policy shop/p#0", "deny no_allow_match",
// "deny denied_by_policy shop/d#1", "deny mtls_strict shop/pa".
inline std::string Verdict(const Decision& d) {
  std::string s = d.allowed ? "allow " : "deny ";
  s += ReasonName(d.reason);
  if (!d.policy.empty()) s += " " + std::string(d.policy);
  if (d.rule_index >= 0) s += "#" + std::to_string(d.rule_index);
  return s;
}

inline std::string Decide(const Mesh& m, const Conn& c) {
  return Verdict(m.authz->Decide(Attrs(m, c)));
}
inline std::string Authorize(const Mesh& m, const Conn& c) {
  return Verdict(m.authz->Authorize(Attrs(m, c)));
}

}  // namespace weft::authz::testing
