#pragma once

// ResourceIndex: the compiler's view of its inputs, keyed and cross-indexed for the lookups
// the compile passes make (service by hostname, pods by label, slices by service, ...).

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/policy/model/resources.h"

namespace weft::policy {

struct CompileOptions {
  std::string trust_domain = "cluster.local";
  std::string cluster_domain = "cluster.local";
  std::string root_namespace = "istio-system";
  // Services and workloads are compiled on this many threads (1 = the calling thread only).
  // The snapshot does not depend on it.
  int threads = 1;
};

// Identifies an input resource: kind + "<namespace>/<name>".
struct ResourceKey {
  Kind kind;
  std::string key;
  auto operator<=>(const ResourceKey&) const = default;
};

ResourceKey KeyFor(const Resource& r);

class ResourceIndex {
 public:
  explicit ResourceIndex(const CompileOptions& options) : options_(options) {}

  // Adds or replaces; returns the previous resource with the same key, if any (moved out).
  std::optional<Resource> Upsert(Resource r);
  std::optional<Resource> Remove(const ResourceKey& key);

  const Resource* Get(Kind kind, const std::string& key) const;
  const std::unordered_map<std::string, Resource>& All(Kind kind) const {
    return by_kind_[static_cast<size_t>(kind)];
  }

  // Kubernetes Services by namespace (keys "<ns>/<name>").
  const std::set<std::string>& ServicesIn(const std::string& ns) const;
  // Pods in `ns` whose labels contain every pair of `selector`.
  std::vector<const Resource*> PodsMatching(const std::string& ns, const Labels& selector) const;
  // EndpointSlices of a Service ("<ns>/<service>").
  std::vector<const Resource*> SlicesOf(const std::string& service_key) const;
  // Services whose slices name this pod ("<ns>/<pod>").
  std::set<std::string> ServicesReferencingPod(const std::string& pod_key) const;
  // ServiceEntries declaring `hostname`.
  std::vector<const Resource*> ServiceEntriesFor(const std::string& hostname) const;

  // "<name>" -> "<name>.<ns>.svc.<domain>"; names with a dot are taken as written (Istio).
  std::string ResolveHost(const std::string& host, const std::string& ns) const;
  std::string ServiceHostname(const std::string& name, const std::string& ns) const {
    return name + "." + ns + ".svc." + options_.cluster_domain;
  }
  // For a "<name>.<ns>.svc.<domain>" hostname: "<ns>/<name>"; empty otherwise.
  std::string ServiceKeyForHostname(const std::string& hostname) const;
  // True when a Service or ServiceEntry provides `hostname`.
  bool HostExists(const std::string& hostname) const;

  const CompileOptions& options() const { return options_; }

 private:
  void IndexAdd(const Resource& r);
  void IndexRemove(const Resource& r);

  CompileOptions options_;
  std::array<std::unordered_map<std::string, Resource>, 12> by_kind_;
  std::unordered_map<std::string, std::set<std::string>> services_by_ns_;
  // "<ns>\n<key>\n<value>" -> pod keys
  std::unordered_map<std::string, std::set<std::string>> pods_by_label_;
  std::unordered_map<std::string, std::set<std::string>> pods_by_ns_;
  std::unordered_map<std::string, std::set<std::string>> slices_by_service_;
  std::unordered_map<std::string, std::map<std::string, int>> services_by_pod_;
  std::unordered_map<std::string, std::set<std::string>> entries_by_host_;
};

}  // namespace weft::policy
