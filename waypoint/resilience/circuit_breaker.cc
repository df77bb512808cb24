#include "waypoint/resilience/circuit_breaker.h"

#include <algorithm>
#include <cmath>

namespace weft::waypoint::resilience {

PoolLimits PoolLimits::From(const pb::ClusterPolicy* policy) {
  PoolLimits l;
  if (!policy) return l;
  const pb::ConnectionPool& cp = policy->connection_pool();
  if (cp.max_connections()) l.max_connections = cp.max_connections();
  if (cp.http1_max_pending_requests()) l.max_pending = cp.http1_max_pending_requests();
  if (cp.http2_max_requests()) l.max_requests = cp.http2_max_requests();
  if (cp.max_retries()) l.max_retries = cp.max_retries();
  l.max_requests_per_connection = cp.max_requests_per_connection();
  l.idle_timeout_ms = cp.idle_timeout_ms();
  if (policy->retry_budget().enabled()) {
    l.budget = true;
    l.budget_percent = policy->retry_budget().percent();  // the compiler fills the default (20)
    l.budget_min_concurrency = policy->retry_budget().min_retry_concurrency();
  }
  return l;
}

void CircuitBreaker::SetLimits(const PoolLimits& l) {
  max_connections_.store(l.max_connections, std::memory_order_relaxed);
  max_pending_.store(l.max_pending, std::memory_order_relaxed);
  max_requests_.store(l.max_requests, std::memory_order_relaxed);
  max_retries_.store(l.max_retries, std::memory_order_relaxed);
  max_requests_per_connection_.store(l.max_requests_per_connection, std::memory_order_relaxed);
  idle_timeout_ms_.store(l.idle_timeout_ms, std::memory_order_relaxed);
  budget_.store(l.budget, std::memory_order_relaxed);
  budget_percent_.store(l.budget_percent, std::memory_order_relaxed);
  budget_min_.store(l.budget_min_concurrency, std::memory_order_relaxed);
}

PoolLimits CircuitBreaker::limits() const {
  PoolLimits l;
  l.max_connections = max_connections_.load(std::memory_order_relaxed);
  l.max_pending = max_pending_.load(std::memory_order_relaxed);
  l.max_requests = max_requests_.load(std::memory_order_relaxed);
  l.max_retries = max_retries_.load(std::memory_order_relaxed);
  l.max_requests_per_connection = max_requests_per_connection_.load(std::memory_order_relaxed);
  l.idle_timeout_ms = idle_timeout_ms_.load(std::memory_order_relaxed);
  l.budget = budget_.load(std::memory_order_relaxed);
  l.budget_percent = budget_percent_.load(std::memory_order_relaxed);
  l.budget_min_concurrency = budget_min_.load(std::memory_order_relaxed);
  return l;
}

bool CircuitBreaker::TryAdd(std::atomic<int64_t>& v, uint64_t limit) {
  int64_t cur = v.load(std::memory_order_relaxed);
  while (true) {
    if (cur >= 0 && static_cast<uint64_t>(cur) >= limit) return false;
    if (v.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
  }
}

bool CircuitBreaker::TryStartRequest() {
  if (TryAdd(requests_, max_requests_.load(std::memory_order_relaxed))) return true;
  stats_.rq_overflow.fetch_add(1, std::memory_order_relaxed);
  return false;
}
void CircuitBreaker::FinishRequest() {
  requests_.fetch_sub(1, std::memory_order_relaxed);
}

bool CircuitBreaker::TryOpenConnection() {
  if (TryAdd(connections_, max_connections_.load(std::memory_order_relaxed))) return true;
  stats_.cx_overflow.fetch_add(1, std::memory_order_relaxed);
  return false;
}
void CircuitBreaker::ConnectionClosed() {
  connections_.fetch_sub(1, std::memory_order_relaxed);
}

bool CircuitBreaker::TryAddPending() {
  if (TryAdd(pending_, max_pending_.load(std::memory_order_relaxed))) return true;
  stats_.rq_pending_overflow.fetch_add(1, std::memory_order_relaxed);
  return false;
}
void CircuitBreaker::RemovePending() {
  pending_.fetch_sub(1, std::memory_order_relaxed);
}

bool CircuitBreaker::TryStartRetry() {
  uint64_t limit = max_retries_.load(std::memory_order_relaxed);
  if (budget_.load(std::memory_order_relaxed)) {
    // Envoy's retry budget: a share of the active requests, at least the minimum.
    double share = budget_percent_.load(std::memory_order_relaxed) / 100.0 *
                   static_cast<double>(std::max<int64_t>(0, requests()));
    limit = std::max<uint64_t>(static_cast<uint64_t>(std::floor(share)),
                               budget_min_.load(std::memory_order_relaxed));
  }
  if (TryAdd(retries_, limit)) return true;
  stats_.rq_retry_overflow.fetch_add(1, std::memory_order_relaxed);
  return false;
}
void CircuitBreaker::FinishRetry() {
  retries_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace weft::waypoint::resilience
