#include "core/http/message.h"

#include <gtest/gtest.h>

namespace weft::http {
namespace {

TEST(HeaderMapTest, NamesAreCaseInsensitiveAndStoredLowercase) {
  HeaderMap h;
  h.Add("Content-Type", "text/plain");
  EXPECT_EQ(h.fields()[0].name, "content-type");
  ASSERT_TRUE(h.Get("CONTENT-TYPE").has_value());
  EXPECT_EQ(*h.Get("content-type"), "text/plain");
  EXPECT_FALSE(h.Get("content-length").has_value());
}

TEST(HeaderMapTest, DuplicatesKeptInOrder) {
  HeaderMap h{{"set-cookie", "a=1"}, {"x", "y"}, {"Set-Cookie", "b=2"}};
  auto all = h.GetAll("set-cookie");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], "a=1");
  EXPECT_EQ(all[1], "b=2");
}

TEST(HeaderMapTest, SetReplacesAllAtTheFirstPlace) {
  HeaderMap h{{"a", "1"}, {"b", "2"}, {"a", "3"}};
  h.Set("A", "9");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h.fields()[0].name, "a");
  EXPECT_EQ(h.fields()[0].value, "9");
  EXPECT_EQ(h.fields()[1].name, "b");
  h.Set("c", "4");
  EXPECT_EQ(h.fields().back().name, "c");
}

TEST(HeaderMapTest, RemoveCountsAndByteSize) {
  HeaderMap h{{"a", "1"}, {"b", "22"}, {"a", "3"}};
  EXPECT_EQ(h.ByteSize(), 7u);
  EXPECT_EQ(h.Remove("A"), 2u);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.Remove("zz"), 0u);
}

TEST(RequestHeadTest, PathAndQuery) {
  RequestHead r;
  r.path = "/a/b?x=1&y=2";
  EXPECT_EQ(r.PathOnly(), "/a/b");
  EXPECT_EQ(r.Query(), "x=1&y=2");
  r.path = "/plain";
  EXPECT_EQ(r.PathOnly(), "/plain");
  EXPECT_EQ(r.Query(), "");
}

TEST(StatusTextTest, KnownAndUnknown) {
  EXPECT_EQ(StatusText(431), "Request Header Fields Too Large");
  EXPECT_EQ(StatusText(299), "Unknown");
}

}  // namespace
}  // namespace weft::http
