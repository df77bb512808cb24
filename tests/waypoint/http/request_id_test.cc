// x-request-id values the waypoint makes: random (version 4, variant 10) UUIDs in their
// canonical text form, as Envoy's.

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "waypoint/http/filter_chain.h"

namespace weft::waypoint {
namespace {

TEST(RequestIdTest, CanonicalVersion4Uuids) {
  const std::regex uuid4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  std::set<char> digits;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewRequestId();
    ASSERT_TRUE(std::regex_match(id, uuid4)) << id;
    seen.insert(id);
    digits.insert(id.begin(), id.end());
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(digits.size(), 17u);  // every hex digit and '-'
}

}  // namespace
}  // namespace weft::waypoint
