#pragma once

// The CA's view of Kubernetes (`weft-agent ca --kubernetes`, docs/kubernetes.md "The CA in
// Kubernetes"):
//
//  - TokenReviewer: who is asking. A ServiceAccount token from /v1/sign's `authorization:
//    Bearer` is checked with the API's TokenReview (audience `weft-ca`). The agents' account
//    (weft-system/weft-agent) maps to the node the token's pod runs on (the token's
//    authentication.kubernetes.io/node-name, or its pod's spec.nodeName); any other account
//    maps to its own workload identity (a waypoint asks for its own certificate, as istiod
//    allows).
//  - PodPlacement: may that node have it. A pod informer indexed by (node, namespace,
//    service account) over pods that are not finished; a miss is checked once more against
//    the API directly (a pod the agent saw before the CA's watch did).
//
// Both are blocking and thread-safe: CaServer calls them on its token workers.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>

#include "absl/status/statusor.h"
#include "core/identity/spiffe_id.h"
#include "core/kube/client.h"
#include "core/kube/reflector.h"

namespace weft::agent {

struct TokenReviewOptions {
  std::string audience = "weft-ca";  // the agents' projected tokens carry it
  std::string trust_domain = "cluster.local";
  // ServiceAccounts ("ns/name") whose tokens speak for their pod's node.
  std::set<std::string> node_agents = {"weft-system/weft-agent"};
};

class TokenReviewer {
 public:
  TokenReviewer(std::shared_ptr<kube::Client> client, TokenReviewOptions options)
      : client_(std::move(client)), options_(std::move(options)) {}

  // The requester for `token`. Unauthenticated: the API server does not accept the token (or
  // not for the audience); PermissionDenied: a token of something that is not a
  // ServiceAccount, or an agent's token not bound to a pod on a node; Unavailable: the API
  // could not be asked.
  absl::StatusOr<identity::SpiffeId> Authenticate(const std::string& token) const;

  // Reads a pod (namespace, name); NotFound when there is none.
  using PodGetter =
      std::function<absl::StatusOr<nlohmann::json>(const std::string&, const std::string&)>;

  // The requester for a TokenReview's `status` (exposed for tests and tests/fuzz). An agent's
  // token that names only its pod is placed by reading the pod with `get_pod` (empty: a GET
  // from the API).
  absl::StatusOr<identity::SpiffeId> RequesterOf(const nlohmann::json& status,
                                                 const PodGetter& get_pod = nullptr) const;

 private:
  std::shared_ptr<kube::Client> client_;
  TokenReviewOptions options_;
};

class PodPlacement {
 public:
  // Starts the pod informer (cluster-wide).
  explicit PodPlacement(std::shared_ptr<kube::Client> client);
  ~PodPlacement();

  // True when a pod of `ns` with service account `sa` that has not finished is bound to
  // `node`: from the informer, else from the API.
  bool HasPod(std::string_view node, std::string_view ns, std::string_view sa);

  bool synced() const;
  kube::ReflectorStatus status() const { return reflector_.status(); }
  uint64_t api_lookups() const { return api_lookups_; }

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // node, ns, sa
  void Run();
  void Apply(kube::Delta& d);
  bool AskApi(std::string_view node, std::string_view ns, std::string_view sa);

  std::shared_ptr<kube::Client> client_;
  kube::EventQueue queue_;
  kube::Reflector reflector_;
  mutable std::mutex mu_;
  std::map<std::string, Key> pods_;  // "ns/name" -> where it runs (unfinished pods only)
  std::map<Key, int> placed_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> api_lookups_{0};
  std::thread thread_;
};

}  // namespace weft::agent
