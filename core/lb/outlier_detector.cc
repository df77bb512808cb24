#include "core/lb/outlier_detector.h"

#include <algorithm>

namespace weft::lb {
namespace {

bool IsSuccess(OutlierResult r) {
  return r == OutlierResult::kSuccess || r == OutlierResult::kLocalOriginSuccess ||
         r == OutlierResult::kLocalOriginSuccessFinal;
}

}  // namespace

uint32_t OutlierConfig::LocalOriginThreshold() const {
  if (split_local_origin) return consecutive_local_origin;
  // Counted as a 5xx and a gateway error: whichever threshold is lower (and on).
  if (consecutive_5xx == 0) return consecutive_gateway;
  if (consecutive_gateway == 0) return consecutive_5xx;
  return std::min(consecutive_5xx, consecutive_gateway);
}

uint32_t OutlierEndpointState::consecutive_failures() const {
  return std::max({consecutive_5xx, consecutive_gateway, consecutive_local_origin});
}

OutlierDetector::OutlierDetector(OutlierConfig config, Clock clock)
    : clock_(std::move(clock)), config_(config) {}

void OutlierDetector::SetConfig(const OutlierConfig& config) {
  std::lock_guard<std::mutex> l(mu_);
  config_ = config;
  if (!config_.enabled && !hosts_.empty()) {
    hosts_.clear();
    ejected_.store(0, std::memory_order_relaxed);
    tracked_.store(0, std::memory_order_relaxed);
  }
}

OutlierConfig OutlierDetector::config() const {
  std::lock_guard<std::mutex> l(mu_);
  return config_;
}

void OutlierDetector::Refresh(Host& h, TimePoint now) {
  if (h.ejected && now >= h.until) {
    h.ejected = false;
    h.c5xx = h.gateway = h.local = 0;
    h.last_decay = h.until;  // when it returned, even if noticed later
    ejected_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (!h.ejected && h.multiplier > 0 && config_.interval.count() > 0) {
    auto n = static_cast<uint64_t>((now - h.last_decay) / config_.interval);
    if (n > 0) {
      h.multiplier -= static_cast<uint32_t>(std::min<uint64_t>(n, h.multiplier));
      h.last_decay += n * config_.interval;
    }
  }
}

bool OutlierDetector::Count(Host& h, OutlierResult result, int status) const {
  const OutlierConfig& c = config_;
  switch (result) {
    case OutlierResult::kSuccess:
      h.c5xx = h.gateway = 0;
      if (!c.split_local_origin) h.local = 0;
      return false;
    case OutlierResult::kLocalOriginSuccess:
      if (c.split_local_origin) h.local = 0;
      return false;
    case OutlierResult::kLocalOriginSuccessFinal:
      h.c5xx = h.gateway = h.local = 0;
      return false;
    case OutlierResult::k5xx:
      ++h.c5xx;
      if (status == 502 || status == 503 || status == 504) {
        ++h.gateway;
      } else {
        h.gateway = 0;
      }
      break;
    case OutlierResult::kLocalOriginFailure:
      if (c.split_local_origin) {
        ++h.local;
      } else {
        ++h.c5xx;
        ++h.gateway;
      }
      break;
  }
  return (c.consecutive_5xx && h.c5xx >= c.consecutive_5xx) ||
         (c.consecutive_gateway && h.gateway >= c.consecutive_gateway) ||
         (c.split_local_origin && c.consecutive_local_origin &&
          h.local >= c.consecutive_local_origin);
}

size_t OutlierDetector::EjectedAmong(const std::vector<Target>& targets, TimePoint now) {
  if (none_ejected()) return 0;
  size_t n = 0;
  for (const auto& t : targets) {
    auto it = hosts_.find(Key(t));
    if (it == hosts_.end()) continue;
    Refresh(it->second, now);
    n += it->second.ejected;
  }
  return n;
}

bool OutlierDetector::Report(const std::vector<Target>& targets, size_t index, OutlierResult result,
                             int status) {
  if (index >= targets.size()) return false;
  // A success on an endpoint with nothing to reset is the common case: no lock.
  if (IsSuccess(result) && tracked_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> l(mu_);
  bool ejected = ReportLocked(targets, index, result, status);
  tracked_.store(hosts_.size(), std::memory_order_relaxed);
  return ejected;
}

bool OutlierDetector::ReportLocked(const std::vector<Target>& targets, size_t index,
                                   OutlierResult result, int status) {
  if (!config_.enabled) return false;
  TimePoint now = Now();
  std::string key = Key(targets[index]);
  auto it = hosts_.find(key);
  if (it == hosts_.end()) {
    if (IsSuccess(result)) return false;  // nothing to reset
    it = hosts_.emplace(std::move(key), Host{}).first;
  }
  Host& h = it->second;
  Refresh(h, now);
  if (h.ejected) return false;  // an attempt that started before the ejection
  if (!Count(h, result, status)) {
    if (h.clean()) hosts_.erase(it);
    return false;
  }
  h.c5xx = h.gateway = h.local = 0;  // another run is needed to try again
  size_t total = targets.size();
  size_t ejected = EjectedAmong(targets, now);
  if (100 * ejected >= static_cast<size_t>(config_.max_ejection_percent) * total) {
    ejections_overflow_.fetch_add(1, std::memory_order_relaxed);
    if (h.clean()) hosts_.erase(it);
    return false;
  }
  h.ejected = true;
  ++h.ejections;
  ++h.multiplier;
  auto cap = std::max(config_.max_ejection_time, config_.base_ejection_time);
  auto time = config_.base_ejection_time * h.multiplier;
  if (time > cap) {
    time = cap;
    --h.multiplier;  // as Envoy: the multiplier stops growing at the cap
  }
  h.until = now + time;
  ejected_.fetch_add(1, std::memory_order_relaxed);
  ejections_total_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void OutlierDetector::AppendEjected(const std::vector<Target>& targets, std::vector<size_t>& out) {
  if (none_ejected()) return;
  std::lock_guard<std::mutex> l(mu_);
  TimePoint now = Now();
  std::vector<size_t> ejected;
  for (size_t i = 0; i < targets.size(); ++i) {
    auto it = hosts_.find(Key(targets[i]));
    if (it == hosts_.end()) continue;
    Refresh(it->second, now);
    if (it->second.ejected) ejected.push_back(i);
  }
  if (ejected.empty()) return;
  size_t healthy = targets.size() - ejected.size();
  if (100 * healthy < static_cast<size_t>(config_.min_health_percent) * targets.size()) return;
  out.insert(out.end(), ejected.begin(), ejected.end());
}

bool OutlierDetector::IsEjected(const std::string& key) {
  if (none_ejected()) return false;
  std::lock_guard<std::mutex> l(mu_);
  auto it = hosts_.find(key);
  if (it == hosts_.end()) return false;
  Refresh(it->second, Now());
  return it->second.ejected;
}

size_t OutlierDetector::ejected_now() {
  if (none_ejected()) return 0;
  std::lock_guard<std::mutex> l(mu_);
  TimePoint now = Now();
  size_t n = 0;
  for (auto& [key, h] : hosts_) {
    Refresh(h, now);
    n += h.ejected;
  }
  return n;
}

std::vector<OutlierEndpointState> OutlierDetector::States() {
  std::lock_guard<std::mutex> l(mu_);
  TimePoint now = Now();
  std::vector<OutlierEndpointState> out;
  for (auto& [key, h] : hosts_) {
    Refresh(h, now);
    if (h.clean()) continue;
    OutlierEndpointState s;
    s.endpoint = key;
    s.consecutive_5xx = h.c5xx;
    s.consecutive_gateway = h.gateway;
    s.consecutive_local_origin = h.local;
    s.multiplier = h.multiplier;
    s.ejections = h.ejections;
    s.ejected = h.ejected;
    if (h.ejected) {
      s.ejected_remaining_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(h.until - now).count();
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.endpoint < b.endpoint; });
  return out;
}

}  // namespace weft::lb
