#pragma once

// L7 authorization at the waypoint: Istio AuthorizationPolicy semantics for policies attached
// with targetRefs (scope WAYPOINT), as Istio's waypoint (Envoy RBAC) enforces them, over the
// compiled MeshSnapshot.
//
// Which policies apply to a request (Istio WorkloadPolicyMatcher.ShouldAttachPolicy):
//  - a targetRef to this waypoint: group gateway.networking.k8s.io, kind Gateway, its name, and
//    the policy in the waypoint's namespace: every request through the waypoint;
//  - a targetRef to a Service (group "" or "core") or a ServiceEntry (networking.istio.io) of
//    the policy's own namespace: requests whose target is that Service (Service.name and
//    namespace, and kind KUBERNETES or SERVICE_ENTRY);
//  - a targetRef to the GatewayClass istio-waypoint (or weft-waypoint) from a policy in the root
//    namespace: every request through every waypoint.
// A targetRef naming another namespace than the policy's never matches (Istio: cross-namespace
// references are not supported), nor does an unknown group or kind. Policies without
// targetRefs (selector, namespace, mesh) are the node proxy's and are not evaluated here.
//
// Built once per snapshot (policies indexed, CIDRs parsed, string matches prepared, the
// policies of every Service of the snapshot resolved and split into DENY and ALLOW lists);
// then Authorize() runs once per request: no locks, and no allocation unless a `when
// request.headers[...]` header has several fields (joined with ",", as Envoy). Immutable and
// safe to share between threads; keep it alive (it holds the snapshot) while a Decision's
// `policy` view is used. Build it with the WaypointView from the same snapshot, so that Service
// pointers hit the fast path.
//
// Per request (docs/waypoint.md, filter chain step 2):
//
//   authz::RequestAttributes a;
//   a.source_principal = verified_client_spiffe_id;   // the HBONE peer (client pod's identity)
//   a.source_ip = forwarded_for_client_ip;              // HBONE `forwarded: for=`
//   a.remote_ip = from_x_forwarded_for;                 // optional; unset: source_ip
//   a.destination_ip = vip; a.destination_port = service_port;
//   a.method = head.method; a.path = head.path; a.host = head.authority;
//   a.headers = &head.headers;
//   authz::Decision d = authorizer->Authorize(target_service, a);
//   if (!d.allowed) { answer 403 "RBAC: access denied"; log d.policy, d.rule_index }
//
// Evaluation (Istio's order; CUSTOM is rejected by the compiler): any matching DENY rule
// denies; otherwise, when no ALLOW policy applies, allow; otherwise allow only if some ALLOW
// rule matches. AUDIT policies never decide. A rule (AuthorizationPolicy.l7_rules) matches when
// every non-empty clause matches; a clause matches when one of its values does (a `not*`
// clause when none does). An ALLOW policy without rules matches nothing (it denies every
// request it applies to); a rule without clauses matches every request.
//
// Attributes, as Istio generates Envoy RBAC for them:
//  - principals, namespaces, `when source.principal/source.namespace`: the client's identity;
//    no identity matches no value (not even "*"), so a not* clause holds;
//  - ipBlocks, `source.ip`: source_ip; remoteIpBlocks, `remote.ip`: remote_ip (else source_ip);
//    ports, `destination.port`: destination_port; `destination.ip`: destination_ip;
//  - methods: exact, "x*", "*x" or "*", case-sensitive (a :method header matcher);
//  - paths: the path without query and fragment (Envoy url_path PathMatcher), case-sensitive;
//    "*" means a non-empty path; the request path is matched as received (no normalisation);
//  - hosts: the :authority as received, port included, case-insensitive (Istio HostMatcher);
//  - `request.headers[name]`: the header's value (fields of one name joined with ","), exact,
//    prefix, suffix, or "*" = present; a missing header matches no value. ":authority"/"host",
//    ":method" and ":path" read the request line;
//  - `connection.sni`: there is no SNI on the mesh's HBONE path: the values see "".
// Not enforceable here (no JWT support; RequestAuthentication is not implemented):
// requestPrincipals, notRequestPrincipals and `when request.auth.*` (and any unknown key) fail
// closed the way the L4 authorizer treats L7 leftovers: in an ALLOW rule the clause never holds
// (the rule grants nothing), in a DENY rule it always holds (the rule denies every request its
// other clauses match). Istio, with no JWT on the request, would instead treat the principal as
// absent: ALLOW `notRequestPrincipals: ["*"]` would grant and DENY `requestPrincipals: [x]`
// would not deny; weft denies more, never less.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/authz/ip.h"
#include "core/authz/l4_authorizer.h"
#include "core/http/message.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::authz {

struct RequestAttributes {
  // The original client's verified identity (the peer certificate of the HBONE tunnel from the
  // client's node proxy, which presents the client pod's certificate), with or without
  // "spiffe://". Anything but a workload identity "<td>/ns/<ns>/sa/<sa>" counts as none.
  std::string_view source_principal;
  // The client's namespace; derived from source_principal when empty.
  std::string_view source_namespace;
  // The client's address (the HBONE `forwarded: for=`). Unset: no ipBlock matches it.
  IpAddress source_ip;
  // The original client address from X-Forwarded-For (Envoy's remote address). Unset: the same
  // as source_ip (no trusted hops).
  IpAddress remote_ip;
  // The destination service address the client dialed (the VIP) and its port.
  IpAddress destination_ip;
  uint32_t destination_port = 0;
  std::string_view method;
  // :path as received, query included (`paths` match it without the query).
  std::string_view path;
  // :authority (HTTP/2) or Host (HTTP/1.1), as received.
  std::string_view host;
  // The request headers (without Host and pseudo-headers). Null: none.
  const http::HeaderMap* headers = nullptr;
};

class L7Authorizer {
 public:
  L7Authorizer(std::shared_ptr<const pb::MeshSnapshot> snapshot, std::string waypoint_namespace,
               std::string waypoint_name);
  ~L7Authorizer();
  L7Authorizer(const L7Authorizer&) = delete;
  L7Authorizer& operator=(const L7Authorizer&) = delete;

  // The decision for one request to `target` (a Service of the snapshot the authorizer was
  // built from: fast path; any other Service message has its policies resolved by kind,
  // namespace and name on every call). Null target: only the policies attached to the waypoint
  // itself (Gateway or GatewayClass) apply. Reasons: kNoPolicy, kAllowedByPolicy,
  // kDeniedByPolicy, kNoAllowMatch (Decision.mtls_mode is not used).
  Decision Authorize(const pb::Service* target, const RequestAttributes& attrs) const;

  // "<ns>/<name>" of the policies that apply to requests for `target` (null: the waypoint's
  // own), DENY ones first, each group in snapshot order. For explain and tests.
  std::vector<std::string> PoliciesFor(const pb::Service* target) const;

  const pb::MeshSnapshot& snapshot() const { return *snapshot_; }
  const std::string& waypoint_namespace() const { return waypoint_ns_; }
  const std::string& waypoint_name() const { return waypoint_name_; }
  // Values that are not valid for their key (a `destination.port` that is not a port, a CIDR
  // that does not parse, a malformed `request.headers` key...), each compiled fail-closed.
  size_t invalid_values() const { return invalid_values_; }
  // Clauses that cannot be evaluated here (requestPrincipals, `when request.auth.*`, unknown
  // keys), each compiled fail-closed (see above).
  size_t unenforceable_clauses() const { return unenforceable_; }
  // targetRefs that can never apply (another namespace, unknown group or kind).
  size_t ignored_target_refs() const { return ignored_target_refs_; }

  struct Policy;   // compiled form (defined in l7_authorizer.cc)
  struct Request;  // the request as rules see it (defined in l7_authorizer.cc)

 private:
  struct Applicable {
    std::vector<const Policy*> deny;
    std::vector<const Policy*> allow;
  };
  Applicable Resolve(const pb::Service* target) const;
  static Decision Evaluate(const Applicable& applicable, const Request& request);

  std::shared_ptr<const pb::MeshSnapshot> snapshot_;
  std::string waypoint_ns_;
  std::string waypoint_name_;
  std::vector<std::unique_ptr<Policy>> policies_;  // waypoint-scope ALLOW/DENY, snapshot order
  Applicable waypoint_only_;                       // attached to the waypoint (null target)
  std::vector<Applicable> per_service_;            // parallel to snapshot_->services()
  std::unordered_map<const pb::Service*, uint32_t> by_pointer_;
  size_t invalid_values_ = 0;
  size_t unenforceable_ = 0;
  size_t ignored_target_refs_ = 0;
};

}  // namespace weft::authz
