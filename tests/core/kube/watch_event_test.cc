// ParseWatchEvent: one line of a watch stream (core/kube/reflector.h). The malformed cases
// are the ones tests/fuzz/watch_event_fuzzer found or would: each used to reach the
// reflector's consumers as a null object or to throw out of the reflector's thread.

#include <gtest/gtest.h>

#include "core/kube/reflector.h"

namespace weft::kube {
namespace {

TEST(ParseWatchEvent, TheApiServersEvents) {
  auto added = ParseWatchEvent(
      R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"7"}}})");
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->type, WatchEvent::kAdded);
  EXPECT_EQ(added->object["metadata"]["name"], "a");
  EXPECT_EQ(added->resource_version, "7");

  auto bookmark =
      ParseWatchEvent(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})");
  ASSERT_TRUE(bookmark.ok()) << bookmark.status();
  EXPECT_EQ(bookmark->type, WatchEvent::kBookmark);
  EXPECT_EQ(bookmark->resource_version, "9");

  auto gone = ParseWatchEvent(
      R"({"type":"ERROR","object":{"kind":"Status","message":"too old resource version","code":410}})");
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->type, WatchEvent::kError);
  EXPECT_EQ(gone->error_code, 410);
  EXPECT_EQ(gone->error_message, "too old resource version");

  auto other = ParseWatchEvent(R"({"type":"SOMETHING-NEW","object":{}})");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->type, WatchEvent::kUnknown);

  EXPECT_FALSE(ParseWatchEvent("not json").ok());
  EXPECT_FALSE(ParseWatchEvent("[1]").ok());
}

TEST(ParseWatchEvent, AnObjectEventWithoutAnObjectIsRefused) {
  for (const char* line :
       {R"({"type":"ADDED"})", R"({"type":"MODIFIED","object":null})",
        R"({"type":"DELETED","object":[{"metadata":{}}]})", R"({"type":"ADDED","object":"pod"})"}) {
    auto ev = ParseWatchEvent(line);
    EXPECT_EQ(ev.status().code(), absl::StatusCode::kInvalidArgument) << line;
  }
}

TEST(ParseWatchEvent, FieldsOfAnotherTypeDoNotThrow) {
  // A `type` that is not a string: an event type it does not know, ignored.
  auto ev = ParseWatchEvent(R"({"type":1,"object":{}})");
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->type, WatchEvent::kUnknown);
  // metadata or resourceVersion that is not what it should be: no resourceVersion.
  ev = ParseWatchEvent(R"({"type":"ADDED","object":{"metadata":5}})");
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->resource_version, "");
  ev = ParseWatchEvent(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":12}}})");
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->resource_version, "");
  // An ERROR's code and message of another type, or out of range.
  ev = ParseWatchEvent(R"({"type":"ERROR","object":{"code":"410","message":7}})");
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->error_code, 0);
  EXPECT_EQ(ev->error_message, "error");
  for (const char* code : {"1e300", "4294967706", "-1e300", "410.5"}) {
    ev = ParseWatchEvent(std::string(R"({"type":"ERROR","object":{"code":)") + code + "}}");
    ASSERT_TRUE(ev.ok()) << ev.status();
    EXPECT_EQ(ev->error_code, 0) << code;
  }
}

}  // namespace
}  // namespace weft::kube
