// Istio's localityLbSetting in the balancer: distribute (weights per locality), failover
// (region to region) and failoverPriority (tiers by matching labels), plus the default
// region/zone/subzone tiers.

#include <gtest/gtest.h>

#include <map>

#include "core/lb/balancer.h"

namespace weft::lb {
namespace {

std::map<size_t, int> Spread(Balancer& b, int n, const PickContext& ctx) {
  std::map<size_t, int> counts;
  for (int i = 0; i < n; ++i) {
    auto p = b.Pick(ctx);
    EXPECT_TRUE(p.has_value());
    if (p) ++counts[*p];
  }
  return counts;
}

TEST(Locality, PatternsMatchAsIstio) {
  Locality l{"us-west", "zone1", "rack2"};
  EXPECT_TRUE(LocalityMatches(l, "us-west"));
  EXPECT_TRUE(LocalityMatches(l, "us-west/*"));
  EXPECT_TRUE(LocalityMatches(l, "us-west/zone1"));
  EXPECT_TRUE(LocalityMatches(l, "us-west/zone1/*"));
  EXPECT_TRUE(LocalityMatches(l, "us-west/zone1/rack2"));
  EXPECT_TRUE(LocalityMatches(l, "*"));
  EXPECT_TRUE(LocalityMatches(l, "*/zone1"));
  EXPECT_FALSE(LocalityMatches(l, "us-east"));
  EXPECT_FALSE(LocalityMatches(l, "us-west/zone2"));
  EXPECT_FALSE(LocalityMatches(l, "us-west/zone1/rack1"));
}

// Four endpoints: two in r1/z1, one in r1/z2, one in r2/z3.
std::vector<Target> Four() {
  return {{"10.0.0.1", 80, {"r1", "z1", ""}, 1},
          {"10.0.0.2", 80, {"r1", "z1", ""}, 1},
          {"10.0.0.3", 80, {"r1", "z2", ""}, 1},
          {"10.0.0.4", 80, {"r2", "z3", ""}, 1}};
}

TEST(Locality, DistributeSendsEachLocalityItsWeight) {
  BalancerConfig cfg{Policy::kRandom};
  cfg.distribute = {{"r1/z1/*", {{"r1/z1/*", 20}, {"r1/z2/*", 80}}}};
  Balancer b(Four(), cfg, 11);
  Locality client{"r1", "z1", ""};
  PickContext ctx;
  ctx.client = &client;
  auto counts = Spread(b, 10'000, ctx);
  EXPECT_NEAR(counts[0] + counts[1], 2000, 250);
  EXPECT_GT(counts[0], 700);  // within a locality the policy spreads
  EXPECT_GT(counts[1], 700);
  EXPECT_NEAR(counts[2], 8000, 250);
  EXPECT_EQ(counts[3], 0);  // no `to` matches r2: none
  // A client the rule is not from: every endpoint (no locality tiers configured).
  Locality other{"r2", "z3", ""};
  ctx.client = &other;
  EXPECT_EQ(Spread(b, 2000, ctx).size(), 4u);
}

TEST(Locality, DistributeWildcardSharesByEndpointWeightAndFallsBackWhenEmpty) {
  BalancerConfig cfg{Policy::kRoundRobin};
  cfg.distribute = {{"r2", {{"r1/*", 100}}}};
  Balancer b(Four(), cfg, 5);
  Locality client{"r2", "z3", ""};
  PickContext ctx;
  ctx.client = &client;
  auto counts = Spread(b, 9000, ctx);
  // r1/z1 holds two of r1's three endpoints: two thirds of the traffic.
  EXPECT_NEAR(counts[0] + counts[1], 6000, 300);
  EXPECT_NEAR(counts[2], 3000, 300);
  EXPECT_EQ(counts[3], 0);
  // Every weighted locality gone (excluded): the other endpoints rather than nothing.
  std::vector<size_t> exclude = {0, 1, 2};
  ctx.exclude = &exclude;
  EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(3));
}

TEST(Locality, DistributeUnderConsistentHashKeepsAKeyInOneLocality) {
  BalancerConfig cfg{Policy::kMaglev};
  cfg.distribute = {{"r1/z1", {{"r1/z1", 50}, {"r1/z2", 50}}}};
  Balancer b(Four(), cfg);
  Locality client{"r1", "z1", ""};
  std::map<size_t, int> seen;
  for (int k = 0; k < 200; ++k) {
    PickContext ctx;
    ctx.client = &client;
    ctx.hash = StableHash("user-" + std::to_string(k));
    auto first = b.Pick(ctx);
    ASSERT_TRUE(first);
    for (int again = 0; again < 3; ++again) EXPECT_EQ(b.Pick(ctx), first);
    ++seen[*first];
  }
  EXPECT_NEAR(seen[2], 100, 30);
  EXPECT_EQ(seen[3], 0);
}

TEST(Locality, SubzoneZoneRegionThenFailoverRegionThenAny) {
  std::vector<Target> t = {{"10.0.0.1", 80, {"r1", "z1", "s1"}, 1},
                           {"10.0.0.2", 80, {"r1", "z1", "s2"}, 1},
                           {"10.0.0.3", 80, {"r1", "z2", ""}, 1},
                           {"10.0.0.4", 80, {"r2", "z4", ""}, 1},
                           {"10.0.0.5", 80, {"r3", "z5", ""}, 1}};
  BalancerConfig cfg{Policy::kRoundRobin};
  cfg.locality_aware = true;
  cfg.failover = {{"r9", "r2"}, {"r1", "r3"}};  // the first is another region's
  Balancer b(t, cfg);
  Locality client{"r1", "z1", "s2"};
  PickContext ctx;
  ctx.client = &client;
  std::vector<size_t> exclude;
  ctx.exclude = &exclude;
  EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(1));  // same subzone
  exclude = {1};
  EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(0));  // same zone
  exclude = {0, 1};
  EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(2));  // same region
  exclude = {0, 1, 2};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(4));  // r1 -> r3
  exclude = {0, 1, 2, 4};
  EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(3));  // anything
  // Without failover, the other regions are one tier.
  BalancerConfig plain{Policy::kRoundRobin};
  plain.locality_aware = true;
  Balancer p(t, plain);
  exclude = {0, 1, 2};
  EXPECT_EQ(Spread(p, 20, ctx).size(), 2u);
}

TEST(Locality, FailoverPriorityTiersByLeadingLabelsThatMatch) {
  std::vector<Target> t = {{"10.0.0.1", 80, {"r1", "z1", ""}, 1},
                           {"10.0.0.2", 80, {"r1", "z2", ""}, 1},
                           {"10.0.0.3", 80, {"r2", "z1", ""}, 1}};
  BalancerConfig cfg{Policy::kRoundRobin};
  cfg.locality_aware = true;
  cfg.failover_priority = {"topology.kubernetes.io/region", "topology.kubernetes.io/zone"};
  Balancer b(t, cfg);
  Locality client{"r1", "z1", ""};
  PickContext ctx;
  ctx.client = &client;
  std::vector<size_t> exclude;
  ctx.exclude = &exclude;
  EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(0));  // both labels
  exclude = {0};
  // Region only (P1) beats r2/z1, whose zone matches but only after a region that does not.
  EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(1));
  exclude = {0, 1};
  EXPECT_EQ(b.Pick(ctx), std::optional<size_t>(2));

  // "key=value" compares with the value, not the client's.
  BalancerConfig by_value = cfg;
  by_value.failover_priority = {"topology.kubernetes.io/zone=z2"};
  Balancer v(t, by_value);
  exclude.clear();
  EXPECT_EQ(v.Pick(ctx), std::optional<size_t>(1));

  // An unsupported label (one network here) matches every endpoint.
  BalancerConfig network = cfg;
  network.failover_priority = {"topology.istio.io/network", "topology.kubernetes.io/zone"};
  Balancer n(t, network);
  auto counts = Spread(n, 20, ctx);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0] + counts[2], 20);

  // With failover too, the failover region leads among the others.
  BalancerConfig both = cfg;
  both.failover_priority = {"topology.kubernetes.io/zone"};
  both.failover = {{"r1", "r2"}};
  std::vector<Target> t2 = t;
  t2.push_back({"10.0.0.4", 80, {"r3", "z1", ""}, 1});
  Balancer f(t2, both);
  exclude = {0};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(f.Pick(ctx), std::optional<size_t>(2));
}

}  // namespace
}  // namespace weft::lb
