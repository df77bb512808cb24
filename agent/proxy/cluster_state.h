#pragma once

// What the node proxy keeps per cluster ("outbound|<port>|<subset>|<hostname>") across
// snapshots: the upstream connections counted against DestinationRule
// connectionPool.tcp.maxConnections, and the connect-failure outlier detector
// (docs/datapath.md, "Connection limits and ejection"). A NodeView is rebuilt per snapshot;
// this state is not, so a policy or endpoint change neither resets the counts nor returns
// an ejected endpoint early. Shared by all workers: atomics and the detector's lock.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/lb/outlier_detector.h"

namespace weft::agent::proxy {

// One cluster as the admin shows it (ProxyStats::clusters).
struct ClusterStats {
  std::string name;
  int64_t active_connections = 0;  // counted against max_connections (open or connecting)
  uint32_t max_connections = 0;    // the limit last applied; 0 = none
  uint64_t upstream_cx_overflow = 0;
  uint64_t ejections_total = 0;
  uint64_t ejections_overflow = 0;                  // ejections max_ejection_percent prevented
  std::vector<lb::OutlierEndpointState> endpoints;  // with failures, a multiplier or ejected
};

class ClusterState {
 public:
  ClusterState(std::string name, lb::OutlierDetector::Clock clock)
      : name_(std::move(name)), outlier_({}, std::move(clock)) {}

  const std::string& name() const { return name_; }

  // Counts one upstream connection, unless `max` (> 0) are counted already: then counts an
  // overflow and returns false. Each true is paired with one Release().
  bool TryAcquire(uint32_t max);
  void Release() { active_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t active() const { return active_.load(std::memory_order_relaxed); }
  uint64_t overflow() const { return overflow_.load(std::memory_order_relaxed); }
  // True at most once a second: whether an overflow should be logged.
  bool ShouldLogOverflow();

  lb::OutlierDetector& outlier() { return outlier_; }
  ClusterStats Stats();

 private:
  std::string name_;
  std::atomic<int64_t> active_{0};
  std::atomic<uint32_t> max_{0};
  std::atomic<uint64_t> overflow_{0};
  std::atomic<int64_t> last_overflow_log_ms_{-1'000'000};
  lb::OutlierDetector outlier_;
};

class ClusterRegistry {
 public:
  explicit ClusterRegistry(lb::OutlierDetector::Clock clock = nullptr) : clock_(std::move(clock)) {}

  // The cluster's state, made on first use.
  std::shared_ptr<ClusterState> Get(const std::string& name);
  // Forgets the clusters `keep` rejects (their Service left the snapshot) once no
  // connection uses them.
  void Prune(const std::function<bool(const std::string& name)>& keep);
  std::vector<ClusterStats> Stats();

 private:
  lb::OutlierDetector::Clock clock_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<ClusterState>> clusters_;
};

}  // namespace weft::agent::proxy
