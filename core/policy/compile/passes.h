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

// ---- routes.cc ----
std::vector<pb::RouteTable> CompileRouteTables(const ResourceIndex& index,
                                               const DestinationRules& rules, PassReport& report);

// ---- clusters.cc ----
std::vector<pb::ClusterPolicy> CompileClusterPolicies(const ResourceIndex& index,
                                                      const DestinationRules& rules,
                                                      PassReport& report);

}  // namespace weft::policy
