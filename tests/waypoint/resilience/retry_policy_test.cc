#include "waypoint/resilience/retry_policy.h"

#include <gtest/gtest.h>

namespace weft::waypoint::resilience {
namespace {

AttemptResult Status(int s, std::optional<int> grpc = std::nullopt) {
  return {AttemptOutcome::kResponse, s, grpc};
}
AttemptResult Failed(AttemptOutcome o) {
  return {o, 0, std::nullopt};
}

RetryPolicy Policy(uint32_t attempts, std::vector<std::string> on) {
  pb::RetryPolicy p;
  p.set_attempts(attempts);
  for (auto& s : on) p.add_retry_on(s);
  return RetryPolicy::FromProto(p);
}

TEST(RetryPolicyTest, IstioDefaultRetriesConnectFailuresTwiceButNot503) {
  RetryPolicy p = RetryPolicy::ForRoute(nullptr);
  EXPECT_EQ(p.num_retries(), 2u);
  EXPECT_TRUE(p.Retriable(Failed(AttemptOutcome::kConnectFailure)));
  EXPECT_TRUE(p.Retriable(Failed(AttemptOutcome::kRefusedStream)));
  EXPECT_TRUE(p.Retriable(Status(200, 14)));  // unavailable
  EXPECT_TRUE(p.Retriable(Status(200, 1)));   // cancelled
  EXPECT_FALSE(p.Retriable(Status(503)));
  EXPECT_FALSE(p.Retriable(Status(500)));
  EXPECT_FALSE(p.Retriable(Failed(AttemptOutcome::kReset)));
  EXPECT_FALSE(p.Retriable(Status(200, 13)));  // internal: not by default

  pb::HttpRoute route;  // a route without `retries` gets the default too
  EXPECT_EQ(RetryPolicy::ForRoute(&route).num_retries(), 2u);
}

TEST(RetryPolicyTest, AttemptsZeroDisables) {
  pb::HttpRoute route;
  route.mutable_retries()->set_attempts(0);
  route.mutable_retries()->add_retry_on("5xx");
  RetryPolicy p = RetryPolicy::ForRoute(&route);
  EXPECT_EQ(p.num_retries(), 0u);
  EXPECT_FALSE(p.Retriable(Status(500)));
  EXPECT_FALSE(p.Retriable(Failed(AttemptOutcome::kConnectFailure)));
}

TEST(RetryPolicyTest, Conditions) {
  RetryPolicy x5 = Policy(3, {"5xx"});
  EXPECT_TRUE(x5.Retriable(Status(500)));
  EXPECT_TRUE(x5.Retriable(Status(599)));
  EXPECT_FALSE(x5.Retriable(Status(404)));
  EXPECT_TRUE(x5.Retriable(Failed(AttemptOutcome::kReset)));
  EXPECT_TRUE(x5.Retriable(Failed(AttemptOutcome::kPerTryTimeout)));
  EXPECT_TRUE(x5.Retriable(Failed(AttemptOutcome::kConnectFailure)));
  EXPECT_FALSE(x5.Retriable(Failed(AttemptOutcome::kProtocolError)));

  RetryPolicy gw = Policy(3, {"gateway-error"});
  EXPECT_FALSE(gw.Retriable(Status(500)));
  EXPECT_TRUE(gw.Retriable(Status(502)));
  EXPECT_TRUE(gw.Retriable(Status(503)));
  EXPECT_TRUE(gw.Retriable(Status(504)));
  EXPECT_TRUE(gw.Retriable(Failed(AttemptOutcome::kPerTryTimeout)));

  RetryPolicy reset = Policy(1, {"reset"});
  EXPECT_TRUE(reset.Retriable(Failed(AttemptOutcome::kReset)));
  EXPECT_FALSE(reset.Retriable(Status(503)));

  RetryPolicy cf = Policy(1, {"connect-failure"});
  EXPECT_TRUE(cf.Retriable(Failed(AttemptOutcome::kConnectFailure)));
  EXPECT_FALSE(cf.Retriable(Failed(AttemptOutcome::kReset)));

  RetryPolicy r4 = Policy(1, {"retriable-4xx"});
  EXPECT_TRUE(r4.Retriable(Status(409)));
  EXPECT_FALSE(r4.Retriable(Status(429)));

  RetryPolicy rs = Policy(1, {"refused-stream"});
  EXPECT_TRUE(rs.Retriable(Failed(AttemptOutcome::kRefusedStream)));
  EXPECT_FALSE(rs.Retriable(Failed(AttemptOutcome::kReset)));

  RetryPolicy codes = Policy(1, {"retriable-status-codes", "429", "503"});
  EXPECT_TRUE(codes.Retriable(Status(429)));
  EXPECT_TRUE(codes.Retriable(Status(503)));
  EXPECT_FALSE(codes.Retriable(Status(500)));

  RetryPolicy grpc = Policy(
      1, {"cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"});
  for (int s : {1, 4, 8, 13, 14}) EXPECT_TRUE(grpc.Retriable(Status(200, s))) << s;
  for (int s : {0, 2, 3, 5, 7, 12, 16}) EXPECT_FALSE(grpc.Retriable(Status(200, s))) << s;
}

TEST(RetryPolicyTest, HttpRouteCodesWithoutRetryOn) {
  pb::RetryPolicy p;
  p.set_attempts(2);
  p.add_retriable_status_codes(500);
  p.set_backoff_base_ms(100);
  RetryPolicy r = RetryPolicy::FromProto(p);
  EXPECT_TRUE(r.Retriable(Status(500)));
  EXPECT_FALSE(r.Retriable(Status(502)));
  EXPECT_TRUE(r.Retriable(Failed(AttemptOutcome::kConnectFailure)));
  EXPECT_LT(r.Backoff(1, ~0ull).count(), 100);
  EXPECT_LT(r.Backoff(9, ~0ull).count(), 1000);
}

TEST(RetryPolicyTest, BackoffIsJitteredExponentialWithEnvoysDefaults) {
  RetryPolicy p = Policy(5, {"5xx"});
  // Retry n waits in [0, min((2^n - 1) × 25 ms, 250 ms)).
  const int64_t limits[] = {25, 75, 175, 250, 250, 250};
  for (uint32_t n = 1; n <= 6; ++n) {
    int64_t max_seen = 0;
    for (uint64_t r = 0; r < 1000; ++r) {
      int64_t b = p.Backoff(n, r * 7919).count();
      EXPECT_GE(b, 0);
      EXPECT_LT(b, limits[n - 1]) << n;
      max_seen = std::max(max_seen, b);
    }
    EXPECT_GE(max_seen, limits[n - 1] - 2) << "jitter covers the range for retry " << n;
  }
}

TEST(RetryPolicyTest, PerTryTimeout) {
  pb::RetryPolicy p;
  p.set_attempts(3);
  p.set_per_try_timeout_ms(250);
  EXPECT_EQ(RetryPolicy::FromProto(p).per_try_timeout().count(), 250);
  EXPECT_NE(RetryPolicy::FromProto(p).Describe().find("perTryTimeout=250ms"), std::string::npos);
}

}  // namespace
}  // namespace weft::waypoint::resilience
