// `weftctl node certs` rendering, from a canned GET /certs answer.

#include "tools/weftctl/certs.h"

#include <gtest/gtest.h>

namespace weft::weftctl {
namespace {

using Clock = std::chrono::system_clock;

constexpr char kCerts[] = R"([
  {"identity": "spiffe://cluster.local/ns/demo/sa/web", "serial": "5f3a9c",
   "not_before": "2025-01-01T00:00:00Z", "not_after": "2025-01-02T00:00:00Z",
   "state": "valid", "error": "", "next_attempt": "2025-01-01T12:00:00Z"},
  {"identity": "spiffe://cluster.local/ns/demo/sa/api", "serial": "",
   "not_before": null, "not_after": null,
   "state": "pending", "error": "CA answered 403: no pod", "next_attempt": "2025-01-01T06:00:04Z"},
  {"identity": "spiffe://cluster.local/ns/demo/sa/old", "serial": "01",
   "not_before": "2024-12-30T00:00:00Z", "not_after": "2025-01-01T05:00:00Z",
   "state": "expired", "error": "connect to CA 10.250.0.1:15012: Connection refused",
   "next_attempt": "2025-01-01T05:59:30Z"}
])";

Clock::time_point Now() {
  return Clock::from_time_t(1735711200);  // 2025-01-01T06:00:00Z
}

TEST(CertsTable, RendersOneRowPerIdentity) {
  auto t = RenderCerts(kCerts, Now());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(
      *t,
      R"(IDENTITY                               SERIAL  NOT AFTER                              STATE    NEXT     ERROR
spiffe://cluster.local/ns/demo/sa/web  5f3a9c  2025-01-02T00:00:00Z (in 18h)          valid    in 6h    -
spiffe://cluster.local/ns/demo/sa/api  -       -                                      pending  in 4s    CA answered 403: no pod
spiffe://cluster.local/ns/demo/sa/old  01      2025-01-01T05:00:00Z (expired 1h ago)  expired  30s ago  connect to CA 10.250.0.1:15012: Connection refused
)");
}

TEST(CertsTable, EmptyAndMalformed) {
  auto t = RenderCerts("[]", Now());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "IDENTITY  SERIAL  NOT AFTER  STATE  NEXT  ERROR\n");
  EXPECT_FALSE(RenderCerts("{\"not\": \"a list\"}", Now()).ok());
  EXPECT_FALSE(RenderCerts("garbage", Now()).ok());
}

}  // namespace
}  // namespace weft::weftctl
