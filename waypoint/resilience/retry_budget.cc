#include "waypoint/resilience/retry_budget.h"

#include <algorithm>

namespace weft::waypoint::resilience {

void RetryBudget::Configure(const pb::RetryBudget& c) {
  std::lock_guard<std::mutex> lock(mu_);
  bool was = enabled_;
  enabled_ = c.ratio() > 0 || c.min_retries_per_second() > 0;
  ratio_ = c.ratio();
  min_per_second_ = c.min_retries_per_second();
  Millis ttl = c.ttl_ms() ? Millis(c.ttl_ms()) : Millis(10'000);
  if (ttl != ttl_ || !was) buckets_ = {};
  ttl_ = ttl;
}

bool RetryBudget::enabled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return enabled_;
}

RetryBudget::Bucket& RetryBudget::CurrentLocked(TimePoint now) {
  auto width = std::max<int64_t>(1, ttl_.count() / static_cast<int64_t>(kBuckets));
  int64_t index = std::chrono::duration_cast<Millis>(now.time_since_epoch()).count() / width;
  Bucket& b = buckets_[static_cast<size_t>(index) % kBuckets];
  if (b.index != index) b = Bucket{index, 0, 0};
  return b;
}

double RetryBudget::AvailableLocked(TimePoint now) {
  Bucket& cur = CurrentLocked(now);
  uint64_t requests = 0, retries = 0;
  for (const Bucket& b : buckets_) {
    if (b.index < 0 || b.index + static_cast<int64_t>(kBuckets) <= cur.index) continue;
    requests += b.requests;
    retries += b.retries;
  }
  double seconds = static_cast<double>(ttl_.count()) / 1000.0;
  return ratio_ * static_cast<double>(requests) + min_per_second_ * seconds -
         static_cast<double>(retries);
}

void RetryBudget::OnRequest() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_) return;
  ++CurrentLocked(now_()).requests;
}

bool RetryBudget::TryRetry() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_) return true;
  TimePoint now = now_();
  if (AvailableLocked(now) < 1.0) {
    ++exceeded_;
    return false;
  }
  ++CurrentLocked(now).retries;
  return true;
}

uint64_t RetryBudget::exceeded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exceeded_;
}

double RetryBudget::Available() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_) return 0;
  return AvailableLocked(now_());
}

}  // namespace weft::waypoint::resilience
