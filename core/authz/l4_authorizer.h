#pragma once

// L4 authorization at the destination's node proxy: Istio AuthorizationPolicy semantics as
// ztunnel enforces them (istio/ztunnel src/rbac.rs), over the compiled MeshSnapshot.
//
// Built once per snapshot (policies indexed, CIDRs parsed, string matches lowered, the policies
// of every workload resolved and split into DENY and ALLOW lists); then Authorize()/Decide()
// run once per connection: no allocation, no locks, no hashing of strings (given a Workload
// pointer from the same snapshot). Immutable and safe to share between worker threads; keep it
// alive (it holds the snapshot) for as long as any Decision's `policy` view is used. Build it
// next to the proxy's NodeView from the same shared_ptr<const MeshSnapshot>, so that
// NodeView::WorkloadByAddress() pointers hit the fast path.
//
// Per connection, on the destination side (HBONE stream accepted, or :15006 accept):
//
//   authz::ConnectionAttributes a;
//   a.destination = view.WorkloadByAddress(target_ip);    // from the same snapshot
//   a.destination_ip = target;                            // authz::IpAddress
//   a.destination_port = target_port;
//   a.source_ip = *authz::IpAddress::FromSockaddr(peer);  // TCP peer of the HBONE/plain conn
//   a.transport = authz::Transport::kHbone;               // or kPlaintext
//   a.source_principal = verified_spiffe_id;              // "spiffe://td/ns/a/sa/b" or
//                                                         // "td/ns/a/sa/b"; ignored if plaintext
//   authz::Decision d = authorizer->Authorize(a);
//   if (!d.allowed) { count(d.reason); log once: d.policy, d.rule_index; refuse (HBONE: 401) }
//
// Evaluation (Istio's order; CUSTOM is rejected by the compiler): any matching DENY rule
// denies; otherwise, when no ALLOW policy applies, allow; otherwise allow only if some ALLOW
// rule matches. AUDIT policies never decide. WAYPOINT-scope policies are the waypoint's and are
// never evaluated here.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/authz/ip.h"
#include "core/authz/mtls_mode.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::authz {

namespace pb = ::weft::config::v1;

struct ConnectionAttributes {
  // The workload the connection is for. Use a pointer from the snapshot the authorizer was
  // built from (fast path: its policies were resolved at build time from the compiler's
  // Workload.authorization_policies). Any other Workload message gets its policies resolved
  // from its namespace and labels on every call (slow path). Null: denied
  // (kUnknownDestination).
  const pb::Workload* destination = nullptr;
  uint32_t destination_port = 0;
  // The destination workload address (the HBONE :authority IP, or the original destination on
  // :15006); only `when destination.ip` reads it. Unset: no destination.ip value matches it.
  IpAddress destination_ip;
  // The TCP peer address (never the HBONE `forwarded` header). Unset: no ipBlock matches it.
  IpAddress source_ip;
  Transport transport = Transport::kPlaintext;
  // The verified peer identity, with or without "spiffe://"; only read for kHbone. Must be a
  // workload identity "<td>/ns/<ns>/sa/<sa>"; anything else counts as no identity.
  std::string_view source_principal;
  // The peer's namespace; derived from source_principal when empty. Only read for kHbone.
  std::string_view source_namespace;
};

enum class Reason : uint8_t {
  kNoPolicy,            // allowed: no DENY matched and no ALLOW policy applies
  kAllowedByPolicy,     // allowed: an ALLOW rule matched (policy, rule_index say which)
  kDeniedByPolicy,      // denied: a DENY rule matched (policy, rule_index say which)
  kNoAllowMatch,        // denied: ALLOW policies apply and none matched
  kMtlsStrict,          // denied by Authorize(): plaintext under PeerAuthentication STRICT
  kUnknownDestination,  // denied: no destination workload
};

// "no_policy", "allowed_by_policy", "denied_by_policy", "no_allow_match", "mtls_strict",
// "unknown_destination".
std::string_view ReasonName(Reason reason);
// The `reason` label of weft_authz_denied_total as docs/security.md names it: "deny_policy",
// "no_allow_match", "mtls_strict", "unknown_destination"; empty for the allowing reasons.
std::string_view DeniedMetricLabel(Reason reason);

struct Decision {
  bool allowed = false;
  Reason reason = Reason::kUnknownDestination;
  // "<namespace>/<name>" of the policy that decided (kAllowedByPolicy, kDeniedByPolicy), or
  // of the PeerAuthentication (kMtlsStrict, when the snapshot names it); empty otherwise.
  // Points into the authorizer (or the snapshot it holds).
  std::string_view policy;
  // Index in the policy's spec.rules of the rule that matched; -1 when no rule decided.
  int rule_index = -1;
  // The mTLS mode in force (Authorize() only; PERMISSIVE from Decide()).
  pb::MtlsMode mtls_mode = pb::MTLS_MODE_PERMISSIVE;
};

class L4Authorizer {
 public:
  explicit L4Authorizer(std::shared_ptr<const pb::MeshSnapshot> snapshot);
  ~L4Authorizer();
  L4Authorizer(const L4Authorizer&) = delete;
  L4Authorizer& operator=(const L4Authorizer&) = delete;

  // PeerAuthentication, then AuthorizationPolicy: a plaintext connection to a port whose mode
  // is STRICT is denied (kMtlsStrict) before any policy is looked at; otherwise Decide().
  Decision Authorize(const ConnectionAttributes& attrs) const;

  // AuthorizationPolicy only (no mTLS mode check).
  Decision Decide(const ConnectionAttributes& attrs) const;

  // "<ns>/<name>" of the policies enforced for this workload, DENY ones first, each group in
  // snapshot order. For explain/introspection and tests.
  std::vector<std::string> PoliciesFor(const pb::Workload& workload) const;
  // The same resolved from scopes (MESH; root-namespace selectors; NAMESPACE and WORKLOAD of
  // `ns`), without the compiler's per-workload list. Tests check both agree.
  std::vector<std::string> PoliciesByScope(
      std::string_view ns, const google::protobuf::Map<std::string, std::string>& labels) const;

  const pb::MeshSnapshot& snapshot() const { return *snapshot_; }
  // Values the compiler let through that are not valid for their key (a `when source.ip` value
  // that is not an IP or CIDR, a `destination.port` value that is not a port...). Each is
  // compiled fail-closed: it makes an ALLOW rule match less and a DENY rule match more.
  size_t invalid_values() const { return invalid_values_; }
  // Workload.authorization_policies entries that name no node-enforced policy of the snapshot
  // (skipped).
  size_t unresolved_references() const { return unresolved_references_; }

  struct Policy;  // compiled form (defined in l4_authorizer.cc)
  struct Peer;    // the connection as rules see it (defined in l4_authorizer.cc)

 private:
  struct Applicable {
    std::vector<const Policy*> deny;
    std::vector<const Policy*> allow;
    std::string mtls_source;  // "<ns>/<name>" of Workload.mtls.source; empty when none
  };
  Applicable Resolve(const pb::Workload& w);  // from Workload.authorization_policies
  Applicable ResolveByScope(std::string_view ns,
                            const google::protobuf::Map<std::string, std::string>& labels) const;
  const Applicable* Lookup(const pb::Workload* w, Applicable& scratch) const;
  static Decision Evaluate(const Applicable& applicable, const Peer& peer);

  std::shared_ptr<const pb::MeshSnapshot> snapshot_;
  std::vector<std::unique_ptr<Policy>> policies_;  // node-enforced, snapshot order
  std::unordered_map<std::string_view, const Policy*> by_key_;
  std::vector<Applicable> per_workload_;  // parallel to snapshot_->workloads()
  std::unordered_map<const pb::Workload*, uint32_t> by_pointer_;
  size_t invalid_values_ = 0;
  size_t unresolved_references_ = 0;
};

// The principal ("<td>/ns/<ns>/sa/<sa>", without "spiffe://") and namespace of a workload
// SPIFFE ID given with or without "spiffe://"; both empty when it is not of that shape.
struct PeerIdentity {
  std::string_view principal;
  std::string_view ns;
  std::string_view trust_domain;
};
PeerIdentity ParsePeerIdentity(std::string_view spiffe_id);

}  // namespace weft::authz
