#pragma once

// OutlierDetector: DestinationRule `outlierDetection` for one cluster, as Envoy's consecutive
// error detectors (docs/waypoint.md, "Outlier detection"). Per endpoint (keyed by
// "address:port", so that the state survives a configuration change that rebuilds the
// cluster):
//
//   - a 5xx answer counts toward consecutive5xxErrors (unset: 5, 0: off); 502/503/504 toward
//     consecutiveGatewayErrors (unset/0: off); any other answer resets both;
//   - a local-origin failure (connect failure, reset before the head, per-try timeout) counts
//     as a 5xx and a gateway error, unless splitExternalLocalOriginErrors: then it counts only
//     toward consecutiveLocalOriginFailures (default 5), reset by a successful connection;
//   - reaching a threshold ejects the endpoint for baseEjectionTime (default 30 s) × the number
//     of times it was ejected (capped at 300 s; the multiplier goes down by one for each
//     `interval`, default 10 s, the endpoint then stays in), unless maxEjectionPercent
//     (default 10 %) is reached: Envoy's rule, ejection is allowed while
//     100 × ejected / endpoints < maxEjectionPercent, so one endpoint of two may always go;
//   - an ejected endpoint returns when its time is up (checked lazily: Envoy checks on its
//     interval timer, so there it returns up to one interval later); its counters restart;
//   - panic: when the share of endpoints not ejected is below minHealthPercent (default 0 %),
//     ejections are ignored by the picker (Envoy's healthy panic threshold).
//
// Thread-safe (one mutex; Report and Ejected are called per attempt by every worker).

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "waypoint/resilience/clock.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::waypoint::resilience {

namespace pb = ::weft::config::v1;

struct OutlierConfig {
  bool enabled = false;
  uint32_t consecutive_5xx = 5;  // 0 = off
  uint32_t consecutive_gateway = 0;
  uint32_t consecutive_local_origin = 5;
  bool split_local_origin = false;
  Millis interval{10'000};
  Millis base_ejection{30'000};
  Millis max_ejection{300'000};
  uint32_t max_ejection_percent = 10;
  uint32_t min_health_percent = 0;

  static OutlierConfig From(const pb::ClusterPolicy* policy);
};

enum class EndpointResult {
  kSuccess,             // a response that is not a 5xx
  k5xx,                 // an upstream 5xx answer; `status` says which
  kLocalOriginFailure,  // connect failure, reset before the head, per-try timeout
  kLocalOriginSuccess,  // a connection was made (resets the local-origin counter when split)
};

struct EndpointOutlierState {
  std::string key;
  bool ejected = false;
  uint32_t ejections = 0;  // times ejected (total)
  uint32_t multiplier = 0;
  TimePoint ejected_until{};
  uint32_t consecutive_5xx = 0, consecutive_gateway = 0, consecutive_local = 0;
};

class OutlierDetector {
 public:
  explicit OutlierDetector(NowFn now = SteadyNow()) : now_(std::move(now)) {}

  // The newest policy and the cluster's number of endpoints (for the percentages).
  void Configure(const OutlierConfig& config, size_t endpoints);
  bool enabled() const;

  // One attempt's outcome on `key`; `status` for k5xx. Returns true when this ejected it.
  bool Report(const std::string& key, EndpointResult result, int status = 0);
  // Keys ejected now (after returning those whose time is up); empty in panic.
  std::vector<std::string> Ejected();
  bool IsEjected(const std::string& key);
  // Quick check without the lock: no endpoint is ejected.
  bool none_ejected() const { return ejected_count_.load(std::memory_order_relaxed) == 0; }

  uint64_t ejections_total() const;
  size_t ejected_now();
  std::vector<EndpointOutlierState> States();

 private:
  void ReturnDueLocked(TimePoint now);
  bool MaybeEjectLocked(EndpointOutlierState& s, TimePoint now);

  NowFn now_;
  mutable std::mutex mu_;
  OutlierConfig config_;
  size_t endpoints_ = 0;
  std::map<std::string, EndpointOutlierState> states_;
  std::map<std::string, TimePoint> returned_at_;
  uint64_t ejections_total_ = 0;
  std::atomic<size_t> ejected_count_{0};
};

}  // namespace weft::waypoint::resilience
