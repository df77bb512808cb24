#pragma once

#include "waypoint/resilience/clock.h"

namespace weft::waypoint::resilience::testing {

// A clock the test moves by hand.
struct FakeClock {
  TimePoint t = TimePoint(std::chrono::hours(1000));
  NowFn fn() {
    return [this] { return t; };
  }
  void Advance(Millis d) { t += d; }
};

}  // namespace weft::waypoint::resilience::testing
