#include "waypoint/resilience/retry_policy.h"

#include <algorithm>

#include "absl/strings/numbers.h"

namespace weft::waypoint::resilience {

namespace {

// Istio's retryOn when a route sets none (and its default policy's): retry what certainly
// did not reach the application, and gRPC's transient statuses.
constexpr const char* kIstioDefaultOn[] = {"connect-failure", "refused-stream", "unavailable",
                                           "cancelled"};
constexpr uint32_t kIstioDefaultRetries = 2;

}  // namespace

void RetryPolicy::AddCondition(const std::string& name) {
  static const std::pair<const char*, uint32_t> kNames[] = {
      {"5xx", k5xx},
      {"gateway-error", kGatewayError},
      {"reset", kReset},
      {"reset-before-request", kResetBeforeRequest},
      {"connect-failure", kConnectFailure},
      {"retriable-4xx", kRetriable4xx},
      {"refused-stream", kRefusedStream},
      {"retriable-status-codes", kRetriableStatusCodes},
      {"cancelled", kGrpcCancelled},
      {"deadline-exceeded", kGrpcDeadlineExceeded},
      {"internal", kGrpcInternal},
      {"resource-exhausted", kGrpcResourceExhausted},
      {"unavailable", kGrpcUnavailable},
  };
  names_.push_back(name);
  for (const auto& [n, bit] : kNames) {
    if (name == n) {
      conditions_ |= bit;
      return;
    }
  }
  // A bare status code ("503"): Istio turns it into retriable-status-codes.
  int code = 0;
  if (absl::SimpleAtoi(name, &code) && code >= 100 && code <= 599) {
    codes_.push_back(code);
    conditions_ |= kRetriableStatusCodes;
  }
  // Other names (envoy-ratelimited, retriable-headers, http3-post-connect-failure) cannot
  // happen at the waypoint: accepted, never true.
}

RetryPolicy RetryPolicy::IstioDefault() {
  RetryPolicy p;
  p.num_retries_ = kIstioDefaultRetries;
  for (const char* n : kIstioDefaultOn) p.AddCondition(n);
  return p;
}

RetryPolicy RetryPolicy::FromProto(const pb::RetryPolicy& in) {
  RetryPolicy p;
  p.num_retries_ = in.attempts();
  p.per_try_timeout_ = std::chrono::milliseconds(in.per_try_timeout_ms());
  p.retry_remote_localities_ = in.retry_remote_localities();
  if (in.backoff_base_ms() > 0) p.base_ = std::chrono::milliseconds(in.backoff_base_ms());
  if (in.retry_on().empty()) {
    // Istio keeps its default conditions when retryOn is not given.
    for (const char* n : kIstioDefaultOn) p.AddCondition(n);
  } else {
    for (const auto& n : in.retry_on()) p.AddCondition(n);
  }
  for (uint32_t c : in.retriable_status_codes()) {
    p.codes_.push_back(static_cast<int>(c));
    p.conditions_ |= kRetriableStatusCodes;
  }
  return p;
}

RetryPolicy RetryPolicy::ForRoute(const pb::HttpRoute* route) {
  if (!route || !route->has_retries()) return IstioDefault();
  return FromProto(route->retries());
}

bool RetryPolicy::Retriable(const AttemptResult& r) const {
  if (num_retries_ == 0) return false;
  const uint32_t c = conditions_;
  switch (r.outcome) {
    case AttemptOutcome::kConnectFailure:
      return c & (k5xx | kGatewayError | kReset | kConnectFailure | kResetBeforeRequest);
    case AttemptOutcome::kRefusedStream:
      return c & (k5xx | kGatewayError | kReset | kRefusedStream | kResetBeforeRequest);
    case AttemptOutcome::kReset:
    case AttemptOutcome::kPerTryTimeout:
      return c & (k5xx | kGatewayError | kReset);
    case AttemptOutcome::kProtocolError:
      return false;
    case AttemptOutcome::kResponse:
      break;
  }
  const int s = r.status;
  if ((c & k5xx) && s >= 500 && s <= 599) return true;
  if ((c & kGatewayError) && (s == 502 || s == 503 || s == 504)) return true;
  if ((c & kRetriable4xx) && s == 409) return true;
  if ((c & kRetriableStatusCodes) && std::find(codes_.begin(), codes_.end(), s) != codes_.end())
    return true;
  if (r.grpc_status) {
    switch (*r.grpc_status) {
      case 1:
        return c & kGrpcCancelled;
      case 4:
        return c & kGrpcDeadlineExceeded;
      case 8:
        return c & kGrpcResourceExhausted;
      case 13:
        return c & kGrpcInternal;
      case 14:
        return c & kGrpcUnavailable;
      default:
        break;
    }
  }
  return false;
}

std::chrono::milliseconds RetryPolicy::Backoff(uint32_t n, uint64_t random) const {
  const uint64_t base = static_cast<uint64_t>(base_.count());
  const uint64_t cap = 10 * base;
  uint64_t limit = cap;
  if (n < 20) limit = std::min<uint64_t>(cap, ((uint64_t{1} << n) - 1) * base);
  if (limit == 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(random % limit);
}

std::string RetryPolicy::Describe() const {
  std::string out = "attempts=" + std::to_string(num_retries_);
  if (num_retries_ == 0) return out;
  out += " retryOn=";
  for (size_t i = 0; i < names_.size(); ++i) out += (i ? "," : "") + names_[i];
  if (!codes_.empty() && names_.empty()) out += "retriable-status-codes";
  if (per_try_timeout_.count())
    out += " perTryTimeout=" + std::to_string(per_try_timeout_.count()) + "ms";
  return out;
}

}  // namespace weft::waypoint::resilience
