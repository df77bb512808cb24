#pragma once

// Outlier detection on connect failures (the node proxy's L4 ejection, docs/datapath.md
// "Connection limits and ejection"): an endpoint whose connects fail `consecutive_failures`
// times in a row is ejected for base_ejection_time x (times it was ejected), capped at
// max_ejection_time, as Envoy does; a success resets its count. Ejections respect
// max_ejection_percent (Envoy's rule: eject only while 100 x ejected / total < max%) and
// min_health_percent (below it, ejections are ignored: "panic", every endpoint is used).
//
// Endpoints are keyed by "address:port", so the state survives a new snapshot (a new
// Balancer over the same endpoints). Thread-safe; the clock is injected for tests.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/lb/balancer.h"

namespace weft::lb {

struct OutlierConfig {
  // Consecutive connect failures that eject an endpoint; 0: never eject.
  uint32_t consecutive_failures = 5;
  std::chrono::milliseconds base_ejection_time{30'000};
  std::chrono::milliseconds max_ejection_time{300'000};
  // How often an endpoint that stayed in gets one ejection forgiven (Envoy's interval).
  std::chrono::milliseconds interval{10'000};
  uint32_t max_ejection_percent = 10;
  uint32_t min_health_percent = 0;
  bool operator==(const OutlierConfig&) const = default;
};

// One endpoint as the admin shows it.
struct OutlierEndpointState {
  std::string endpoint;  // "address:port"
  uint32_t consecutive_failures = 0;
  uint32_t ejections = 0;  // the multiplier of the next ejection time
  bool ejected = false;
  int64_t ejected_remaining_ms = 0;  // while ejected
};

class OutlierDetector {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit OutlierDetector(OutlierConfig config = {}, Clock clock = nullptr);

  // A new snapshot may change the policy; the endpoints' state is kept.
  void SetConfig(const OutlierConfig& config);
  OutlierConfig config() const;

  // A connect to targets[index] failed. True when this failure ejected it.
  bool Failure(const std::vector<Target>& targets, size_t index);
  // A connect to targets[index] succeeded: its consecutive failures start again from 0.
  void Success(const std::vector<Target>& targets, size_t index);
  // Appends the indexes of the targets ejected now; none when the healthy share is under
  // min_health_percent (panic).
  void AppendEjected(const std::vector<Target>& targets, std::vector<size_t>& out);

  // Every endpoint with a failure, an ejection or a multiplier, sorted by endpoint.
  std::vector<OutlierEndpointState> States();
  uint64_t ejections_total() const { return ejections_total_.load(); }
  // Ejections max_ejection_percent prevented.
  uint64_t ejections_overflow() const { return ejections_overflow_.load(); }

  static std::string Key(const Target& t) { return t.address + ":" + std::to_string(t.port); }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Host {
    uint32_t failures = 0;
    uint32_t ejections = 0;
    bool ejected = false;
    TimePoint until{};       // while ejected
    TimePoint last_decay{};  // while in: the multiplier shrinks by one per interval
  };
  TimePoint Now() const { return clock_ ? clock_() : std::chrono::steady_clock::now(); }
  // Returns a host whose ejection is over, forgives ejections per interval. Under mu_.
  void Refresh(Host& h, TimePoint now);
  // How many of `targets` are ejected now. Under mu_.
  size_t EjectedAmong(const std::vector<Target>& targets, TimePoint now);

  Clock clock_;
  mutable std::mutex mu_;
  OutlierConfig config_;
  std::unordered_map<std::string, Host> hosts_;
  std::atomic<int> ejected_{0};  // hosts flagged ejected: 0 lets AppendEjected skip the lock
  std::atomic<uint64_t> ejections_total_{0}, ejections_overflow_{0};
};

}  // namespace weft::lb
