#include "agent/proxy/cluster_state.h"

namespace weft::agent::proxy {

bool ClusterState::TryAcquire(uint32_t max) {
  max_.store(max, std::memory_order_relaxed);
  int64_t n = active_.load(std::memory_order_relaxed);
  do {
    if (max > 0 && n >= static_cast<int64_t>(max)) {
      overflow_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!active_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

bool ClusterState::ShouldLogOverflow() {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t last = last_overflow_log_ms_.load(std::memory_order_relaxed);
  return now - last >= 1000 && last_overflow_log_ms_.compare_exchange_strong(last, now);
}

ClusterStats ClusterState::Stats() {
  ClusterStats s;
  s.name = name_;
  s.active_connections = active();
  s.max_connections = max_.load(std::memory_order_relaxed);
  s.upstream_cx_overflow = overflow();
  s.ejections_total = outlier_.ejections_total();
  s.ejections_overflow = outlier_.ejections_overflow();
  // Those with a count of connect failures, a multiplier or an ejection now.
  for (auto& e : outlier_.States()) {
    if (e.consecutive_failures() || e.multiplier || e.ejected) s.endpoints.push_back(std::move(e));
  }
  return s;
}

std::shared_ptr<ClusterState> ClusterRegistry::Get(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto& c = clusters_[name];
  if (!c) c = std::make_shared<ClusterState>(name, clock_);
  return c;
}

void ClusterRegistry::Prune(const std::function<bool(const std::string&)>& keep) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = clusters_.begin(); it != clusters_.end();) {
    const auto& c = it->second;
    bool idle = c.use_count() == 1 && c->active() == 0;
    if (idle && !keep(it->first)) {
      it = clusters_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<ClusterStats> ClusterRegistry::Stats() {
  std::vector<std::shared_ptr<ClusterState>> all;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [name, c] : clusters_) all.push_back(c);
  }
  std::vector<ClusterStats> out;
  for (auto& c : all) out.push_back(c->Stats());
  return out;
}

}  // namespace weft::agent::proxy
