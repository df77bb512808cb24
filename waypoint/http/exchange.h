#pragma once

// Exchange: one request proxied from a DownstreamRequest to an upstream endpoint and its
// response back (docs/waypoint.md, "Data flow" step 5).
//
//   filter chain (request)  -> local reply?  -> answered here
//   cluster pick            -> none: 503 "no healthy upstream" (UH)
//   UpstreamPool::Open      -> failed: 503 "upstream connect error ... connection failure" (UF)
//   request head + body  ->  upstream, body streamed with one chunk in flight
//   response head        ->  filter chain (response) -> downstream; body and trailers streamed
//   upstream reset before the response head: 502 (UR; REFUSED_STREAM: 503); after it: the
//   downstream stream is reset too (nothing else can tell the client the body is incomplete)
//
// Resilience (docs/waypoint.md, "Resilience"): after routing, the route's fault (delay, abort)
// and mirrors; then attempts, one at a time, each on a picked endpoint under the cluster's
// circuit breaker, each result told to the outlier detector; a retriable result is retried
// (jittered backoff, another endpoint) while the policy, maxRetries and the retry budget
// allow and the request body is still replayable (kept up to 1 MiB); the route timeout
// (or grpc-timeout) bounds them all (504 UT).
//
// HTTP/1.1 Upgrade (WebSocket) requests to an HTTP/1.1 upstream: after a 101 both sides become
// raw byte streams, spliced.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "waypoint/http/deadlines.h"
#include "waypoint/http/filter_chain.h"
#include "waypoint/http/stream.h"
#include "waypoint/upstream/pool.h"

namespace weft::waypoint {

// Counters of all exchanges of one waypoint (all workers).
struct HttpStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> responses_2xx{0}, responses_3xx{0}, responses_4xx{0}, responses_5xx{0};
  std::atomic<uint64_t> local_replies{0};
  std::atomic<uint64_t> upstream_requests{0};
  std::atomic<uint64_t> upstream_resets{0};    // after the upstream accepted the request
  std::atomic<uint64_t> downstream_resets{0};  // responses aborted midway
  std::atomic<uint64_t> upgrades{0};           // WebSocket (101) tunnels
  std::atomic<uint64_t> rbac_denied{0};
  // Resilience (docs/waypoint.md, "Resilience"), all clusters together; per cluster in
  // ClusterState.
  std::atomic<uint64_t> retries{0};                // upstream_rq_retry
  std::atomic<uint64_t> retry_success{0};          // upstream_rq_retry_success
  std::atomic<uint64_t> retry_limit_exceeded{0};   // upstream_rq_retry_limit_exceeded
  std::atomic<uint64_t> retry_overflow{0};         // upstream_rq_retry_overflow (maxRetries)
  std::atomic<uint64_t> retry_budget_exceeded{0};  // weft's budget said no
  std::atomic<uint64_t> timeouts{0};               // upstream_rq_timeout (route timeout)
  std::atomic<uint64_t> per_try_timeouts{0};       // upstream_rq_per_try_timeout
  std::atomic<uint64_t> pending_overflow{0};       // upstream_rq_pending_overflow (503 UO)
  std::atomic<uint64_t> faults_delayed{0}, faults_aborted{0};
  std::atomic<uint64_t> mirror_requests{0}, mirror_failures{0}, mirror_skipped{0};
  std::mutex mu;                            // guards by_flag
  std::map<std::string, uint64_t> by_flag;  // response flags other than "-"

  void CountStatus(int status);
  void CountFlag(const std::string& flag);
};

struct ExchangeContext {
  std::shared_ptr<const WaypointView> view;
  std::shared_ptr<const ConnectionInfo> conn;
  const BoundService* target = nullptr;  // in `view`
  std::shared_ptr<UpstreamPool> pool;
  const FilterChain* chain = nullptr;
  HttpStats* stats = nullptr;
  // The worker's route and per-try timeouts (the exchange runs on the worker's executor).
  std::shared_ptr<DeadlineQueue> deadlines;
};

// Runs one exchange to its end (it keeps itself alive until then).
void StartExchange(std::shared_ptr<DownstreamRequest> downstream, ExchangeContext context);

}  // namespace weft::waypoint
