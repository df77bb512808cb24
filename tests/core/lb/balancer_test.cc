#include "core/lb/balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace weft::lb {
namespace {

std::vector<Target> Three() {
  return {{"10.0.0.1", 80, {"r1", "z1", ""}, 1},
          {"10.0.0.2", 80, {"r1", "z2", ""}, 1},
          {"10.0.0.3", 80, {"r2", "z3", ""}, 1}};
}

std::map<size_t, int> Spread(Balancer& b, int n, PickContext ctx = {}) {
  std::map<size_t, int> counts;
  for (int i = 0; i < n; ++i) {
    auto p = b.Pick(ctx);
    EXPECT_TRUE(p.has_value());
    if (p) ++counts[*p];
  }
  return counts;
}

TEST(Balancer, RoundRobinIsExactOverThreeEndpoints) {
  Balancer b(Three(), {Policy::kRoundRobin});
  auto counts = Spread(b, 300);
  ASSERT_EQ(counts.size(), 3u);
  for (auto& [i, n] : counts) EXPECT_NEAR(n, 100, 1) << i;
}

TEST(Balancer, RandomCoversEveryEndpoint) {
  Balancer b(Three(), {Policy::kRandom}, 42);
  auto counts = Spread(b, 3000);
  ASSERT_EQ(counts.size(), 3u);
  for (auto& [i, n] : counts) EXPECT_NEAR(n, 1000, 150) << i;
}

TEST(Balancer, LeastRequestPrefersTheIdleEndpoint) {
  Balancer b(Three(), {Policy::kLeastRequest}, 7);
  for (int i = 0; i < 5; ++i) {
    b.Started(0);
    b.Started(2);
  }
  auto counts = Spread(b, 3000);
  // Power of two choices: the idle endpoint wins every pair it is in (2 of 3 pairs).
  EXPECT_GT(counts[1], 1800);
  EXPECT_LT(counts[0] + counts[2], 1200);
  for (int i = 0; i < 5; ++i) {
    b.Finished(0);
    b.Finished(2);
  }
  EXPECT_EQ(b.Active(0), 0);
}

TEST(Balancer, LeastRequestSpreadsWhenAllIdle) {
  Balancer b(Three(), {Policy::kLeastRequest}, 9);
  auto counts = Spread(b, 3000);
  ASSERT_EQ(counts.size(), 3u);
  for (auto& [i, n] : counts) EXPECT_GT(n, 600) << i;
}

class HashTest : public ::testing::TestWithParam<Policy> {};

TEST_P(HashTest, SameSourceSameEndpointAndSourcesSpread) {
  Balancer b(Three(), {GetParam()});
  std::map<size_t, int> per_endpoint;
  for (int src = 0; src < 300; ++src) {
    PickContext ctx;
    ctx.hash = StableHash("10.244.1." + std::to_string(src));
    auto first = b.Pick(ctx);
    ASSERT_TRUE(first);
    for (int again = 0; again < 5; ++again) EXPECT_EQ(b.Pick(ctx), first);
    ++per_endpoint[*first];
  }
  ASSERT_EQ(per_endpoint.size(), 3u);
  for (auto& [i, n] : per_endpoint) EXPECT_GT(n, 50) << i;
}

TEST_P(HashTest, StableAcrossInstancesAndMinimalDisruption) {
  // Another agent building the same table picks the same endpoints.
  Balancer a(Three(), {GetParam()});
  Balancer b(Three(), {GetParam()});
  auto four = Three();
  four.push_back({"10.0.0.4", 80, {}, 1});
  Balancer c(four, {GetParam()});
  int moved = 0;
  for (int src = 0; src < 400; ++src) {
    PickContext ctx;
    ctx.hash = StableHash("src-" + std::to_string(src));
    EXPECT_EQ(a.Pick(ctx), b.Pick(ctx));
    auto before = a.Pick(ctx), after = c.Pick(ctx);
    if (*after != 3 && after != before) ++moved;
  }
  // Adding a fourth endpoint moves keys to it, and few keys between the old three.
  EXPECT_LT(moved, 60);
}

INSTANTIATE_TEST_SUITE_P(Policies, HashTest, ::testing::Values(Policy::kRingHash, Policy::kMaglev));

TEST(Balancer, ExcludedEndpointsAreNeverPicked) {
  for (Policy p : {Policy::kRoundRobin, Policy::kRandom, Policy::kLeastRequest, Policy::kRingHash,
                   Policy::kMaglev}) {
    Balancer b(Three(), {p});
    std::vector<size_t> exclude = {0, 2};
    PickContext ctx;
    ctx.exclude = &exclude;
    for (int i = 0; i < 50; ++i) {
      ctx.hash = static_cast<uint64_t>(i) * 7919;
      EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(1));
    }
    exclude = {0, 1, 2};
    EXPECT_EQ(b.Pick(ctx), std::nullopt);
  }
}

TEST(Balancer, LocalityPrefersZoneThenRegionThenAny) {
  BalancerConfig cfg{Policy::kRoundRobin};
  cfg.locality_aware = true;
  Balancer b(Three(), cfg);
  Locality client{"r1", "z2", ""};
  PickContext ctx;
  ctx.client = &client;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(1));
  std::vector<size_t> exclude = {1};
  ctx.exclude = &exclude;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(0));  // same region
  exclude = {0, 1};
  EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(2));  // any
  // Without locality awareness the client's zone does not matter.
  Balancer plain(Three(), {Policy::kRoundRobin});
  ctx.exclude = nullptr;
  auto counts = Spread(plain, 30, ctx);
  EXPECT_EQ(counts.size(), 3u);
}

TEST(Balancer, EmptyHasNoPick) {
  for (Policy p : {Policy::kRoundRobin, Policy::kRingHash, Policy::kMaglev}) {
    Balancer b({}, {p});
    EXPECT_EQ(b.Pick({}), std::nullopt);
  }
}

}  // namespace
}  // namespace weft::lb
