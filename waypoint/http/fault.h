#pragma once

// Fault injection (VirtualService `http[].fault`), as Envoy's fault filter with the route's
// configuration: a delay first (`fixedDelay` for `percentage` of requests), then an abort
// (`httpStatus`, or `grpcStatus` as a trailers-only gRPC answer, for `percentage` of
// requests). An unset percentage injects nothing (the compiler sets 0), as in Istio.
// Response flags: DI (delayed), FI (aborted).

#include <chrono>
#include <cstdint>
#include <optional>

#include "waypoint/http/filter_chain.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::waypoint {

struct FaultDecision {
  std::chrono::milliseconds delay{0};  // 0 = none
  std::optional<LocalReply> abort;
};

// `random_delay`, `random_abort`: independent 64-bit random values.
FaultDecision DecideFault(const pb::FaultInjection& fault, uint64_t random_delay,
                          uint64_t random_abort);

// Whether `random` falls within `percent` (0..100, fractional).
bool Chance(double percent, uint64_t random);

}  // namespace weft::waypoint
