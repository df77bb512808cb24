#pragma once

// Outlier detection as Envoy's consecutive-error detectors, for the node proxy's L4 ejection
// on connect failures (docs/datapath.md, "Connection limits and ejection") and the waypoint's
// DestinationRule outlierDetection (docs/waypoint.md, "Resilience (design)"). Per endpoint:
//
//   - a 5xx answer counts toward consecutive_5xx (0: off); 502/503/504 toward
//     consecutive_gateway (0: off); any other answer resets both;
//   - a local-origin failure (connect failure, reset before the head, per-try timeout) counts
//     as a 5xx and a gateway error (Envoy maps it to 503), unless split_local_origin: then it
//     counts only toward consecutive_local_origin, reset by a connection made;
//   - reaching a threshold ejects the endpoint for base_ejection_time x (times it was
//     ejected), capped at max(max_ejection_time, base_ejection_time); the multiplier stops
//     growing at the cap and goes down by one per `interval` the endpoint stays in. The counts
//     start again whether or not it was ejected: max_ejection_percent allows an ejection only
//     while 100 x ejected / endpoints < max% (Envoy's rule, so one of any number may go);
//   - an ejected endpoint returns when its time is up (checked lazily, exactly on time; Envoy
//     notices on its interval timer), its counts restarted; results of attempts that started
//     before the ejection do not count while it lasts;
//   - panic: while the share of endpoints not ejected is under min_health_percent, the
//     ejections are ignored by the picker (AppendEjected), not by the state (IsEjected).
//
// Endpoints are keyed by "address:port", so the state survives a new snapshot (a new list of
// targets over the same endpoints); the percentages count the targets of the call. Disabled
// (enabled = false), it records nothing. Thread-safe; the clock is injected for tests.

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
  bool enabled = true;
  uint32_t consecutive_5xx = 5;           // 0: off
  uint32_t consecutive_gateway = 0;       // 0: off
  uint32_t consecutive_local_origin = 5;  // with split_local_origin; 0: off
  bool split_local_origin = false;
  std::chrono::milliseconds base_ejection_time{30'000};
  std::chrono::milliseconds max_ejection_time{300'000};
  // How often an endpoint that stayed in gets one ejection forgiven (Envoy's interval).
  std::chrono::milliseconds interval{10'000};
  uint32_t max_ejection_percent = 10;
  uint32_t min_health_percent = 0;

  // How many local-origin failures in a row (and nothing else) eject an endpoint; 0: never.
  uint32_t LocalOriginThreshold() const;
  bool operator==(const OutlierConfig&) const = default;
};

enum class OutlierResult {
  kSuccess,                  // an answer that is not a 5xx
  k5xx,                      // an upstream 5xx answer; `status` says which
  kLocalOriginFailure,       // connect failure, reset before the head, per-try timeout
  kLocalOriginSuccess,       // a connection made, for a request (resets only when split)
  kLocalOriginSuccessFinal,  // a connection made, and that is the whole exchange (L4)
};

// One endpoint as the admins show it.
struct OutlierEndpointState {
  std::string endpoint;  // "address:port"
  uint32_t consecutive_5xx = 0;
  uint32_t consecutive_gateway = 0;
  uint32_t consecutive_local_origin = 0;
  uint32_t multiplier = 0;  // of the next ejection time
  uint32_t ejections = 0;   // times ejected in all
  bool ejected = false;
  int64_t ejected_remaining_ms = 0;  // while ejected
  // The longest run toward a threshold (the node proxy shows one count of connect failures).
  uint32_t consecutive_failures() const;
};

class OutlierDetector {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit OutlierDetector(OutlierConfig config = {}, Clock clock = nullptr);

  // A new snapshot may change the policy; the endpoints' state is kept (forgotten when the
  // new policy disables detection).
  void SetConfig(const OutlierConfig& config);
  OutlierConfig config() const;
  bool enabled() const { return config().enabled; }

  // One attempt's outcome on targets[index]; `status` for k5xx. True when this ejected it.
  bool Report(const std::vector<Target>& targets, size_t index, OutlierResult result,
              int status = 0);
  // The node proxy's connect outcomes: a failure, or a connection (which is all it makes).
  bool Failure(const std::vector<Target>& targets, size_t index) {
    return Report(targets, index, OutlierResult::kLocalOriginFailure);
  }
  void Success(const std::vector<Target>& targets, size_t index) {
    Report(targets, index, OutlierResult::kLocalOriginSuccessFinal);
  }

  // Appends the indexes of the targets ejected now; none when the healthy share is under
  // min_health_percent (panic).
  void AppendEjected(const std::vector<Target>& targets, std::vector<size_t>& out);
  // Whether the endpoint ("address:port") is ejected now, panic or not (admin).
  bool IsEjected(const std::string& key);
  // Quick check without the lock: no endpoint is ejected.
  bool none_ejected() const { return ejected_.load(std::memory_order_relaxed) == 0; }
  // Endpoints ejected now (admin).
  size_t ejected_now();

  // Every endpoint with a count, a multiplier or an ejection, sorted by endpoint.
  std::vector<OutlierEndpointState> States();
  uint64_t ejections_total() const { return ejections_total_.load(); }
  // Ejections max_ejection_percent prevented.
  uint64_t ejections_overflow() const { return ejections_overflow_.load(); }

  static std::string Key(const Target& t) { return t.address + ":" + std::to_string(t.port); }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Host {
    uint32_t c5xx = 0, gateway = 0, local = 0;  // consecutive counts
    uint32_t multiplier = 0;
    uint32_t ejections = 0;
    bool ejected = false;
    TimePoint until{};       // while ejected
    TimePoint last_decay{};  // while in: the multiplier shrinks by one per interval
    bool clean() const {
      return !c5xx && !gateway && !local && !multiplier && !ejections && !ejected;
    }
  };
  TimePoint Now() const { return clock_ ? clock_() : std::chrono::steady_clock::now(); }
  // Returns a host whose ejection is over, forgives ejections per interval. Under mu_.
  void Refresh(Host& h, TimePoint now);
  bool ReportLocked(const std::vector<Target>& targets, size_t index, OutlierResult result,
                    int status);
  // Counts one result on h; true when a threshold is reached. Under mu_.
  bool Count(Host& h, OutlierResult result, int status) const;
  // How many of `targets` are ejected now. Under mu_.
  size_t EjectedAmong(const std::vector<Target>& targets, TimePoint now);

  Clock clock_;
  mutable std::mutex mu_;
  OutlierConfig config_;
  std::unordered_map<std::string, Host> hosts_;
  std::atomic<int> ejected_{0};     // hosts flagged ejected: 0 lets the readers skip the lock
  std::atomic<size_t> tracked_{0};  // hosts_.size(): 0 lets a success skip the lock
  std::atomic<uint64_t> ejections_total_{0}, ejections_overflow_{0};
};

}  // namespace weft::lb
