// The outlier detector with a fake clock: ejection after N consecutive connect failures (the
// node proxy) or 5xx / gateway errors / local-origin failures (the waypoint), a success
// resetting the count, return after base x n (capped), the multiplier forgiven over time,
// max_ejection_percent and the min_health_percent panic.

#include "core/lb/outlier_detector.h"

#include <gtest/gtest.h>

namespace weft::lb {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using R = OutlierResult;

struct FakeClock {
  Clock::time_point now = Clock::time_point{} + 1000h;
  OutlierDetector::Clock fn() {
    return [this] { return now; };
  }
};

std::vector<Target> N(int n) {
  std::vector<Target> out;
  for (int i = 0; i < n; ++i) out.push_back({"10.0.0." + std::to_string(i + 1), 80, {}, 1});
  return out;
}

OutlierConfig Failures(uint32_t n) {
  OutlierConfig c;
  c.consecutive_5xx = n;
  return c;
}

std::vector<size_t> Ejected(OutlierDetector& d, const std::vector<Target>& t) {
  std::vector<size_t> out;
  d.AppendEjected(t, out);
  return out;
}

TEST(OutlierDetector, EjectsAfterConsecutiveFailuresAndASuccessResetsTheCount) {
  FakeClock clock;
  OutlierDetector d({}, clock.fn());
  auto t = N(2);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(d.Failure(t, 0));
  d.Success(t, 0);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(d.Failure(t, 0));
  EXPECT_TRUE(Ejected(d, t).empty());
  EXPECT_TRUE(d.Failure(t, 0));  // the fifth in a row
  EXPECT_EQ(Ejected(d, t), std::vector<size_t>{0});
  EXPECT_EQ(d.ejections_total(), 1u);
  auto states = d.States();
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].endpoint, "10.0.0.1:80");
  EXPECT_TRUE(states[0].ejected);
  EXPECT_EQ(states[0].ejected_remaining_ms, 30'000);
}

TEST(OutlierDetector, ReturnsAfterBaseTimesEjectionsCappedAtTheMaximum) {
  FakeClock clock;
  OutlierConfig cfg;
  cfg.consecutive_5xx = 2;
  cfg.base_ejection_time = 100s;
  cfg.interval = 1000h;  // no forgiving in this test
  OutlierDetector d(cfg, clock.fn());
  auto t = N(2);
  std::vector<std::chrono::seconds> expected = {100s, 200s, 300s, 300s, 300s};
  for (auto want : expected) {
    d.Failure(t, 0);
    ASSERT_TRUE(d.Failure(t, 0));
    clock.now += want - 1ms;
    EXPECT_EQ(Ejected(d, t), std::vector<size_t>{0}) << want.count();
    // Failures of attempts made before the ejection do not count while it lasts.
    EXPECT_FALSE(d.Failure(t, 0));
    clock.now += 1ms;
    EXPECT_TRUE(Ejected(d, t).empty()) << want.count();
  }
}

TEST(OutlierDetector, TheMultiplierIsForgivenOneIntervalAtATime) {
  FakeClock clock;
  OutlierConfig cfg;
  cfg.consecutive_5xx = 1;
  cfg.base_ejection_time = 10s;
  cfg.interval = 5s;
  OutlierDetector d(cfg, clock.fn());
  auto t = N(2);
  ASSERT_TRUE(d.Failure(t, 0));  // 10 s
  clock.now += 10s;
  ASSERT_TRUE(d.Failure(t, 0));  // at once again: 20 s
  clock.now += 20s;
  EXPECT_TRUE(Ejected(d, t).empty());
  clock.now += 5s;  // one interval in: one ejection forgiven
  ASSERT_TRUE(d.Failure(t, 0));
  EXPECT_EQ(d.States()[0].ejected_remaining_ms, 20'000);
  clock.now += 20s + 10s;  // two intervals in: the multiplier is back to 0
  ASSERT_TRUE(d.Failure(t, 0));
  EXPECT_EQ(d.States()[0].ejected_remaining_ms, 10'000);
}

TEST(OutlierDetector, MaxEjectionPercentBoundsHowManyAreOut) {
  FakeClock clock;
  OutlierConfig cfg;
  cfg.consecutive_5xx = 1;
  OutlierDetector d(cfg, clock.fn());  // 10 %: one of any number can always go
  auto t = N(4);
  EXPECT_TRUE(d.Failure(t, 0));
  EXPECT_FALSE(d.Failure(t, 1));               // 100 x 1/4 = 25 >= 10
  EXPECT_FALSE(d.Report(t, 2, R::k5xx, 500));  // whatever the result
  EXPECT_EQ(d.ejections_overflow(), 2u);
  EXPECT_EQ(Ejected(d, t), std::vector<size_t>{0});
  EXPECT_EQ(d.ejected_now(), 1u);

  cfg.max_ejection_percent = 50;
  OutlierDetector half(cfg, clock.fn());
  EXPECT_TRUE(half.Failure(t, 0));
  EXPECT_TRUE(half.Report(t, 1, R::k5xx, 500));  // 25 < 50
  EXPECT_FALSE(half.Failure(t, 2));              // 50 >= 50
  EXPECT_EQ(Ejected(half, t), (std::vector<size_t>{0, 1}));

  // Of two endpoints, one can be ejected at 10 %: 0 < 10.
  auto two = N(2);
  OutlierDetector small(Failures(1), clock.fn());
  EXPECT_TRUE(small.Failure(two, 1));
  EXPECT_FALSE(small.Failure(two, 0));
}

TEST(OutlierDetector, UnderMinHealthPercentEjectionsAreIgnored) {
  FakeClock clock;
  OutlierConfig cfg;
  cfg.consecutive_5xx = 1;
  cfg.max_ejection_percent = 100;
  cfg.min_health_percent = 60;
  OutlierDetector d(cfg, clock.fn());
  auto t = N(4);
  EXPECT_TRUE(d.Failure(t, 0));
  EXPECT_EQ(Ejected(d, t), std::vector<size_t>{0});  // 75 % healthy
  EXPECT_TRUE(d.Failure(t, 1));
  EXPECT_TRUE(Ejected(d, t).empty());       // 50 % < 60 %: panic, every endpoint is used
  EXPECT_TRUE(d.IsEjected("10.0.0.2:80"));  // the state still says so (admin)
  clock.now += 30s;
  EXPECT_TRUE(Ejected(d, t).empty());  // both returned
  EXPECT_EQ(d.States().size(), 2u);    // their multipliers remain
}

TEST(OutlierDetector, ZeroThresholdNeverEjectsAndStateFollowsTheEndpointNotTheIndex) {
  FakeClock clock;
  OutlierDetector off(Failures(0), clock.fn());
  auto t = N(2);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(off.Failure(t, 0));

  OutlierDetector d(Failures(2), clock.fn());
  d.Failure(t, 1);
  ASSERT_TRUE(d.Failure(t, 1));  // 10.0.0.2
  // A new snapshot lists the endpoints in another order, with one more.
  std::vector<Target> next = {t[1], {"10.0.0.9", 80, {}, 1}, t[0]};
  EXPECT_EQ(Ejected(d, next), std::vector<size_t>{0});
}

// ---- the waypoint's results (5xx, gateway errors, local origin) ----

// As the waypoint maps an outlierDetection: consecutive5xxErrors `n`, max 100 %.
OutlierConfig Http(uint32_t n, std::chrono::milliseconds base = 30s) {
  OutlierConfig c = Failures(n);
  c.base_ejection_time = base;
  c.max_ejection_percent = 100;
  return c;
}

TEST(OutlierDetector, EjectsAfterConsecutive5xxAndReturnsAfterBaseTimesN) {
  FakeClock clock;
  OutlierConfig cfg = Http(3, 1000ms);
  cfg.interval = 1000ms;
  OutlierDetector d(cfg, clock.fn());
  auto t = N(2);
  EXPECT_FALSE(d.Report(t, 0, R::k5xx, 500));
  EXPECT_FALSE(d.Report(t, 0, R::k5xx, 500));
  EXPECT_TRUE(d.Report(t, 0, R::k5xx, 500));
  EXPECT_TRUE(d.IsEjected("10.0.0.1:80"));
  EXPECT_FALSE(d.IsEjected("10.0.0.2:80"));
  EXPECT_EQ(Ejected(d, t), std::vector<size_t>{0});
  clock.now += 999ms;
  EXPECT_TRUE(d.IsEjected("10.0.0.1:80"));
  clock.now += 1ms;
  EXPECT_FALSE(d.IsEjected("10.0.0.1:80"));
  EXPECT_TRUE(d.none_ejected());
  // Ejected a second time soon after: twice the base time.
  for (int i = 0; i < 3; ++i) d.Report(t, 0, R::k5xx, 503);
  EXPECT_TRUE(d.IsEjected("10.0.0.1:80"));
  clock.now += 1999ms;
  EXPECT_TRUE(d.IsEjected("10.0.0.1:80"));
  clock.now += 1ms;
  EXPECT_FALSE(d.IsEjected("10.0.0.1:80"));
  EXPECT_EQ(d.ejections_total(), 2u);
  // After staying in for two intervals the multiplier is back to 0: base time again.
  clock.now += 2000ms;
  for (int i = 0; i < 3; ++i) d.Report(t, 0, R::k5xx, 503);
  clock.now += 1000ms;
  EXPECT_FALSE(d.IsEjected("10.0.0.1:80"));
  // Times ejected in all stay (the waypoint's admin), the multiplier does not.
  auto states = d.States();
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].ejections, 3u);
  EXPECT_EQ(states[0].multiplier, 1u);
}

TEST(OutlierDetector, SuccessResetsThe5xxCount) {
  FakeClock clock;
  OutlierDetector d(Http(2), clock.fn());
  auto t = N(2);
  d.Report(t, 0, R::k5xx, 500);
  d.Report(t, 0, R::kSuccess);
  EXPECT_FALSE(d.Report(t, 0, R::k5xx, 500));
  EXPECT_FALSE(d.IsEjected("10.0.0.1:80"));
  // 4xx is a success for outlier detection.
  d.Report(t, 0, R::kSuccess, 404);
  EXPECT_FALSE(d.Report(t, 0, R::k5xx, 500));
  // A connection made for a request resets nothing (its answer decides), unless split.
  d.Report(t, 0, R::kLocalOriginSuccess);
  EXPECT_TRUE(d.Report(t, 0, R::k5xx, 500));
}

TEST(OutlierDetector, GatewayErrorsCountOnly502To504) {
  FakeClock clock;
  OutlierConfig cfg = Http(0);
  cfg.consecutive_gateway = 2;
  OutlierDetector d(cfg, clock.fn());
  auto t = N(2);
  d.Report(t, 0, R::k5xx, 502);
  d.Report(t, 0, R::k5xx, 500);  // resets the gateway count
  EXPECT_FALSE(d.Report(t, 0, R::k5xx, 503));
  EXPECT_TRUE(d.Report(t, 0, R::k5xx, 504));
}

TEST(OutlierDetector, LocalOriginFailuresCountAs5xxUnlessSplit) {
  FakeClock clock;
  OutlierDetector d(Http(2), clock.fn());
  auto t = N(2);
  d.Report(t, 0, R::kLocalOriginFailure);
  EXPECT_TRUE(d.Report(t, 0, R::kLocalOriginFailure));

  OutlierConfig split = Http(2);
  split.split_local_origin = true;
  split.consecutive_local_origin = 3;
  OutlierDetector s(split, clock.fn());
  s.Report(t, 0, R::kLocalOriginFailure);
  s.Report(t, 0, R::kLocalOriginFailure);
  s.Report(t, 0, R::kLocalOriginSuccess);  // a connection: the count restarts
  s.Report(t, 0, R::kLocalOriginFailure);
  s.Report(t, 0, R::kLocalOriginFailure);
  EXPECT_FALSE(s.IsEjected("10.0.0.1:80"));
  EXPECT_EQ(s.States()[0].consecutive_local_origin, 2u);
  EXPECT_EQ(s.States()[0].consecutive_5xx, 0u);
  EXPECT_TRUE(s.Report(t, 0, R::kLocalOriginFailure));
}

TEST(OutlierDetector, LocalOriginThresholdIsWhenTheDetectorEjects) {
  // The node proxy reports connect failures only: the lower of the 5xx and gateway thresholds
  // that are on, or the local-origin one when split.
  struct Case {
    uint32_t c5xx, gateway, local;
    bool split;
    uint32_t want;
  };
  for (const Case& c : std::vector<Case>{{5, 0, 5, false, 5},
                                         {3, 0, 5, false, 3},
                                         {3, 2, 5, false, 2},
                                         {0, 2, 5, false, 2},
                                         {0, 0, 5, false, 0},
                                         {0, 0, 5, true, 5},
                                         {2, 2, 7, true, 7},
                                         {2, 2, 0, true, 0}}) {
    FakeClock clock;
    OutlierConfig cfg;
    cfg.consecutive_5xx = c.c5xx;
    cfg.consecutive_gateway = c.gateway;
    cfg.consecutive_local_origin = c.local;
    cfg.split_local_origin = c.split;
    EXPECT_EQ(cfg.LocalOriginThreshold(), c.want);
    OutlierDetector d(cfg, clock.fn());
    auto t = N(2);
    uint32_t n = 1;
    while (n <= 20 && !d.Failure(t, 0)) ++n;
    EXPECT_EQ(n > 20 ? 0 : n, c.want) << c.c5xx << " " << c.gateway << " " << c.split;
  }
}

TEST(OutlierDetector, DisabledDoesNothingAndForgets) {
  FakeClock clock;
  OutlierConfig off;
  off.enabled = false;
  OutlierDetector d(off, clock.fn());
  auto t = N(2);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(d.Report(t, 0, R::k5xx, 500));
  EXPECT_TRUE(d.none_ejected());
  EXPECT_FALSE(d.enabled());
  // A policy that turns detection off forgets the ejections made under the one before.
  OutlierDetector e(Http(1), clock.fn());
  ASSERT_TRUE(e.Report(t, 0, R::k5xx, 500));
  e.SetConfig(off);
  EXPECT_TRUE(e.none_ejected());
  EXPECT_TRUE(e.States().empty());
}

}  // namespace
}  // namespace weft::lb
