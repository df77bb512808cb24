// The connect-failure outlier detector with a fake clock: ejection after N consecutive
// failures, a success resetting the count, return after base x n (capped), the multiplier
// forgiven over time, max_ejection_percent and the min_health_percent panic.

#include "core/lb/outlier_detector.h"

#include <gtest/gtest.h>

namespace weft::lb {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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
  cfg.consecutive_failures = 2;
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
  cfg.consecutive_failures = 1;
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
  cfg.consecutive_failures = 1;
  OutlierDetector d(cfg, clock.fn());  // 10 %: one of any number can always go
  auto t = N(4);
  EXPECT_TRUE(d.Failure(t, 0));
  EXPECT_FALSE(d.Failure(t, 1));  // 100 x 1/4 = 25 >= 10
  EXPECT_EQ(d.ejections_overflow(), 1u);
  EXPECT_EQ(Ejected(d, t), std::vector<size_t>{0});

  cfg.max_ejection_percent = 50;
  OutlierDetector half(cfg, clock.fn());
  EXPECT_TRUE(half.Failure(t, 0));
  EXPECT_TRUE(half.Failure(t, 1));   // 25 < 50
  EXPECT_FALSE(half.Failure(t, 2));  // 50 >= 50
  EXPECT_EQ(Ejected(half, t), (std::vector<size_t>{0, 1}));

  // Of two endpoints, one can be ejected at 10 %: 0 < 10.
  auto two = N(2);
  OutlierDetector small(OutlierConfig{.consecutive_failures = 1}, clock.fn());
  EXPECT_TRUE(small.Failure(two, 1));
  EXPECT_FALSE(small.Failure(two, 0));
}

TEST(OutlierDetector, UnderMinHealthPercentEjectionsAreIgnored) {
  FakeClock clock;
  OutlierConfig cfg;
  cfg.consecutive_failures = 1;
  cfg.max_ejection_percent = 100;
  cfg.min_health_percent = 60;
  OutlierDetector d(cfg, clock.fn());
  auto t = N(4);
  EXPECT_TRUE(d.Failure(t, 0));
  EXPECT_EQ(Ejected(d, t), std::vector<size_t>{0});  // 75 % healthy
  EXPECT_TRUE(d.Failure(t, 1));
  EXPECT_TRUE(Ejected(d, t).empty());  // 50 % < 60 %: panic, every endpoint is used
  clock.now += 30s;
  EXPECT_TRUE(Ejected(d, t).empty());  // both returned
  EXPECT_EQ(d.States().size(), 2u);    // their multipliers remain
}

TEST(OutlierDetector, ZeroThresholdNeverEjectsAndStateFollowsTheEndpointNotTheIndex) {
  FakeClock clock;
  OutlierDetector off(OutlierConfig{.consecutive_failures = 0}, clock.fn());
  auto t = N(2);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(off.Failure(t, 0));

  OutlierDetector d(OutlierConfig{.consecutive_failures = 2}, clock.fn());
  d.Failure(t, 1);
  ASSERT_TRUE(d.Failure(t, 1));  // 10.0.0.2
  // A new snapshot lists the endpoints in another order, with one more.
  std::vector<Target> next = {t[1], {"10.0.0.9", 80, {}, 1}, t[0]};
  EXPECT_EQ(Ejected(d, next), std::vector<size_t>{0});
}

}  // namespace
}  // namespace weft::lb
