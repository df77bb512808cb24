#pragma once

// RetryPolicy: a route's `retries` (VirtualService, HTTPRoute `retry`/`timeouts.backendRequest`)
// or Istio's default policy, compiled once per view and read per attempt. Envoy's semantics
// as Istio configures them (docs/waypoint.md, "Retries"):
//
//   - `attempts` is the number of retries (attempts: 3 = up to 4 tries); 0 disables.
//   - No `retries` on the route: Istio's default, 2 retries on connect-failure, refused-stream,
//     unavailable, cancelled (503 is not retried).
//   - Conditions: 5xx (any 5xx answer, or no answer: connect failure, reset, per-try timeout,
//     refused stream), gateway-error (502/503/504 or no answer), reset (no answer),
//     connect-failure, refused-stream, retriable-4xx (409), retriable-status-codes and bare
//     codes, and the gRPC statuses of a trailers-only answer: cancelled (1),
//     deadline-exceeded (4), resource-exhausted (8), internal (13), unavailable (14).
//   - Backoff: fully jittered exponential, retry n waits a random time in
//     [0, min((2^n - 1) × base, 10 × base)); base 25 ms (Envoy's default).
//
// Pure: no clock, no I/O.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weft/config/v1/snapshot.pb.h"

namespace weft::waypoint::resilience {

namespace pb = ::weft::config::v1;

// How one attempt ended.
enum class AttemptOutcome {
  kResponse,        // a response head arrived (status, maybe grpc-status)
  kConnectFailure,  // no connection to the endpoint (UF)
  kRefusedStream,   // HTTP/2 REFUSED_STREAM (nothing was processed)
  kReset,           // reset or closed before the response head (UR)
  kPerTryTimeout,   // no response head within perTryTimeout
  kProtocolError,   // the upstream's answer was not valid HTTP (UPE): never retried
};

struct AttemptResult {
  AttemptOutcome outcome = AttemptOutcome::kResponse;
  int status = 0;                  // kResponse
  std::optional<int> grpc_status;  // from the response head (a trailers-only gRPC answer)
};

class RetryPolicy {
 public:
  // The route's policy: its `retries` (attempts 0 = none), else Istio's default.
  static RetryPolicy ForRoute(const pb::HttpRoute* route);
  static RetryPolicy IstioDefault();
  static RetryPolicy FromProto(const pb::RetryPolicy& p);

  uint32_t num_retries() const { return num_retries_; }
  std::chrono::milliseconds per_try_timeout() const { return per_try_timeout_; }
  bool retry_remote_localities() const { return retry_remote_localities_; }
  // Whether an attempt that ended so may be retried (attempts left is the caller's business).
  bool Retriable(const AttemptResult& r) const;
  // The wait before retry `n` (1 = the first retry); `random` is any 64-bit random value.
  std::chrono::milliseconds Backoff(uint32_t n, uint64_t random) const;
  // "attempts=2 retryOn=connect-failure,refused-stream,unavailable,cancelled", for admin.
  std::string Describe() const;

 private:
  enum Condition : uint32_t {
    k5xx = 1u << 0,
    kGatewayError = 1u << 1,
    kReset = 1u << 2,
    kConnectFailure = 1u << 3,
    kRetriable4xx = 1u << 4,
    kRefusedStream = 1u << 5,
    kRetriableStatusCodes = 1u << 6,
    kGrpcCancelled = 1u << 7,
    kGrpcDeadlineExceeded = 1u << 8,
    kGrpcInternal = 1u << 9,
    kGrpcResourceExhausted = 1u << 10,
    kGrpcUnavailable = 1u << 11,
    kResetBeforeRequest = 1u << 12,
  };
  void AddCondition(const std::string& name);

  uint32_t num_retries_ = 0;
  std::chrono::milliseconds per_try_timeout_{0};  // 0 = none
  bool retry_remote_localities_ = false;
  uint32_t conditions_ = 0;
  std::vector<int> codes_;
  std::vector<std::string> names_;  // as configured, for Describe
  std::chrono::milliseconds base_{25};
};

}  // namespace weft::waypoint::resilience
