#pragma once

// Tests that need root (BPF, network namespaces) call WEFT_REQUIRE_ROOT() first: they skip
// when not root, except under CI=true, where a skip would hide a failure.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#define WEFT_REQUIRE_ROOT()                                                               \
  do {                                                                                    \
    if (geteuid() != 0) {                                                                 \
      const char* ci = std::getenv("CI");                                                 \
      if (ci && *ci && std::strcmp(ci, "false") != 0) {                                   \
        FAIL() << "this test needs root, and CI must run it (a skip in CI is a failure)"; \
      }                                                                                   \
      GTEST_SKIP() << "needs root";                                                       \
    }                                                                                     \
  } while (0)
