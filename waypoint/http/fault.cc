#include "waypoint/http/fault.h"

namespace weft::waypoint {

bool Chance(double percent, uint64_t random) {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  // 53 random bits as a uniform double in [0, 100).
  double x = static_cast<double>(random >> 11) * (100.0 / 9007199254740992.0);
  return x < percent;
}

FaultDecision DecideFault(const pb::FaultInjection& f, uint64_t random_delay,
                          uint64_t random_abort) {
  FaultDecision d;
  if (f.delay_ms() > 0 && Chance(f.delay_percent(), random_delay)) {
    d.delay = std::chrono::milliseconds(f.delay_ms());
  }
  bool grpc_abort = f.has_abort_grpc_status();
  if ((f.abort_http_status() || grpc_abort) && Chance(f.abort_percent(), random_abort)) {
    LocalReply r;
    r.flag = "FI";
    if (grpc_abort) {
      // A trailers-only gRPC answer: HTTP 200, the status in the head.
      r.status = 200;
      r.headers.Set("content-type", "application/grpc");
      r.headers.Set("grpc-status", std::to_string(f.abort_grpc_status()));
      r.headers.Set("grpc-message", "fault filter abort");
    } else {
      r.status = static_cast<int>(f.abort_http_status());
      r.body = "fault filter abort";
      r.headers.Set("content-type", "text/plain");
    }
    d.abort = std::move(r);
  }
  return d;
}

}  // namespace weft::waypoint
