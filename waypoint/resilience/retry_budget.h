#pragma once

// RetryBudget: weft's optional cap on retries to one service, as Linkerd's (Istio has no
// equivalent; off unless the annotation weft.dev/retry-budget sets it, docs/waypoint.md
// "Retry budget"). Over a sliding window of `ttl` (10 buckets), a retry is allowed while
//
//     retries < ratio × requests + min_retries_per_second × ttl
//
// so that during an outage retries add at most `ratio` to the load. A retry over budget is
// not made (the failed attempt's answer goes to the client) and is counted.
//
// Thread-safe (one mutex per service; the waypoint's workers share it).

#include <array>
#include <cstdint>
#include <mutex>

#include "waypoint/resilience/clock.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::waypoint::resilience {

namespace pb = ::weft::config::v1;

class RetryBudget {
 public:
  explicit RetryBudget(NowFn now = SteadyNow()) : now_(std::move(now)) {}

  void Configure(const pb::RetryBudget& config);
  bool enabled() const;
  // Every request to the service (first attempts) deposits.
  void OnRequest();
  // A retry withdraws; false: over budget (counted).
  bool TryRetry();

  uint64_t exceeded() const;
  // Retries the window allows now (for admin), and what it holds.
  double Available();

 private:
  static constexpr size_t kBuckets = 10;
  struct Bucket {
    int64_t index = -1;  // the bucket's slot number since the epoch; -1 = empty
    uint64_t requests = 0, retries = 0;
  };
  Bucket& CurrentLocked(TimePoint now);
  double AvailableLocked(TimePoint now);

  NowFn now_;
  mutable std::mutex mu_;
  bool enabled_ = false;
  double ratio_ = 0.2;
  double min_per_second_ = 10;
  Millis ttl_{10'000};
  std::array<Bucket, kBuckets> buckets_{};
  uint64_t exceeded_ = 0;
};

}  // namespace weft::waypoint::resilience
