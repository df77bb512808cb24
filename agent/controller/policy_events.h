#pragma once

// PolicyEvents: where users look when weft refuses their YAML. In the CA's pod (one writer for
// the cluster, where N agents would raise N copies), the same KubeSource and ConfigStore as an
// agent's decode every object weft reads; an object with errors — the API server's schema
// accepted it, weft's rules did not, so it is left out and its last good version stays in
// force — gets a Warning Event `Rejected` on itself (`kubectl describe`, `kubectl get events`)
// whose message lists the errors with their fields. One Event per distinct rejection: the
// same errors again (a relist, a resync) raise nothing new; fixed and broken again, a new one.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/source/config_store.h"
#include "core/kube/client.h"

namespace weft::agent {

class KubeSource;

struct PolicyEventsStats {
  uint64_t events = 0;  // Events created
  uint64_t errors = 0;  // failed writes
  std::string last_error;
};

class PolicyEvents {
 public:
  // `reporter`: reportingInstance of the Events (the CA pod's name).
  static absl::StatusOr<std::unique_ptr<PolicyEvents>> Start(std::shared_ptr<kube::Client> client,
                                                             std::string reporter);
  ~PolicyEvents();

  PolicyEventsStats stats() const;

  // The Event for a rejected object (exposed for tests). `object` has apiVersion, kind and
  // metadata (name, namespace, uid).
  static nlohmann::json EventFor(const nlohmann::json& object, const std::string& message,
                                 const std::string& reporter);

 private:
  PolicyEvents(std::shared_ptr<kube::Client> client, std::string reporter);
  void Run();
  void Report(const FileResult& r);

  std::shared_ptr<kube::Client> client_;
  std::string reporter_;
  std::unique_ptr<KubeSource> source_;
  ConfigStore store_;
  std::map<std::string, std::string> reported_;  // entry -> message of its last Event
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  PolicyEventsStats stats_;
  std::thread thread_;
};

}  // namespace weft::agent
