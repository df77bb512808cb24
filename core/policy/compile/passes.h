#pragma once

// The compile passes. Each turns part of the ResourceIndex into part of the MeshSnapshot and
// reports diagnostics; the Compiler (compiler.h) decides which passes to rerun after a change.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/policy/compile/index.h"

namespace weft::policy {

// Diagnostics a pass produced, and the resources it rejected (left out of the snapshot).
struct PassReport {
  std::vector<Diagnostic> diagnostics;
  std::map<ResourceKey, std::string> rejected;  // key -> first error message

  void Add(const Resource& r, Severity s, std::string_view code, const FieldPos& at,
           std::string message);
  void Error(const Resource& r, std::string_view code, const FieldPos& at, std::string message) {
    Add(r, Severity::kError, code, at, std::move(message));
  }
  void Warning(const Resource& r, std::string_view code, const FieldPos& at, std::string message) {
    Add(r, Severity::kWarning, code, at, std::move(message));
  }
  void Note(const Resource& r, std::string_view code, const FieldPos& at, std::string message) {
    Add(r, Severity::kNote, code, at, std::move(message));
  }
  // An error about a part that is dropped while the resource itself still compiles (e.g. a
  // malformed weft.dev/retry-budget annotation on a Service): not added to `rejected`.
  void ErrorKept(const Resource& r, std::string_view code, const FieldPos& at, std::string message);
  void Append(PassReport&& other);
};

// Resources ordered as Istio resolves conflicts: oldest creationTimestamp first, then by
// namespace and name.
std::vector<const Resource*> OldestFirst(const std::unordered_map<std::string, Resource>& all);

pb::Source SourceOf(const Resource& r, const std::string& field = {});
bool LabelsMatch(const Labels& selector,
                 const google::protobuf::Map<std::string, std::string>& labels);
bool LabelsMatch(const Labels& selector, const Labels& labels);
// "outbound|<port>|<subset>|<hostname>"
std::string ClusterName(uint32_t port, const std::string& subset, const std::string& hostname);
std::string SpiffeId(const std::string& trust_domain, const std::string& ns, const std::string& sa);

// The DestinationRule in force for each host (the oldest; later ones conflict).
struct DestinationRules {
  std::map<std::string, const Resource*> by_host;
  PassReport report;
  const DestinationRuleSpec* For(const std::string& hostname) const;
};
DestinationRules SelectDestinationRules(const ResourceIndex& index);

// ---- services.cc ----
// Istio's protocol selection: appProtocol, else the port name's prefix ("http-web" -> http).
std::string AppProtocol(const std::string& app_protocol, const std::string& name);
// The application protocol of each port of `hostname` (a Service or the oldest ServiceEntry
// providing it), by port number; empty when nothing provides the host.
std::map<uint32_t, std::string> HostPortProtocols(const ResourceIndex& index,
                                                  const std::string& hostname);
// The field path of the weft.dev/retry-budget annotation, for diagnostics and sources.
std::string RetryBudgetField();
// Every hostname a Service or ServiceEntry provides.
std::set<std::string> AllHostnames(const ResourceIndex& index);
// Compiles the Service for one hostname; false when nothing provides it.
bool CompileService(const ResourceIndex& index, const DestinationRules& rules,
                    const std::string& hostname, pb::Service* out, PassReport& report);

// ---- workloads.cc ----
struct SecurityPolicies {
  const Resource* mesh_peer_auth = nullptr;
  std::map<std::string, const Resource*> namespace_peer_auth;
  std::map<std::string, std::vector<const Resource*>> workload_peer_auth;  // by namespace
  std::map<std::string, std::vector<const Resource*>> authz;  // node-enforced, by namespace
  PassReport report;
};
SecurityPolicies SelectSecurityPolicies(const ResourceIndex& index);
pb::Workload CompileWorkload(const ResourceIndex& index, const SecurityPolicies& security,
                             const Resource& pod, PassReport& report);
std::vector<pb::Namespace> CompileNamespaces(const ResourceIndex& index, PassReport& report);

// ---- authz.cc ----
std::vector<pb::AuthorizationPolicy> CompileAuthorizationPolicies(const ResourceIndex& index,
                                                                  PassReport& report);

// ---- waypoints.cc ----
inline constexpr std::string_view kGatewayNameLabel = "gateway.networking.k8s.io/gateway-name";

// The waypoint a Service, Pod or Namespace names with its labels (weft.dev/use-waypoint over
// istio.io/use-waypoint, namespace from istio.io/use-waypoint-namespace), else (for a Service or
// Pod) its Namespace's. `name` is empty when there is none: no label, or "none".
struct WaypointBinding {
  std::string name;
  std::string ns;
  const Resource* labelled = nullptr;  // the object whose label named it (itself or its Namespace)
  std::string field;                   // "metadata.labels.<label>" on `labelled`
};
WaypointBinding WaypointBindingOf(const ResourceIndex& index, const Resource& r);

// How a binding resolves against the Gateways.
enum class WaypointState {
  kNone,         // no binding
  kBound,        // a waypoint Gateway that admits the binding
  kMissing,      // no Gateway of that name
  kNotWaypoint,  // a Gateway of another class
  kDenied,       // the waypoint's mesh listener does not admit the object's namespace
};
struct ResolvedWaypoint {
  WaypointBinding binding;
  WaypointState state = WaypointState::kNone;
  const Resource* gateway = nullptr;
};
ResolvedWaypoint ResolveWaypoint(const ResourceIndex& index, const Resource& r);
// ResolveWaypoint for a Kubernetes Service, except that a Service in front of a waypoint's own
// pods (Istio's label gateway.istio.io/managed: istio.io-mesh-controller, or a selector on
// gateway.networking.k8s.io/gateway-name) has none: its traffic would loop.
ResolvedWaypoint ServiceWaypoint(const ResourceIndex& index, const Resource& svc);

// Sets `name`/`ns` from a resolved binding (cleared when denied) and reports a problem with a
// binding that `r`'s own labels made (bindings inherited from the Namespace are reported there).
void ApplyWaypoint(const Resource& r, const ResolvedWaypoint& wp, std::string* name,
                   std::string* ns, PassReport& report);

// The waypoint Gateway a Pod belongs to (label gateway.networking.k8s.io/gateway-name naming a
// waypoint Gateway of its namespace); nullptr otherwise.
const Resource* WaypointOfPod(const ResourceIndex& index, const Resource& pod);

std::vector<pb::Waypoint> CompileWaypoints(const ResourceIndex& index, PassReport& report);

// ---- routes.cc ----
std::vector<pb::RouteTable> CompileRouteTables(const ResourceIndex& index,
                                               const DestinationRules& rules, PassReport& report);

// ---- clusters.cc ----
// The load balancer in force for (subset, port) of a DestinationRule, with the clusters pass's
// precedence; nullopt when none is set (the default, LEAST_REQUEST). `port` 0: the level's.
std::optional<pb::LoadBalancer> EffectiveLoadBalancer(const DestinationRuleSpec& dr,
                                                      const std::string& subset, uint32_t port);
// The same for connectionPool.
std::optional<pb::ConnectionPool> EffectiveConnectionPool(const DestinationRuleSpec& dr,
                                                          const std::string& subset, uint32_t port);
// Whether an outlierDetection is in force for (subset, port) (which makes picks
// locality-aware, as Istio's).
bool HasOutlierDetection(const DestinationRuleSpec& dr, const std::string& subset, uint32_t port);
std::vector<pb::ClusterPolicy> CompileClusterPolicies(const ResourceIndex& index,
                                                      const DestinationRules& rules,
                                                      PassReport& report);

}  // namespace weft::policy
