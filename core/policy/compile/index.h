#pragma once

// ResourceIndex: the compiler's view of its inputs, keyed and cross-indexed for the lookups
// the compile passes make (service by hostname, pods by label, slices by service, ...).

#include <map>
#include <set>
#include <string>
#include <string_view>
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
  // Each resource checked on its own (weftctl validate): what it names of other resources
  // (destination hosts, subsets, parent Services) is taken to exist, so that only the
  // resource's own mistakes are reported.
  bool standalone = false;
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
  // Makes room for `n` resources of `kind` (a bulk load then does not rehash as it grows).
  void Reserve(Kind kind, size_t n) { by_kind_[static_cast<size_t>(kind)].reserve(n); }
  // Sorts what Upsert/Remove left unsorted. Queries are correct without it, just slower;
  // the Compiler calls it before compiling, when the index stops changing.
  void Seal();

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
  void IndexAdd(const Resource& r, const std::string& key);
  void IndexRemove(const Resource& r, const std::string& key);

  // Pods with one label pair (or in one namespace), as views of their keys in by_kind_
  // (stable while the pod is indexed). Appended unsorted; Seal() sorts by key.
  struct PodEntry {
    std::string_view key;
    const Resource* pod;
    bool operator<(const PodEntry& o) const { return key < o.key; }
  };
  struct PodList {
    std::vector<PodEntry> pods;
    bool sorted = true;
  };
  void PodListAdd(const std::string& list, PodEntry pod, bool by_ns);
  void PodListRemove(const std::string& list, std::string_view pod, bool by_ns);

  CompileOptions options_;
  std::array<std::unordered_map<std::string, Resource>, kKindCount> by_kind_;
  std::unordered_map<std::string, std::set<std::string>> services_by_ns_;
  // "<ns>\n<key>\n<value>" -> pods
  std::unordered_map<std::string, PodList> pods_by_label_;
  std::unordered_map<std::string, PodList> pods_by_ns_;
  bool pod_lists_sorted_ = true;
  std::string scratch_;  // label keys are built here, not in a new string each
  std::unordered_map<std::string, std::set<std::string>> slices_by_service_;
  // "<ns>/<pod>" -> (service key, number of endpoints naming the pod). The service key is the
  // one stored in slices_by_service_, which outlives these counts.
  std::unordered_map<std::string, std::vector<std::pair<const std::string*, int>>> services_by_pod_;
  std::unordered_map<std::string, std::set<std::string>> entries_by_host_;
};

}  // namespace weft::policy
