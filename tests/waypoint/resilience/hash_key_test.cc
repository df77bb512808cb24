#include "waypoint/resilience/hash_key.h"

#include <gtest/gtest.h>

namespace weft::waypoint::resilience {
namespace {

http::RequestHead Head(std::string path, http::HeaderMap headers = {}) {
  http::RequestHead h;
  h.method = "GET";
  h.path = std::move(path);
  h.headers = std::move(headers);
  return h;
}

TEST(HashKeyTest, Header) {
  pb::ConsistentHash c;
  c.set_http_header_name("x-user");
  auto a1 = ComputeHashKey(c, Head("/", {{"x-user", "alice"}}), "10.0.0.1", 1);
  auto a2 = ComputeHashKey(c, Head("/x", {{"x-user", "alice"}}), "10.0.0.2", 2);
  auto b = ComputeHashKey(c, Head("/", {{"x-user", "bob"}}), "10.0.0.1", 1);
  ASSERT_TRUE(a1.hash && a2.hash && b.hash);
  EXPECT_EQ(*a1.hash, *a2.hash);
  EXPECT_NE(*a1.hash, *b.hash);
  EXPECT_FALSE(ComputeHashKey(c, Head("/"), "10.0.0.1", 1).hash);
}

TEST(HashKeyTest, CookieReadAndGenerated) {
  pb::ConsistentHash c;
  c.mutable_http_cookie()->set_name("user");
  c.mutable_http_cookie()->set_path("/");
  // Without a ttl no cookie is generated: no key.
  auto none = ComputeHashKey(c, Head("/"), "10.0.0.1", 7);
  EXPECT_FALSE(none.hash);
  EXPECT_TRUE(none.set_cookie.empty());

  c.mutable_http_cookie()->set_ttl_ms(60'000);
  auto gen = ComputeHashKey(c, Head("/"), "10.0.0.1", 0xabc);
  ASSERT_TRUE(gen.hash);
  EXPECT_EQ(gen.set_cookie, "user=0000000000000abc; Path=/; Max-Age=60; HttpOnly");
  // The client sends it back: the same key.
  auto back =
      ComputeHashKey(c, Head("/", {{"cookie", "a=b; user=0000000000000abc"}}), "10.0.0.9", 1);
  ASSERT_TRUE(back.hash);
  EXPECT_EQ(*back.hash, *gen.hash);
  EXPECT_TRUE(back.set_cookie.empty());

  c.mutable_http_cookie()->set_ttl_ms(0);  // a session cookie
  EXPECT_EQ(ComputeHashKey(c, Head("/"), "", 1).set_cookie,
            "user=0000000000000001; Path=/; HttpOnly");
}

TEST(HashKeyTest, SourceIpAndQuery) {
  pb::ConsistentHash ip;
  ip.set_use_source_ip(true);
  EXPECT_EQ(*ComputeHashKey(ip, Head("/"), "10.0.0.1", 1).hash,
            *ComputeHashKey(ip, Head("/y"), "10.0.0.1", 2).hash);
  EXPECT_NE(*ComputeHashKey(ip, Head("/"), "10.0.0.1", 1).hash,
            *ComputeHashKey(ip, Head("/"), "10.0.0.2", 1).hash);

  pb::ConsistentHash q;
  q.set_http_query_parameter_name("user");
  auto a = ComputeHashKey(q, Head("/p?x=1&user=alice"), "", 1);
  auto a2 = ComputeHashKey(q, Head("/q?user=alice#frag"), "", 2);
  ASSERT_TRUE(a.hash && a2.hash);
  EXPECT_EQ(*a.hash, *a2.hash);
  EXPECT_FALSE(ComputeHashKey(q, Head("/p?users=alice"), "", 1).hash);
}

TEST(HashKeyTest, CookieParsing) {
  http::HeaderMap h{{"cookie", "a=1;b = 2"}, {"cookie", "c=\"3\""}};
  EXPECT_EQ(*CookieValue(h, "a"), "1");
  EXPECT_EQ(*CookieValue(h, "b"), "2");
  EXPECT_EQ(*CookieValue(h, "c"), "3");
  EXPECT_FALSE(CookieValue(h, "d"));
}

}  // namespace
}  // namespace weft::waypoint::resilience
