// RequestParser beyond the corpus: the pause/resume protocol step by step, the default limits
// at their real sizes, sticky errors and terminal states, and that bodies are not buffered.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/http/http1/parser.h"

namespace weft::http::http1 {
namespace {

// Records events as text lines.
struct Recorder {
  std::vector<std::string> events;
  RequestParser* parser = nullptr;
  bool pause_on_head = false;
  bool pause_on_body = false;
  bool pause_on_complete = false;

  RequestParser::Callbacks Callbacks() {
    return {
        .on_head =
            [this](RequestHead&& h, const MessageInfo&) {
              events.push_back("head " + h.method + " " + h.path);
              if (pause_on_head) parser->Pause();
            },
        .on_body =
            [this](std::string_view d) {
              events.push_back("body " + std::string(d));
              if (pause_on_body) parser->Pause();
            },
        .on_trailers =
            [this](HeaderMap&& t) { events.push_back("trailers " + std::to_string(t.size())); },
        .on_complete =
            [this] {
              events.push_back("complete");
              if (pause_on_complete) parser->Pause();
            },
    };
  }
};

const std::string kGet1 = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n";
const std::string kGet2 = "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
const std::string kPost3 = "POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";

TEST(RequestParserPause, PipelinedRequestsWaitForResume) {
  Recorder rec;
  rec.pause_on_complete = true;
  RequestParser parser(rec.Callbacks());
  rec.parser = &parser;
  std::string in = kGet1 + kGet2 + kPost3;

  ParseResult r = parser.Feed(in);
  EXPECT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(r.consumed, kGet1.size());  // exactly the first request
  EXPECT_EQ(rec.events, (std::vector<std::string>{"head GET /1", "complete"}));
  EXPECT_TRUE(parser.paused());

  // Still paused: nothing more is parsed, nothing consumed.
  r = parser.Feed(in.substr(kGet1.size()));
  EXPECT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(rec.events.size(), 2u);

  parser.Resume();
  in.erase(0, kGet1.size());
  r = parser.Feed(in);
  EXPECT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(r.consumed, kGet2.size());
  in.erase(0, r.consumed);

  parser.Resume();
  r = parser.Feed(in);
  EXPECT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(r.consumed, kPost3.size());

  parser.Resume();
  r = parser.Feed("");
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(rec.events,
            (std::vector<std::string>{"head GET /1", "complete", "head GET /2", "complete",
                                      "head POST /3", "body hello", "complete"}));
}

TEST(RequestParserPause, PauseAtHeadStopsBeforeTheBody) {
  Recorder rec;
  rec.pause_on_head = true;
  RequestParser parser(rec.Callbacks());
  rec.parser = &parser;
  ParseResult r = parser.Feed(kPost3);
  EXPECT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(r.consumed, kPost3.size() - 5);  // the head, not one body byte
  EXPECT_EQ(rec.events, (std::vector<std::string>{"head POST /3"}));
  parser.Resume();
  r = parser.Feed(kPost3.substr(r.consumed));
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, 5u);
  EXPECT_EQ(rec.events, (std::vector<std::string>{"head POST /3", "body hello", "complete"}));
}

TEST(RequestParserPause, PauseAtBodyIsBackpressure) {
  Recorder rec;
  rec.pause_on_body = true;
  RequestParser parser(rec.Callbacks());
  rec.parser = &parser;
  std::string in =
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  ParseResult r = parser.Feed(in);
  ASSERT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(in.substr(r.consumed), "\r\n2\r\nde\r\n0\r\n\r\n");
  in.erase(0, r.consumed);
  parser.Resume();
  r = parser.Feed(in);
  ASSERT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(in.substr(r.consumed), "\r\n0\r\n\r\n");
  in.erase(0, r.consumed);
  parser.Resume();
  r = parser.Feed(in);
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(rec.events,
            (std::vector<std::string>{"head POST /", "body abc", "body de", "complete"}));
}

TEST(RequestParserPause, PauseOutsideACallback) {
  Recorder rec;
  RequestParser parser(rec.Callbacks());
  rec.parser = &parser;
  parser.Pause();
  ParseResult r = parser.Feed(kGet1);
  EXPECT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(rec.events.empty());
  parser.Resume();
  EXPECT_EQ(parser.Feed(kGet1).status, ParseStatus::kOk);
  EXPECT_EQ(rec.events.size(), 2u);
}

TEST(RequestParserPause, PauseAtHeadOfBodylessRequestOwesComplete) {
  Recorder rec;
  rec.pause_on_head = true;
  RequestParser parser(rec.Callbacks());
  rec.parser = &parser;
  ParseResult r = parser.Feed(kGet1 + kGet2);
  EXPECT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(r.consumed, kGet1.size());
  EXPECT_EQ(rec.events, (std::vector<std::string>{"head GET /1"}));
  parser.Resume();
  rec.pause_on_head = false;
  r = parser.Feed(kGet2);
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(rec.events,
            (std::vector<std::string>{"head GET /1", "complete", "head GET /2", "complete"}));
}

TEST(RequestParser, BodyIsNotBuffered) {
  // Fed in pieces, the body arrives in pieces, pointing into the bytes fed.
  std::vector<std::string_view> pieces;
  std::string body_piece = std::string(1000, 'x');
  RequestParser parser({.on_body = [&](std::string_view d) { pieces.push_back(d); }});
  std::string head = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3000\r\n\r\n";
  ASSERT_EQ(parser.Feed(head).status, ParseStatus::kOk);
  for (int i = 0; i < 3; ++i) {
    pieces.clear();
    ASSERT_EQ(parser.Feed(body_piece).status, ParseStatus::kOk);
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_EQ(pieces[0].data(), body_piece.data());
    EXPECT_EQ(pieces[0].size(), body_piece.size());
  }
}

TEST(RequestParser, MessageInfoAccessor) {
  RequestParser parser({});
  ASSERT_EQ(parser
                .Feed("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                      "Content-Length: 9\r\n\r\n")
                .status,
            ParseStatus::kOk);
  EXPECT_TRUE(parser.message().expect_continue);
  EXPECT_EQ(parser.message().framing, BodyFraming::ContentLength(9));
}

TEST(RequestParser, ErrorIsSticky) {
  RequestParser parser({});
  ParseResult r = parser.Feed("GET / HTTP/1.1\r\nHost : h\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_status, 400);
  EXPECT_FALSE(r.error_reason.empty());
  r = parser.Feed(kGet1);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(parser.Finish().status, ParseStatus::kError);
}

TEST(RequestParser, UpgradeAndDoneAreTerminal) {
  RequestParser parser({});
  std::string in = "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n";
  ParseResult r = parser.Feed(in + "xyz");
  EXPECT_EQ(r.status, ParseStatus::kUpgrade);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(parser.Feed("xyz").status, ParseStatus::kUpgrade);
  EXPECT_EQ(parser.Feed("xyz").consumed, 0u);

  RequestParser closing({});
  EXPECT_EQ(closing.Feed("GET / HTTP/1.0\r\n\r\n").status, ParseStatus::kDone);
  EXPECT_EQ(closing.Feed(kGet1).status, ParseStatus::kDone);
  EXPECT_EQ(closing.Finish().status, ParseStatus::kDone);
}

// --- default limits at their real sizes ---------------------------------------------------------

std::string RequestWithHeaderBytes(size_t value_bytes) {
  return "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(value_bytes, 'v') + "\r\n\r\n";
}

ParseResult FeedAll(const std::string& in, Limits limits = {}) {
  RequestParser parser({}, limits);
  return parser.Feed(in);
}

TEST(RequestParserLimits, DefaultsAreEnvoys) {
  Limits l;
  EXPECT_EQ(l.max_head_bytes, 60u * 1024);
  EXPECT_EQ(l.max_headers, 100u);
}

TEST(RequestParserLimits, HeadOf60KiB) {
  const size_t overhead = RequestWithHeaderBytes(0).size();
  EXPECT_EQ(FeedAll(RequestWithHeaderBytes(60 * 1024 - overhead)).status, ParseStatus::kOk);
  ParseResult r = FeedAll(RequestWithHeaderBytes(60 * 1024 - overhead + 1));
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_status, 431);
  // Many headers adding up past the limit, byte by byte, never terminated.
  RequestParser parser({});
  std::string in = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 90; ++i)
    in += "X-" + std::to_string(i) + ": " + std::string(1000, 'a') + "\r\n";
  ParseResult last;
  for (char c : in) {
    last = parser.Feed(std::string_view(&c, 1));
    if (last.status != ParseStatus::kOk) break;
  }
  EXPECT_EQ(last.status, ParseStatus::kError);
  EXPECT_EQ(last.error_status, 431);
}

TEST(RequestParserLimits, HundredHeaders) {
  auto with = [](int n) {
    std::string in = "GET / HTTP/1.1\r\n";
    for (int i = 1; i < n; ++i) in += "X-" + std::to_string(i) + ": v\r\n";
    return in + "Host: h\r\n\r\n";
  };
  EXPECT_EQ(FeedAll(with(100)).status, ParseStatus::kOk);
  ParseResult r = FeedAll(with(101));
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_status, 431);
}

TEST(RequestParserLimits, RequestLine) {
  auto with_path = [](size_t n) {
    return "GET /" + std::string(n - 1, 'p') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  };
  const size_t line_overhead = std::string("GET  HTTP/1.1\r").size();
  EXPECT_EQ(FeedAll(with_path(16 * 1024 - line_overhead)).status, ParseStatus::kOk);
  ParseResult r = FeedAll(with_path(16 * 1024 - line_overhead + 1));
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_status, 414);
  // Configurable.
  Limits l;
  l.max_request_line_bytes = 100;
  EXPECT_EQ(FeedAll(with_path(200), l).error_status, 414);
}

TEST(RequestParserLimits, ChunkExtensionsAtDefault) {
  std::string in = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;a=" +
                   std::string(2000, 'b') + "\r\nx\r\n0\r\n\r\n";
  ParseResult r = FeedAll(in);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_status, 400);
}

TEST(RequestParserLimits, TrailerSection) {
  Limits l;
  l.max_head_bytes = 200;
  std::string in = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: " +
                   std::string(300, 't') + "\r\n\r\n";
  ParseResult r = FeedAll(in, l);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_status, 431);
}

}  // namespace
}  // namespace weft::http::http1
