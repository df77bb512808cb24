// The strict head grammar on its own.

#include "core/http/http1/head_syntax.h"

#include <gtest/gtest.h>

namespace weft::http::http1 {
namespace {

TEST(HeadSyntax, Authority) {
  for (const char* ok : {"a", "a.b.c", "a:80", "10.0.0.1:8080", "[::1]", "[fd00::1]:443",
                         "xn--bcher-kva.example", "a_b", "%41b"}) {
    EXPECT_TRUE(IsValidAuthority(ok, false)) << ok;
  }
  for (const char* bad : {"", "a b", "a/b", "u@a", "a:", "a:65536", "a:8x", ":80", "[::1", "[]:80",
                          "a?b", "a#b", "%4"}) {
    EXPECT_FALSE(IsValidAuthority(bad, false)) << bad;
  }
  EXPECT_TRUE(IsValidAuthority("a:1", true));
  EXPECT_FALSE(IsValidAuthority("a", true));
}

TEST(HeadSyntax, ContentLength) {
  EXPECT_EQ(ParseContentLength("0"), 0u);
  EXPECT_EQ(ParseContentLength("0012"), 12u);
  EXPECT_EQ(ParseContentLength("999999999999999999"), 999999999999999999u);
  for (const char* bad : {"", "+1", "-1", "1 ", "1,1", "0x1", "9999999999999999999"}) {
    EXPECT_FALSE(ParseContentLength(bad).has_value()) << bad;
  }
}

TEST(HeadSyntax, RequestLine) {
  RequestLine rl;
  EXPECT_FALSE(ParseRequestLine("GET /a HTTP/1.0", &rl).has_value());
  EXPECT_EQ(rl.method, "GET");
  EXPECT_EQ(rl.target, "/a");
  EXPECT_EQ(rl.version, Version::kHttp10);
  EXPECT_EQ(ParseRequestLine("GET /a HTTP/2.0", &rl)->status, 505);
  EXPECT_EQ(ParseRequestLine("GET /a HTTP/1.2", &rl)->status, 505);
  EXPECT_EQ(ParseRequestLine("GET  /a HTTP/1.1", &rl)->status, 400);
  EXPECT_EQ(ParseRequestLine("GET /a  HTTP/1.1", &rl)->status, 400);
  EXPECT_EQ(ParseRequestLine("GET /a HTTP/1.1 ", &rl)->status, 400);
  EXPECT_EQ(ParseRequestLine("G(T /a HTTP/1.1", &rl)->status, 400);
  EXPECT_EQ(ParseRequestLine("GET /a RTSP/1.0", &rl)->status, 400);
}

TEST(HeadSyntax, StatusLine) {
  StatusLine sl;
  EXPECT_FALSE(ParseStatusLine("HTTP/1.1 200 OK", &sl).has_value());
  EXPECT_EQ(sl.status, 200);
  EXPECT_EQ(sl.reason, "OK");
  EXPECT_FALSE(ParseStatusLine("HTTP/1.1 204", &sl).has_value());
  EXPECT_EQ(sl.reason, "");
  EXPECT_TRUE(ParseStatusLine("HTTP/1.1 20 OK", &sl).has_value());
  EXPECT_TRUE(ParseStatusLine("HTTP/1.1 600 Odd", &sl).has_value());
  EXPECT_TRUE(ParseStatusLine("HTTP/1.1 200OK", &sl).has_value());
}

TEST(HeadSyntax, FieldSection) {
  HeaderMap h;
  EXPECT_FALSE(ParseFieldSection("A: 1\r\nb:2 \r\nC:\r\n\r\n", 10, &h).has_value());
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h.fields()[0].name, "a");
  EXPECT_EQ(h.fields()[1].value, "2");
  EXPECT_EQ(h.fields()[2].value, "");
  HeaderMap x;
  EXPECT_EQ(ParseFieldSection("A: 1\r\n b\r\n\r\n", 10, &x)->reason,
            "obs-fold (line folding) in a field");
  EXPECT_EQ(ParseFieldSection("A : 1\r\n\r\n", 10, &x)->reason,
            "whitespace between field name and colon");
  EXPECT_EQ(ParseFieldSection("A: 1\nB: 2\r\n\r\n", 10, &x)->status, 400);
  EXPECT_EQ(ParseFieldSection("A: 1\r\nB: 2\r\n\r\n", 1, &x)->status, 431);
}

TEST(HeadSyntax, Targets) {
  TargetForm f;
  std::string_view auth;
  EXPECT_FALSE(CheckTarget("GET", "/a", &f, &auth).has_value());
  EXPECT_EQ(f, TargetForm::kOrigin);
  EXPECT_FALSE(CheckTarget("GET", "HTTPS://h:1/x", &f, &auth).has_value());
  EXPECT_EQ(f, TargetForm::kAbsolute);
  EXPECT_EQ(auth, "h:1");
  EXPECT_FALSE(CheckTarget("CONNECT", "h:443", &f, &auth).has_value());
  EXPECT_EQ(f, TargetForm::kAuthority);
  EXPECT_FALSE(CheckTarget("OPTIONS", "*", &f, &auth).has_value());
  EXPECT_TRUE(CheckTarget("GET", "*", &f, &auth).has_value());
  EXPECT_TRUE(CheckTarget("GET", "/a#b", &f, &auth).has_value());
  EXPECT_TRUE(CheckTarget("CONNECT", "/a", &f, &auth).has_value());
  EXPECT_TRUE(CheckTarget("GET", "a/b", &f, &auth).has_value());
}

TEST(HeadSyntax, ListTokens) {
  HeaderMap h{{"connection", "keep-alive , Upgrade"}, {"Connection", "x"}};
  EXPECT_TRUE(HasListToken(h, "connection", "upgrade"));
  EXPECT_TRUE(HasListToken(h, "CONNECTION", "x"));
  EXPECT_FALSE(HasListToken(h, "connection", "close"));
  EXPECT_FALSE(HasListToken(h, "connection", "keep"));
}

}  // namespace
}  // namespace weft::http::http1
