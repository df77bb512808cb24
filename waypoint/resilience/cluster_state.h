#pragma once

// ClusterStateRegistry: the resilience state that must outlive one configuration. A view
// (waypoint/config/view.h) is rebuilt on every snapshot and with it its Clusters; the circuit
// breaker counts, outlier ejections and retry budgets of a cluster or service live here,
// found by name, so that a configuration change neither forgets an ejected endpoint nor
// resets a connection count that live connections still hold.
//
// Owned by the Waypoint; shared by its workers and views. Entries are never removed (a
// waypoint serves a bounded set of clusters; a removed cluster's entry is small and idle).

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/lb/outlier_detector.h"
#include "waypoint/resilience/circuit_breaker.h"
#include "waypoint/resilience/clock.h"
#include "waypoint/resilience/retry_budget.h"

namespace weft::waypoint::resilience {

struct ClusterState {
  // Outlier detection stays off until a Cluster applies its policy.
  explicit ClusterState(NowFn now) : outlier(lb::OutlierConfig{.enabled = false}, now) {}
  CircuitBreaker breaker;
  lb::OutlierDetector outlier;
  // Per-cluster retry counters (admin).
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> retry_success{0};
  std::atomic<uint64_t> retry_limit_exceeded{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> per_try_timeouts{0};
};

class ClusterStateRegistry {
 public:
  explicit ClusterStateRegistry(NowFn now = SteadyNow()) : now_(std::move(now)) {}

  // The state of cluster `name` ("outbound|port|subset|host"), created on first use.
  std::shared_ptr<ClusterState> Cluster(const std::string& name);
  // weft's retry budget of service `hostname`, created on first use.
  std::shared_ptr<RetryBudget> Budget(const std::string& hostname);
  // Every budget (admin).
  std::map<std::string, std::shared_ptr<RetryBudget>> Budgets() const;

  const NowFn& now() const { return now_; }

 private:
  NowFn now_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<ClusterState>> clusters_;
  std::map<std::string, std::shared_ptr<RetryBudget>> budgets_;
};

}  // namespace weft::waypoint::resilience
