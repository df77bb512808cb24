#pragma once

// The time source of the resilience state machines: the steady clock in the waypoint, a fake
// clock in tests (tests/waypoint/resilience).

#include <chrono>
#include <functional>

namespace weft::waypoint::resilience {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;
using NowFn = std::function<TimePoint()>;

inline NowFn SteadyNow() {
  return [] { return Clock::now(); };
}

}  // namespace weft::waypoint::resilience
