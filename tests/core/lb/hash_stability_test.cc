// Consistent hashing keeps keys where they are when an unrelated endpoint goes away: with 10
// endpoints and 10,000 keys, removing one remaps about a tenth of the keys, and those are
// (mostly) the keys the removed endpoint had.

#include <gtest/gtest.h>

#include <cstdio>

#include "core/lb/balancer.h"

namespace weft::lb {
namespace {

std::vector<Target> Targets(int n, int skip = -1) {
  std::vector<Target> out;
  for (int i = 0; i < n; ++i) {
    if (i != skip) out.push_back({"10.1.0." + std::to_string(i + 1), 8080, {}, 1});
  }
  return out;
}

class HashStabilityTest : public ::testing::TestWithParam<Policy> {};

TEST_P(HashStabilityTest, RemovingOneOfTenTargetsRemapsAboutATenthOfTheKeys) {
  constexpr int kKeys = 10'000;
  for (int removed : {0, 3, 9}) {
    Balancer before(Targets(10), {GetParam()});
    Balancer after(Targets(10, removed), {GetParam()});
    int moved = 0, moved_elsewhere = 0, on_removed = 0;
    for (int k = 0; k < kKeys; ++k) {
      PickContext ctx;
      ctx.hash = StableHash("key-" + std::to_string(k));
      auto a = before.Pick(ctx), b = after.Pick(ctx);
      ASSERT_TRUE(a && b);
      const std::string& was = before.targets()[*a].address;
      const std::string& now = after.targets()[*b].address;
      bool from_removed = static_cast<int>(*a) == removed;
      on_removed += from_removed;
      if (was != now) {
        ++moved;
        if (!from_removed) ++moved_elsewhere;
      }
    }
    double fraction = static_cast<double>(moved) / kKeys;
    std::printf(
        "policy %d, removed %d: %d of %d keys remapped (%.3f), %d of them not from the "
        "removed target (which had %d)\n",
        static_cast<int>(GetParam()), removed, moved, kKeys, fraction, moved_elsewhere, on_removed);
    EXPECT_LE(fraction, 0.15);
    // Every key of the removed target moves, and little else does.
    EXPECT_EQ(moved - moved_elsewhere, on_removed);
    EXPECT_LE(moved_elsewhere, moved / 5) << "keys moved between targets that stayed";
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, HashStabilityTest,
                         ::testing::Values(Policy::kRingHash, Policy::kMaglev));

}  // namespace
}  // namespace weft::lb
