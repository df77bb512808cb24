#include "waypoint/resilience/cluster_state.h"

namespace weft::waypoint::resilience {

std::shared_ptr<ClusterState> ClusterStateRegistry::Cluster(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = clusters_[name];
  if (!s) s = std::make_shared<ClusterState>(now_);
  return s;
}

std::shared_ptr<RetryBudget> ClusterStateRegistry::Budget(const std::string& hostname) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& b = budgets_[hostname];
  if (!b) b = std::make_shared<RetryBudget>(now_);
  return b;
}

std::map<std::string, std::shared_ptr<RetryBudget>> ClusterStateRegistry::Budgets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return budgets_;
}

}  // namespace weft::waypoint::resilience
