#include "core/lb/outlier_detector.h"

#include <algorithm>

namespace weft::lb {

OutlierDetector::OutlierDetector(OutlierConfig config, Clock clock)
    : clock_(std::move(clock)), config_(config) {}

void OutlierDetector::SetConfig(const OutlierConfig& config) {
  std::lock_guard<std::mutex> l(mu_);
  config_ = config;
}

OutlierConfig OutlierDetector::config() const {
  std::lock_guard<std::mutex> l(mu_);
  return config_;
}

void OutlierDetector::Refresh(Host& h, TimePoint now) {
  if (h.ejected && now >= h.until) {
    h.ejected = false;
    h.failures = 0;
    h.last_decay = h.until;  // when it returned, even if noticed later
    ejected_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (!h.ejected && h.ejections > 0 && config_.interval.count() > 0) {
    auto n = static_cast<uint64_t>((now - h.last_decay) / config_.interval);
    if (n > 0) {
      h.ejections -= static_cast<uint32_t>(std::min<uint64_t>(n, h.ejections));
      h.last_decay += n * config_.interval;
    }
  }
}

size_t OutlierDetector::EjectedAmong(const std::vector<Target>& targets, TimePoint now) {
  if (ejected_.load(std::memory_order_relaxed) == 0) return 0;
  size_t n = 0;
  for (const auto& t : targets) {
    auto it = hosts_.find(Key(t));
    if (it == hosts_.end()) continue;
    Refresh(it->second, now);
    n += it->second.ejected;
  }
  return n;
}

bool OutlierDetector::Failure(const std::vector<Target>& targets, size_t index) {
  if (index >= targets.size()) return false;
  std::lock_guard<std::mutex> l(mu_);
  TimePoint now = Now();
  Host& h = hosts_[Key(targets[index])];
  Refresh(h, now);
  if (h.ejected) return false;  // an attempt that started before the ejection
  ++h.failures;
  if (config_.consecutive_failures == 0 || h.failures < config_.consecutive_failures) return false;
  h.failures = 0;  // another run of failures is needed to try again
  size_t total = targets.size();
  size_t ejected = EjectedAmong(targets, now);
  if (100 * ejected >= static_cast<size_t>(config_.max_ejection_percent) * total) {
    ejections_overflow_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  h.ejected = true;
  ++h.ejections;
  auto cap = std::max(config_.max_ejection_time, config_.base_ejection_time);
  auto time = config_.base_ejection_time * h.ejections;
  if (time > cap) {
    time = cap;
    --h.ejections;  // as Envoy: the multiplier stops growing at the cap
  }
  h.until = now + time;
  ejected_.fetch_add(1, std::memory_order_relaxed);
  ejections_total_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void OutlierDetector::Success(const std::vector<Target>& targets, size_t index) {
  if (index >= targets.size()) return;
  std::lock_guard<std::mutex> l(mu_);
  auto it = hosts_.find(Key(targets[index]));
  if (it == hosts_.end()) return;
  Host& h = it->second;
  Refresh(h, Now());
  h.failures = 0;
  if (!h.ejected && h.ejections == 0) hosts_.erase(it);
}

void OutlierDetector::AppendEjected(const std::vector<Target>& targets, std::vector<size_t>& out) {
  if (ejected_.load(std::memory_order_relaxed) == 0) return;
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

std::vector<OutlierEndpointState> OutlierDetector::States() {
  std::lock_guard<std::mutex> l(mu_);
  TimePoint now = Now();
  std::vector<OutlierEndpointState> out;
  for (auto& [key, h] : hosts_) {
    Refresh(h, now);
    if (h.failures == 0 && h.ejections == 0 && !h.ejected) continue;
    OutlierEndpointState s;
    s.endpoint = key;
    s.consecutive_failures = h.failures;
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
