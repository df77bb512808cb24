#include "waypoint/resilience/retry_budget.h"

#include <gtest/gtest.h>

#include "tests/waypoint/resilience/fake_clock.h"

namespace weft::waypoint::resilience {
namespace {

using testing::FakeClock;

pb::RetryBudget Budget(double ratio, uint32_t min_per_second, uint64_t ttl_ms) {
  pb::RetryBudget b;
  b.set_ratio(ratio);
  b.set_min_retries_per_second(min_per_second);
  b.set_ttl_ms(ttl_ms);
  return b;
}

TEST(RetryBudgetTest, OffAllowsEverything) {
  FakeClock clock;
  RetryBudget b(clock.fn());
  EXPECT_FALSE(b.enabled());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(b.TryRetry());
  EXPECT_EQ(b.exceeded(), 0u);
}

TEST(RetryBudgetTest, RetriesAreARatioOfRequestsPlusAFloor) {
  FakeClock clock;
  RetryBudget b(clock.fn());
  b.Configure(Budget(0.2, 1, 10'000));          // floor: 1/s × 10 s = 10 retries
  for (int i = 0; i < 100; ++i) b.OnRequest();  // + 20 % of 100 = 20
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += b.TryRetry() ? 1 : 0;
  EXPECT_EQ(allowed, 30);
  EXPECT_EQ(b.exceeded(), 70u);
  // More requests deposit more.
  for (int i = 0; i < 10; ++i) b.OnRequest();
  EXPECT_TRUE(b.TryRetry());
  EXPECT_TRUE(b.TryRetry());
  EXPECT_FALSE(b.TryRetry());
}

TEST(RetryBudgetTest, TheWindowSlides) {
  FakeClock clock;
  RetryBudget b(clock.fn());
  b.Configure(Budget(0.5, 0, 1000));
  for (int i = 0; i < 10; ++i) b.OnRequest();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.TryRetry());
  EXPECT_FALSE(b.TryRetry());
  // One window later, the old requests and retries are forgotten: nothing deposited yet.
  clock.Advance(Millis(1000));
  EXPECT_FALSE(b.TryRetry());
  for (int i = 0; i < 4; ++i) b.OnRequest();
  EXPECT_TRUE(b.TryRetry());
  EXPECT_TRUE(b.TryRetry());
  EXPECT_FALSE(b.TryRetry());
}

}  // namespace
}  // namespace weft::waypoint::resilience
