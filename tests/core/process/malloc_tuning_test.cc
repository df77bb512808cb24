// TunedGlibcTunables: what the programs execute themselves with (core/process/malloc_tuning.h).

#include "core/process/malloc_tuning.h"

#include <gtest/gtest.h>

namespace weft::process {
namespace {

const std::string kTuned = "glibc.malloc.tcache_count=" + std::to_string(kTcacheCount);

TEST(MallocTuningTest, UnsetBecomesTheTcacheCount) {
  EXPECT_EQ(TunedGlibcTunables(nullptr, nullptr), kTuned);
  EXPECT_EQ(TunedGlibcTunables("", nullptr), kTuned);
}

TEST(MallocTuningTest, AnOperatorsOtherTunablesAreKept) {
  EXPECT_EQ(TunedGlibcTunables("glibc.malloc.arena_max=2", nullptr),
            "glibc.malloc.arena_max=2:" + kTuned);
}

TEST(MallocTuningTest, ATcacheCountAlreadySetChangesNothingSoItNeverExecutesTwice) {
  EXPECT_EQ(TunedGlibcTunables(kTuned.c_str(), nullptr), std::nullopt);
  EXPECT_EQ(TunedGlibcTunables("glibc.malloc.tcache_count=7", nullptr), std::nullopt);
  EXPECT_EQ(TunedGlibcTunables("glibc.malloc.arena_max=2:glibc.malloc.tcache_count=64", nullptr),
            std::nullopt);
}

TEST(MallocTuningTest, TurnedOff) {
  EXPECT_EQ(TunedGlibcTunables(nullptr, "off"), std::nullopt);
  EXPECT_EQ(TunedGlibcTunables(nullptr, "on"), kTuned);
}

}  // namespace
}  // namespace weft::process
