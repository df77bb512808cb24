// Serializers: exact bytes for the simple cases, framing written from the argument only,
// nothing that can split a line, and round trips through the parsers (serialize -> parse
// gives the same head and body).

#include "core/http/http1/serializer.h"

#include <gtest/gtest.h>

#include <string>

#include "core/http/http1/parser.h"

namespace weft::http::http1 {
namespace {

RequestHead SampleRequest() {
  RequestHead h;
  h.method = "POST";
  h.scheme = "http";
  h.authority = "reviews.demo.svc:9080";
  h.path = "/reviews/1?x=y";
  h.headers = {{"user-agent", "t/1"}, {"x-dup", "a"}, {"accept", "*/*"}, {"x-dup", "b"}};
  return h;
}

TEST(Serializer, RequestHeadBytes) {
  EXPECT_EQ(SerializeRequestHead(SampleRequest(), BodyFraming::ContentLength(3)),
            "POST /reviews/1?x=y HTTP/1.1\r\n"
            "host: reviews.demo.svc:9080\r\n"
            "user-agent: t/1\r\nx-dup: a\r\naccept: */*\r\nx-dup: b\r\n"
            "content-length: 3\r\n\r\n");
}

TEST(Serializer, FramingComesFromTheArgumentOnly) {
  RequestHead h = SampleRequest();
  h.headers.Add("Content-Length", "999");
  h.headers.Add("transfer-encoding", "gzip, chunked");
  h.headers.Add("host", "other");
  std::string none = SerializeRequestHead(h, BodyFraming::None());
  EXPECT_EQ(none.find("999"), std::string::npos);
  EXPECT_EQ(none.find("transfer-encoding"), std::string::npos);
  EXPECT_EQ(none.find("other"), std::string::npos);
  std::string chunked = SerializeRequestHead(h, BodyFraming::Chunked());
  EXPECT_NE(chunked.find("\r\ntransfer-encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(chunked.find("content-length"), std::string::npos);
}

TEST(Serializer, ResponseHeadBytes) {
  ResponseHead r;
  r.status = 404;
  r.headers = {{"content-type", "text/plain"}};
  EXPECT_EQ(SerializeResponseHead(r, BodyFraming::ContentLength(9)),
            "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\n");
  r.reason = "Nope";
  r.version = Version::kHttp10;
  EXPECT_EQ(SerializeResponseHead(r, BodyFraming::None()),
            "HTTP/1.0 404 Nope\r\ncontent-type: text/plain\r\n\r\n");
  ResponseHead stream;
  EXPECT_EQ(SerializeResponseHead(stream, BodyFraming::UntilClose()),
            "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
  stream.headers = {{"connection", "Close"}};
  EXPECT_EQ(SerializeResponseHead(stream, BodyFraming::UntilClose()),
            "HTTP/1.1 200 OK\r\nconnection: Close\r\n\r\n");
}

TEST(Serializer, NothingSplitsALine) {
  RequestHead h;
  h.method = "GET";
  h.authority = "a\r\nx-injected: 1";
  h.path = "/a\r\nb";
  h.headers = {{"x-v", "1\r\nx-injected: 2"}, {"bad name", "v"}, {"x-nul", std::string("a\0b", 3)}};
  std::string out = SerializeRequestHead(h, BodyFraming::None());
  EXPECT_EQ(out.find("\r\nx-injected"), std::string::npos);
  EXPECT_EQ(out.find("bad name"), std::string::npos);
  EXPECT_EQ(out.find('\0'), std::string::npos);
  // Exactly the lines we wrote: request line, host, x-v, x-nul, blank.
  size_t lines = 0;
  for (size_t p = out.find("\r\n"); p != std::string::npos; p = out.find("\r\n", p + 2)) ++lines;
  EXPECT_EQ(lines, 5u);
}

TEST(Serializer, Http10WithoutAuthorityHasNoHost) {
  RequestHead h;
  h.method = "GET";
  h.path = "/";
  h.version = Version::kHttp10;
  EXPECT_EQ(SerializeRequestHead(h, BodyFraming::None()), "GET / HTTP/1.0\r\n\r\n");
}

TEST(Serializer, Chunks) {
  EXPECT_EQ(ChunkHeader(1), "1\r\n");
  EXPECT_EQ(ChunkHeader(26), "1a\r\n");
  EXPECT_EQ(ChunkHeader(0x10000), "10000\r\n");
  EXPECT_EQ(ChunkHeader(UINT64_MAX), "ffffffffffffffff\r\n");
  EXPECT_EQ(Chunk("hello"), "5\r\nhello\r\n");
  EXPECT_EQ(Chunk(""), "");
  EXPECT_EQ(LastChunk(), "0\r\n\r\n");
  EXPECT_EQ(LastChunk({{"grpc-status", "0"}, {"content-length", "1"}, {"x-t", "a"}}),
            "0\r\ngrpc-status: 0\r\nx-t: a\r\n\r\n");
}

struct ParsedRequest {
  RequestHead head;
  MessageInfo info;
  std::string body;
  HeaderMap trailers;
  bool complete = false;
};

ParsedRequest ParseRequest(const std::string& bytes) {
  ParsedRequest out;
  RequestParser parser({
      .on_head =
          [&](RequestHead&& h, const MessageInfo& i) {
            out.head = std::move(h);
            out.info = i;
          },
      .on_body = [&](std::string_view d) { out.body.append(d); },
      .on_trailers = [&](HeaderMap&& t) { out.trailers = std::move(t); },
      .on_complete = [&] { out.complete = true; },
  });
  ParseResult r = parser.Feed(bytes);
  EXPECT_TRUE(r.ok()) << r.error_reason;
  EXPECT_EQ(r.consumed, bytes.size());
  return out;
}

void ExpectSameHead(const RequestHead& a, const RequestHead& b) {
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.scheme, b.scheme);
  EXPECT_EQ(a.authority, b.authority);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.version, b.version);
  ASSERT_EQ(a.headers.size(), b.headers.size());
  for (size_t i = 0; i < a.headers.size(); ++i) {
    EXPECT_EQ(a.headers.fields()[i].name, b.headers.fields()[i].name);
    EXPECT_EQ(a.headers.fields()[i].value, b.headers.fields()[i].value);
  }
}

TEST(SerializerRoundTrip, RequestWithContentLength) {
  RequestHead h = SampleRequest();
  std::string bytes = SerializeRequestHead(h, BodyFraming::ContentLength(5)) + "hello";
  ParsedRequest p = ParseRequest(bytes);
  h.headers.Add("content-length", "5");  // the framing the serializer wrote
  ExpectSameHead(p.head, h);
  EXPECT_EQ(p.info.framing, BodyFraming::ContentLength(5));
  EXPECT_EQ(p.body, "hello");
  EXPECT_TRUE(p.complete);
}

TEST(SerializerRoundTrip, RequestChunkedWithTrailers) {
  RequestHead h = SampleRequest();
  std::string bytes = SerializeRequestHead(h, BodyFraming::Chunked()) + Chunk("hello ") +
                      Chunk("world") + LastChunk({{"x-sum", "42"}});
  ParsedRequest p = ParseRequest(bytes);
  h.headers.Add("transfer-encoding", "chunked");
  ExpectSameHead(p.head, h);
  EXPECT_EQ(p.body, "hello world");
  EXPECT_EQ(p.trailers.Get("x-sum"), "42");
  EXPECT_TRUE(p.complete);
}

TEST(SerializerRoundTrip, ParsedRequestReserializesIdentically) {
  const std::string in =
      "GET /a?b HTTP/1.1\r\nhost: h:80\r\naccept: */*\r\nx-dup: 1\r\nx-dup: 2\r\n\r\n";
  ParsedRequest p = ParseRequest(in);
  EXPECT_EQ(SerializeRequestHead(p.head, p.info.framing), in);
}

TEST(SerializerRoundTrip, Versions) {
  for (Version v : {Version::kHttp10, Version::kHttp11}) {
    RequestHead h = SampleRequest();
    h.method = "GET";
    h.version = v;
    h.headers.Add("connection", "keep-alive");
    ParsedRequest p = ParseRequest(SerializeRequestHead(h, BodyFraming::None()));
    ExpectSameHead(p.head, h);
  }
}

TEST(SerializerRoundTrip, Response) {
  ResponseHead r;
  r.status = 201;
  r.reason = "Created Here";
  r.headers = {{"location", "/x/1"}, {"set-cookie", "a=1"}, {"set-cookie", "b=2"}};
  std::string bytes = SerializeResponseHead(r, BodyFraming::Chunked()) + Chunk("abc") + LastChunk();
  ResponseHead got;
  std::string body;
  bool complete = false;
  ResponseParser parser({
      .on_head = [&](ResponseHead&& h, const MessageInfo&) { got = std::move(h); },
      .on_body = [&](std::string_view d) { body.append(d); },
      .on_complete = [&] { complete = true; },
  });
  ParseResult res = parser.Feed(bytes);
  ASSERT_TRUE(res.ok()) << res.error_reason;
  EXPECT_EQ(got.status, 201);
  EXPECT_EQ(got.reason, "Created Here");
  r.headers.Add("transfer-encoding", "chunked");
  ASSERT_EQ(got.headers.size(), r.headers.size());
  for (size_t i = 0; i < r.headers.size(); ++i) {
    EXPECT_EQ(got.headers.fields()[i].name, r.headers.fields()[i].name);
    EXPECT_EQ(got.headers.fields()[i].value, r.headers.fields()[i].value);
  }
  EXPECT_EQ(body, "abc");
  EXPECT_TRUE(complete);
}

}  // namespace
}  // namespace weft::http::http1
