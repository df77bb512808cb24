#pragma once

// KubeSource: the agent's input in Kubernetes mode. One Reflector (core/kube/reflector.h) per
// kind the policy compiler reads — Namespaces, Pods, Services, EndpointSlices, Nodes,
// ServiceAccounts, Istio's VirtualService, DestinationRule, ServiceEntry, PeerAuthentication,
// AuthorizationPolicy, Gateway API's Gateway and HTTPRoute — feeding the same ConfigStore as
// local mode's DirectoryWatcher. Each object is one entry of the store, named
// "k8s:<Kind>/<namespace>/<name>", so the store's rules hold unchanged: a watch event is an
// incremental Apply of that object; an object the decoder rejects keeps its last good version
// in force and is reported (the API server validated its schema, not weft's rules); a
// relist (after 410 Gone) replaces a kind's entries, removing only what is gone.
//
// Not thread-safe: the agent's control loop owns it and calls Drain() when fd() is readable.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/source/config_store.h"
#include "core/kube/reflector.h"
#include "nlohmann/json.hpp"

namespace weft::agent {

// The kinds weft reads, at the versions it asks the API server for.
const std::vector<kube::ResourceType>& WatchedKinds();

// The store entry of an object: "k8s:<Kind>/<namespace>/<name>" (no namespace: "k8s:Kind/name").
std::string EntryName(const nlohmann::json& object);

class KubeSource {
 public:
  static absl::StatusOr<std::unique_ptr<KubeSource>> Create(std::shared_ptr<kube::Client> client,
                                                            kube::ReflectorOptions options = {});
  ~KubeSource();

  int fd() const { return queue_.fd(); }
  // Applies pending deltas to `store`; returns the results of the entries that changed (for
  // logs and metrics). Never blocks.
  std::vector<FileResult> Drain(ConfigStore& store);
  // Every kind has been listed once (or is not served).
  bool synced() const;
  // Per kind: synced, served, connected, resourceVersion, counters, last error.
  nlohmann::json Status() const;
  // False while any reflector's last request failed (an API server outage).
  bool connected() const;

 private:
  KubeSource() = default;
  FileResult Upsert(ConfigStore& store, const nlohmann::json& object);

  kube::EventQueue queue_;
  std::vector<std::unique_ptr<kube::Reflector>> reflectors_;
  // Entries per kind, for Replace.
  std::map<std::string, std::set<std::string>> entries_;
};

}  // namespace weft::agent
