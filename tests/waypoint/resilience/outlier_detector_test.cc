#include "waypoint/resilience/outlier_detector.h"

#include <gtest/gtest.h>

#include "tests/waypoint/resilience/fake_clock.h"

namespace weft::waypoint::resilience {
namespace {

using testing::FakeClock;

OutlierConfig Config(std::function<void(pb::OutlierDetection&)> f) {
  pb::ClusterPolicy p;
  f(*p.mutable_outlier_detection());
  return OutlierConfig::From(&p);
}

TEST(OutlierDetectorTest, IstioDefaults) {
  OutlierConfig none = OutlierConfig::From(nullptr);
  EXPECT_FALSE(none.enabled);
  OutlierConfig c = Config([](pb::OutlierDetection&) {});
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.consecutive_5xx, 5u);
  EXPECT_EQ(c.consecutive_gateway, 0u);
  EXPECT_EQ(c.max_ejection_percent, 10u);
  EXPECT_EQ(c.base_ejection.count(), 30000);
  EXPECT_EQ(c.interval.count(), 10000);
  OutlierConfig off = Config([](pb::OutlierDetection& o) { o.set_consecutive_5xx_errors(0); });
  EXPECT_EQ(off.consecutive_5xx, 0u);
}

TEST(OutlierDetectorTest, EjectsAfterConsecutive5xxAndReturnsAfterBaseTimesN) {
  FakeClock clock;
  OutlierDetector d(clock.fn());
  d.Configure(Config([](pb::OutlierDetection& o) {
                o.set_consecutive_5xx_errors(3);
                o.set_base_ejection_time_ms(1000);
                o.set_interval_ms(1000);
                o.set_max_ejection_percent(100);
              }),
              2);
  EXPECT_FALSE(d.Report("a", EndpointResult::k5xx, 500));
  EXPECT_FALSE(d.Report("a", EndpointResult::k5xx, 500));
  EXPECT_TRUE(d.Report("a", EndpointResult::k5xx, 500));
  EXPECT_TRUE(d.IsEjected("a"));
  EXPECT_FALSE(d.IsEjected("b"));
  EXPECT_EQ(d.Ejected(), std::vector<std::string>{"a"});
  clock.Advance(Millis(999));
  EXPECT_TRUE(d.IsEjected("a"));
  clock.Advance(Millis(1));
  EXPECT_FALSE(d.IsEjected("a"));
  EXPECT_TRUE(d.none_ejected());
  // Ejected a second time soon after: twice the base time.
  for (int i = 0; i < 3; ++i) d.Report("a", EndpointResult::k5xx, 503);
  EXPECT_TRUE(d.IsEjected("a"));
  clock.Advance(Millis(1999));
  EXPECT_TRUE(d.IsEjected("a"));
  clock.Advance(Millis(1));
  EXPECT_FALSE(d.IsEjected("a"));
  EXPECT_EQ(d.ejections_total(), 2u);
  // After staying in for two intervals the multiplier is back to 0: base time again.
  clock.Advance(Millis(2000));
  for (int i = 0; i < 3; ++i) d.Report("a", EndpointResult::k5xx, 503);
  clock.Advance(Millis(1000));
  EXPECT_FALSE(d.IsEjected("a"));
}

TEST(OutlierDetectorTest, SuccessResetsTheCount) {
  FakeClock clock;
  OutlierDetector d(clock.fn());
  d.Configure(Config([](pb::OutlierDetection& o) {
                o.set_consecutive_5xx_errors(2);
                o.set_max_ejection_percent(100);
              }),
              2);
  d.Report("a", EndpointResult::k5xx, 500);
  d.Report("a", EndpointResult::kSuccess);
  EXPECT_FALSE(d.Report("a", EndpointResult::k5xx, 500));
  EXPECT_FALSE(d.IsEjected("a"));
  // 4xx is a success for outlier detection.
  d.Report("a", EndpointResult::kSuccess, 404);
  EXPECT_FALSE(d.Report("a", EndpointResult::k5xx, 500));
}

TEST(OutlierDetectorTest, GatewayErrorsCountOnly502To504) {
  FakeClock clock;
  OutlierDetector d(clock.fn());
  d.Configure(Config([](pb::OutlierDetection& o) {
                o.set_consecutive_5xx_errors(0);
                o.set_consecutive_gateway_errors(2);
                o.set_max_ejection_percent(100);
              }),
              2);
  d.Report("a", EndpointResult::k5xx, 502);
  d.Report("a", EndpointResult::k5xx, 500);  // resets the gateway count
  EXPECT_FALSE(d.Report("a", EndpointResult::k5xx, 503));
  EXPECT_TRUE(d.Report("a", EndpointResult::k5xx, 504));
}

TEST(OutlierDetectorTest, LocalOriginFailuresCountAs5xxUnlessSplit) {
  FakeClock clock;
  OutlierDetector d(clock.fn());
  d.Configure(Config([](pb::OutlierDetection& o) {
                o.set_consecutive_5xx_errors(2);
                o.set_max_ejection_percent(100);
              }),
              2);
  d.Report("a", EndpointResult::kLocalOriginFailure);
  EXPECT_TRUE(d.Report("a", EndpointResult::kLocalOriginFailure));

  OutlierDetector s(clock.fn());
  s.Configure(Config([](pb::OutlierDetection& o) {
                o.set_consecutive_5xx_errors(2);
                o.set_split_external_local_origin_errors(true);
                o.set_consecutive_local_origin_failures(3);
                o.set_max_ejection_percent(100);
              }),
              2);
  s.Report("a", EndpointResult::kLocalOriginFailure);
  s.Report("a", EndpointResult::kLocalOriginFailure);
  s.Report("a", EndpointResult::kLocalOriginSuccess);  // a connection: the count restarts
  s.Report("a", EndpointResult::kLocalOriginFailure);
  s.Report("a", EndpointResult::kLocalOriginFailure);
  EXPECT_FALSE(s.IsEjected("a"));
  EXPECT_TRUE(s.Report("a", EndpointResult::kLocalOriginFailure));
}

TEST(OutlierDetectorTest, MaxEjectionPercent) {
  FakeClock clock;
  OutlierDetector d(clock.fn());
  // Default 10 %: with 4 endpoints, one may go (0 % < 10 %), not a second (25 % >= 10 %).
  d.Configure(Config([](pb::OutlierDetection& o) { o.set_consecutive_5xx_errors(1); }), 4);
  EXPECT_TRUE(d.Report("a", EndpointResult::k5xx, 500));
  EXPECT_FALSE(d.Report("b", EndpointResult::k5xx, 500));
  EXPECT_EQ(d.ejected_now(), 1u);
  // 50 % of 4: two.
  OutlierDetector h(clock.fn());
  h.Configure(Config([](pb::OutlierDetection& o) {
                o.set_consecutive_5xx_errors(1);
                o.set_max_ejection_percent(50);
              }),
              4);
  EXPECT_TRUE(h.Report("a", EndpointResult::k5xx, 500));
  EXPECT_TRUE(h.Report("b", EndpointResult::k5xx, 500));
  EXPECT_FALSE(h.Report("c", EndpointResult::k5xx, 500));
}

TEST(OutlierDetectorTest, PanicBelowMinHealthPercentIgnoresEjections) {
  FakeClock clock;
  OutlierDetector d(clock.fn());
  d.Configure(Config([](pb::OutlierDetection& o) {
                o.set_consecutive_5xx_errors(1);
                o.set_max_ejection_percent(100);
                o.set_min_health_percent(60);
              }),
              2);
  d.Report("a", EndpointResult::k5xx, 500);
  // 50 % left in < 60 %: panic, the picker sees no ejection.
  EXPECT_TRUE(d.Ejected().empty());
  EXPECT_TRUE(d.IsEjected("a"));  // the state still says so (admin)
}

TEST(OutlierDetectorTest, DisabledDoesNothing) {
  FakeClock clock;
  OutlierDetector d(clock.fn());
  d.Configure(OutlierConfig::From(nullptr), 2);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(d.Report("a", EndpointResult::k5xx, 500));
  EXPECT_TRUE(d.none_ejected());
}

}  // namespace
}  // namespace weft::waypoint::resilience
