// Hop-by-hop headers (RFC 9110 §7.6.1) and the HTTP/2 header lists the waypoint builds from
// its message heads: what is stripped, what is kept, in order.

#include "waypoint/http/hop_by_hop.h"

#include <gtest/gtest.h>

#include "waypoint/http/h2_server.h"

namespace weft::waypoint {
namespace {

std::vector<std::string> Names(const http::HeaderMap& h) {
  std::vector<std::string> out;
  for (const auto& f : h) out.push_back(f.name);
  return out;
}

std::vector<std::string> Lines(const H2HeaderBlock& block) {
  std::vector<std::string> out;
  for (const auto& f : block.refs())
    out.push_back(std::string(f.name) + ": " + std::string(f.value));
  return out;
}

TEST(HopByHopTest, NamesAlwaysRemoved) {
  for (const char* n :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}) {
    EXPECT_TRUE(IsHopByHopName(n)) << n;
  }
  for (const char* n : {"", "t", "host", "content-length", "trailer", "upgrade-insecure-requests",
                        "x-connection", "connections"}) {
    EXPECT_FALSE(IsHopByHopName(n)) << n;
  }
}

TEST(HopByHopTest, AMessageWithoutThemIsLeftAsItIs) {
  http::HeaderMap h{{"a", "1"}, {"content-length", "3"}, {"b", "2"}};
  EXPECT_FALSE(HasHopByHop(h));
  StripHopByHop(h, true);
  EXPECT_EQ(Names(h), (std::vector<std::string>{"a", "content-length", "b"}));
}

TEST(HopByHopTest, ConnectionAndTheHeadersItNamesAreRemoved) {
  http::HeaderMap h{{"a", "1"},          {"Connection", "close, X-Foo"}, {"x-foo", "y"},
                    {"keep-alive", "5"}, {"te", "trailers, deflate"},    {"b", "2"}};
  EXPECT_TRUE(HasHopByHop(h));
  http::HeaderMap response = h;
  StripHopByHop(response, /*keep_te_trailers=*/false);
  EXPECT_EQ(Names(response), (std::vector<std::string>{"a", "b"}));
  // A request keeps "te: trailers" (gRPC needs it), as the only TE value.
  StripHopByHop(h, /*keep_te_trailers=*/true);
  EXPECT_EQ(Names(h), (std::vector<std::string>{"a", "b", "te"}));
  EXPECT_EQ(h.Get("te"), "trailers");
}

TEST(HopByHopTest, H2RequestListHasPseudoHeadersFirstAndNoHostOrHopByHop) {
  http::RequestHead head;
  head.method = "GET";
  head.authority = "web:80";
  head.path = "/a?b";
  head.headers = {{"host", "web"}, {"accept", "*/*"}, {"upgrade", "h2c"}, {"x-a", "1"}};
  EXPECT_EQ(Lines(H2HeaderBlock(head)),
            (std::vector<std::string>{":method: GET", ":scheme: http", ":authority: web:80",
                                      ":path: /a?b", "accept: */*", "x-a: 1"}));
  // Without anything to strip the list is the head's headers as they are (host still dropped).
  head.headers = {{"accept", "*/*"}, {"host", "web"}, {"x-a", "1"}};
  EXPECT_EQ(Lines(H2HeaderBlock(head)),
            (std::vector<std::string>{":method: GET", ":scheme: http", ":authority: web:80",
                                      ":path: /a?b", "accept: */*", "x-a: 1"}));
  head.method = "CONNECT";
  head.headers = {};
  EXPECT_EQ(Lines(H2HeaderBlock(head)),
            (std::vector<std::string>{":method: CONNECT", ":authority: web:80"}));
}

TEST(HopByHopTest, H2ResponseListHasStatusFirstAndNoHopByHop) {
  http::ResponseHead head;
  head.status = 404;
  head.headers = {{"content-type", "text/plain"},
                  {"transfer-encoding", "chunked"},
                  {"te", "trailers"},
                  {"x-b", "2"}};
  // Without ":status": Stream::RespondRefs puts it first.
  EXPECT_EQ(Lines(H2HeaderBlock(head)),
            (std::vector<std::string>{"content-type: text/plain", "x-b: 2"}));
  // The views are of the head itself when nothing is stripped.
  head.headers = {{"content-type", "text/plain"}};
  H2HeaderBlock block(head);
  ASSERT_EQ(block.refs().size(), 1u);
  EXPECT_EQ(block.refs()[0].value.data(), head.headers.fields()[0].value.data());
}

TEST(HopByHopTest, FromH2DropsPseudoHeadersAndTakesTheStrings) {
  const h2::Headers list = {{":status", "200"}, {"a", "1"}, {"b", "2"}};
  EXPECT_EQ(Names(FromH2(list)), (std::vector<std::string>{"a", "b"}));
  h2::Headers taken = {{":status", "200"}, {"x-long-header-name", std::string(64, 'v')}};
  const char* value = taken[1].value.data();
  http::HeaderMap map = FromH2(std::move(taken));
  ASSERT_EQ(map.size(), 1u);
  EXPECT_EQ(map.fields()[0].value.data(), value);  // moved, not copied
  EXPECT_EQ(map.Get("X-Long-Header-Name"), std::string(64, 'v'));
}

}  // namespace
}  // namespace weft::waypoint
