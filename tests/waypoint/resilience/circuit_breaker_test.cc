#include "waypoint/resilience/circuit_breaker.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace weft::waypoint::resilience {
namespace {

TEST(CircuitBreakerTest, UnlimitedWithoutAPolicy) {
  CircuitBreaker cb;
  cb.SetLimits(PoolLimits::From(nullptr));
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(cb.TryStartRequest());
    ASSERT_TRUE(cb.TryOpenConnection());
    ASSERT_TRUE(cb.TryAddPending());
    ASSERT_TRUE(cb.TryStartRetry());
  }
  EXPECT_EQ(cb.stats().rq_overflow.load(), 0u);
}

TEST(CircuitBreakerTest, LimitsFromTheConnectionPool) {
  pb::ClusterPolicy p;
  auto* cp = p.mutable_connection_pool();
  cp->set_max_connections(1);
  cp->set_http1_max_pending_requests(1);
  cp->set_http2_max_requests(2);
  cp->set_max_retries(1);
  CircuitBreaker cb;
  cb.SetLimits(PoolLimits::From(&p));

  EXPECT_TRUE(cb.TryOpenConnection());
  EXPECT_FALSE(cb.TryOpenConnection());
  EXPECT_EQ(cb.stats().cx_overflow.load(), 1u);
  cb.ConnectionClosed();
  EXPECT_TRUE(cb.TryOpenConnection());

  EXPECT_TRUE(cb.TryAddPending());
  EXPECT_FALSE(cb.TryAddPending());
  EXPECT_EQ(cb.stats().rq_pending_overflow.load(), 1u);
  cb.RemovePending();
  EXPECT_TRUE(cb.TryAddPending());

  EXPECT_TRUE(cb.TryStartRequest());
  EXPECT_TRUE(cb.TryStartRequest());
  EXPECT_FALSE(cb.TryStartRequest());
  EXPECT_EQ(cb.stats().rq_overflow.load(), 1u);
  cb.FinishRequest();
  EXPECT_TRUE(cb.TryStartRequest());

  EXPECT_TRUE(cb.TryStartRetry());
  EXPECT_FALSE(cb.TryStartRetry());
  EXPECT_EQ(cb.stats().rq_retry_overflow.load(), 1u);
  cb.FinishRetry();
  EXPECT_TRUE(cb.TryStartRetry());
}

TEST(CircuitBreakerTest, EnvoyRetryBudgetScalesWithActiveRequests) {
  pb::ClusterPolicy p;
  p.mutable_retry_budget()->set_enabled(true);
  p.mutable_retry_budget()->set_percent(50);
  p.mutable_retry_budget()->set_min_retry_concurrency(1);
  CircuitBreaker cb;
  cb.SetLimits(PoolLimits::From(&p));
  // No active requests: the minimum, 1.
  EXPECT_TRUE(cb.TryStartRetry());
  EXPECT_FALSE(cb.TryStartRetry());
  cb.FinishRetry();
  // 10 active requests: 50 % = 5 concurrent retries.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(cb.TryStartRequest());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(cb.TryStartRetry()) << i;
  EXPECT_FALSE(cb.TryStartRetry());
}

TEST(CircuitBreakerTest, ExactUnderConcurrency) {
  pb::ClusterPolicy p;
  p.mutable_connection_pool()->set_http2_max_requests(100);
  CircuitBreaker cb;
  cb.SetLimits(PoolLimits::From(&p));
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (cb.TryStartRequest()) admitted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 100);
  EXPECT_EQ(cb.requests(), 100);
}

}  // namespace
}  // namespace weft::waypoint::resilience
