#pragma once

// CircuitBreaker: the `connectionPool` limits of one cluster (DestinationRule, per subset and
// port), shared by the waypoint's workers (atomics; no locks), as Envoy's cluster resource
// manager:
//
//   connections   open upstream connections (HTTP/1.1 connections, HTTP/2 sessions)
//                 <= tcp.maxConnections
//   pending       requests waiting for a connection <= http.http1MaxPendingRequests
//   requests      active requests (any protocol) <= http.http2MaxRequests
//   retries       retries in flight <= http.maxRetries, or Istio's `retryBudget`:
//                 max(percent × active requests, minRetryConcurrency)
//
// Unset limits are unlimited (Istio sets Envoy's to 2^32-1). Overflow is answered by the caller
// (503 UO for requests, no retry for retries) and counted here.

#include <atomic>
#include <cstdint>
#include <limits>

#include "weft/config/v1/snapshot.pb.h"

namespace weft::waypoint::resilience {

namespace pb = ::weft::config::v1;

struct PoolLimits {
  static constexpr uint32_t kUnlimited = std::numeric_limits<uint32_t>::max();
  uint32_t max_connections = kUnlimited;
  uint32_t max_pending = kUnlimited;
  uint32_t max_requests = kUnlimited;
  uint32_t max_retries = kUnlimited;
  uint32_t max_requests_per_connection = 0;  // 0 = unlimited
  uint64_t idle_timeout_ms = 0;              // http/tcp idleTimeout; 0 = the pool's default
  // Istio's retryBudget (Envoy's): replaces max_retries when set.
  bool budget = false;
  double budget_percent = 20;
  uint32_t budget_min_concurrency = 3;

  static PoolLimits From(const pb::ClusterPolicy* policy);
};

struct CircuitBreakerStats {
  std::atomic<uint64_t> cx_overflow{0};          // a connection not opened: maxConnections
  std::atomic<uint64_t> rq_pending_overflow{0};  // 503 UO: pending queue full
  std::atomic<uint64_t> rq_overflow{0};          // 503 UO: http2MaxRequests
  std::atomic<uint64_t> rq_retry_overflow{0};    // a retry not made: maxRetries / budget
};

class CircuitBreaker {
 public:
  void SetLimits(const PoolLimits& l);
  PoolLimits limits() const;

  // Requests (per attempt, as Envoy's pools check it).
  bool TryStartRequest();
  void FinishRequest();
  // Connections: TryOpenConnection counts one when under the limit.
  bool TryOpenConnection();
  void ConnectionClosed();
  // Counts a connection opened past the limit (a worker's first to an endpoint, as Envoy).
  void ForceOpenConnection() { connections_.fetch_add(1, std::memory_order_relaxed); }
  // Pending requests (waiting for a connection).
  bool TryAddPending();
  void RemovePending();
  // Retries in flight.
  bool TryStartRetry();
  void FinishRetry();

  int64_t connections() const { return connections_.load(std::memory_order_relaxed); }
  int64_t pending() const { return pending_.load(std::memory_order_relaxed); }
  int64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  int64_t retries() const { return retries_.load(std::memory_order_relaxed); }
  CircuitBreakerStats& stats() { return stats_; }
  const CircuitBreakerStats& stats() const { return stats_; }

 private:
  static bool TryAdd(std::atomic<int64_t>& v, uint64_t limit);

  std::atomic<uint32_t> max_connections_{PoolLimits::kUnlimited};
  std::atomic<uint32_t> max_pending_{PoolLimits::kUnlimited};
  std::atomic<uint32_t> max_requests_{PoolLimits::kUnlimited};
  std::atomic<uint32_t> max_retries_{PoolLimits::kUnlimited};
  std::atomic<uint32_t> max_requests_per_connection_{0};
  std::atomic<uint64_t> idle_timeout_ms_{0};
  std::atomic<bool> budget_{false};
  std::atomic<double> budget_percent_{20};
  std::atomic<uint32_t> budget_min_{3};
  std::atomic<int64_t> connections_{0}, pending_{0}, requests_{0}, retries_{0};
  CircuitBreakerStats stats_;
};

}  // namespace weft::waypoint::resilience
