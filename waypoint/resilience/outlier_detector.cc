#include "waypoint/resilience/outlier_detector.h"

#include <algorithm>

namespace weft::waypoint::resilience {

OutlierConfig OutlierConfig::From(const pb::ClusterPolicy* policy) {
  OutlierConfig c;
  if (!policy || !policy->has_outlier_detection()) return c;
  const pb::OutlierDetection& od = policy->outlier_detection();
  c.enabled = true;
  if (od.has_consecutive_5xx_errors()) c.consecutive_5xx = od.consecutive_5xx_errors();
  c.consecutive_gateway = od.consecutive_gateway_errors();
  if (od.consecutive_local_origin_failures())
    c.consecutive_local_origin = od.consecutive_local_origin_failures();
  c.split_local_origin = od.split_external_local_origin_errors();
  if (od.interval_ms()) c.interval = Millis(od.interval_ms());
  if (od.base_ejection_time_ms()) c.base_ejection = Millis(od.base_ejection_time_ms());
  // Envoy caps the ejection time at max(300 s, base).
  c.max_ejection = std::max(c.max_ejection, c.base_ejection);
  if (od.has_max_ejection_percent()) c.max_ejection_percent = od.max_ejection_percent();
  c.min_health_percent = od.min_health_percent();
  return c;
}

void OutlierDetector::Configure(const OutlierConfig& config, size_t endpoints) {
  std::lock_guard<std::mutex> lock(mu_);
  config_ = config;
  endpoints_ = endpoints;
  if (!config_.enabled) {
    states_.clear();
    returned_at_.clear();
    ejected_count_.store(0, std::memory_order_relaxed);
  }
}

bool OutlierDetector::enabled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_.enabled;
}

void OutlierDetector::ReturnDueLocked(TimePoint now) {
  if (ejected_count_.load(std::memory_order_relaxed) == 0) return;
  for (auto& [key, s] : states_) {
    if (s.ejected && now >= s.ejected_until) {
      s.ejected = false;
      s.consecutive_5xx = s.consecutive_gateway = s.consecutive_local = 0;
      returned_at_[key] = now;
      ejected_count_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

bool OutlierDetector::MaybeEjectLocked(EndpointOutlierState& s, TimePoint now) {
  if (s.ejected) return false;
  size_t ejected = ejected_count_.load(std::memory_order_relaxed);
  size_t total = std::max<size_t>(endpoints_, 1);
  if (100.0 * static_cast<double>(ejected) / static_cast<double>(total) >=
      config_.max_ejection_percent) {
    return false;
  }
  // The multiplier went down by one for every interval the endpoint stayed in.
  if (auto it = returned_at_.find(s.key); it != returned_at_.end() && s.multiplier > 0) {
    auto stayed = now - it->second;
    auto intervals = config_.interval.count() > 0 ? stayed / config_.interval : 0;
    s.multiplier = intervals >= s.multiplier ? 0 : s.multiplier - static_cast<uint32_t>(intervals);
  }
  ++s.multiplier;
  ++s.ejections;
  ++ejections_total_;
  s.ejected = true;
  auto duration = std::min<Millis>(config_.base_ejection * s.multiplier, config_.max_ejection);
  s.ejected_until = now + duration;
  ejected_count_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool OutlierDetector::Report(const std::string& key, EndpointResult result, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!config_.enabled) return false;
  TimePoint now = now_();
  ReturnDueLocked(now);
  auto [it, inserted] = states_.try_emplace(key);
  EndpointOutlierState& s = it->second;
  if (inserted) s.key = key;
  if (s.ejected) return false;  // results of requests that started before the ejection
  bool count_5xx = false, count_gateway = false;
  switch (result) {
    case EndpointResult::kSuccess:
      s.consecutive_5xx = s.consecutive_gateway = 0;
      if (!config_.split_local_origin) s.consecutive_local = 0;
      return false;
    case EndpointResult::kLocalOriginSuccess:
      if (config_.split_local_origin) s.consecutive_local = 0;
      return false;
    case EndpointResult::k5xx:
      count_5xx = true;
      count_gateway = status == 502 || status == 503 || status == 504;
      break;
    case EndpointResult::kLocalOriginFailure:
      if (config_.split_local_origin) {
        ++s.consecutive_local;
        if (config_.consecutive_local_origin &&
            s.consecutive_local >= config_.consecutive_local_origin)
          return MaybeEjectLocked(s, now);
        return false;
      }
      // Not split: a local-origin failure is a gateway error (Envoy maps it to 503).
      count_5xx = count_gateway = true;
      break;
  }
  if (count_5xx) ++s.consecutive_5xx;
  if (count_gateway) {
    ++s.consecutive_gateway;
  } else {
    s.consecutive_gateway = 0;
  }
  bool eject =
      (config_.consecutive_5xx && s.consecutive_5xx >= config_.consecutive_5xx) ||
      (config_.consecutive_gateway && s.consecutive_gateway >= config_.consecutive_gateway);
  if (!eject) return false;
  bool ejected = MaybeEjectLocked(s, now);
  if (ejected) s.consecutive_5xx = s.consecutive_gateway = s.consecutive_local = 0;
  return ejected;
}

std::vector<std::string> OutlierDetector::Ejected() {
  std::vector<std::string> out;
  if (none_ejected()) return out;
  std::lock_guard<std::mutex> lock(mu_);
  ReturnDueLocked(now_());
  size_t ejected = ejected_count_.load(std::memory_order_relaxed);
  size_t total = std::max<size_t>(endpoints_, 1);
  // Panic: too few endpoints left in; ignore ejections.
  if (config_.min_health_percent > 0 &&
      100.0 * static_cast<double>(total - std::min(ejected, total)) / static_cast<double>(total) <
          config_.min_health_percent) {
    return out;
  }
  for (const auto& [key, s] : states_) {
    if (s.ejected) out.push_back(key);
  }
  return out;
}

bool OutlierDetector::IsEjected(const std::string& key) {
  if (none_ejected()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  ReturnDueLocked(now_());
  auto it = states_.find(key);
  return it != states_.end() && it->second.ejected;
}

uint64_t OutlierDetector::ejections_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ejections_total_;
}

size_t OutlierDetector::ejected_now() {
  std::lock_guard<std::mutex> lock(mu_);
  ReturnDueLocked(now_());
  return ejected_count_.load(std::memory_order_relaxed);
}

std::vector<EndpointOutlierState> OutlierDetector::States() {
  std::lock_guard<std::mutex> lock(mu_);
  ReturnDueLocked(now_());
  std::vector<EndpointOutlierState> out;
  for (const auto& [key, s] : states_) out.push_back(s);
  return out;
}

}  // namespace weft::waypoint::resilience
