// ResponseParser: the body rules that depend on the request (HEAD, CONNECT), 1xx interim
// responses, 204/304, until-close bodies, 101 upgrades, the strict framing checks (502), and
// that every split of the bytes gives the same events.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/http/http1/parser.h"

namespace weft::http::http1 {
namespace {

struct Outcome {
  std::vector<std::string> events;
  ParseStatus status = ParseStatus::kOk;
  int error_status = 0;
  std::string rest;
  std::vector<MessageInfo> infos;
};

// Feeds `pieces` (then Finish when `eof`), with the request methods queued first.
Outcome RunPieces(const std::vector<std::string>& methods, const std::vector<std::string>& pieces,
                  bool eof) {
  Outcome o;
  ResponseParser parser({
      .on_interim =
          [&](ResponseHead&& h) { o.events.push_back("interim " + std::to_string(h.status)); },
      .on_head =
          [&](ResponseHead&& h, const MessageInfo& info) {
            std::string e = "head " + std::to_string(h.status) + " " + h.reason;
            for (const auto& f : h.headers) e += " [" + f.name + ": " + f.value + "]";
            o.events.push_back(e);
            o.infos.push_back(info);
          },
      .on_body =
          [&](std::string_view d) {
            if (!o.events.empty() && o.events.back().rfind("body ", 0) == 0) {
              o.events.back() += std::string(d);  // pieces of one body compare as one
            } else {
              o.events.push_back("body " + std::string(d));
            }
          },
      .on_trailers =
          [&](HeaderMap&& t) {
            std::string e = "trailers";
            for (const auto& f : t) e += " [" + f.name + ": " + f.value + "]";
            o.events.push_back(e);
          },
      .on_complete = [&] { o.events.push_back("complete"); },
  });
  for (const auto& m : methods) parser.PushRequestMethod(m);
  std::string pending;
  size_t i = 0;
  bool stopped = false;
  for (; i < pieces.size() && !stopped; ++i) {
    pending += pieces[i];
    ParseResult r = parser.Feed(pending);
    pending.erase(0, r.consumed);
    o.status = r.status;
    o.error_status = r.error_status;
    if (r.status != ParseStatus::kOk) stopped = true;
  }
  if (stopped) {
    o.rest = pending;
    for (; i < pieces.size(); ++i) o.rest += pieces[i];
  } else if (eof) {
    ParseResult r = parser.Finish();
    o.status = r.status;
    o.error_status = r.error_status;
  }
  return o;
}

// Runs `raw` whole, byte by byte and in random splits; all must agree. Returns the outcome.
Outcome RunAllWays(const std::vector<std::string>& methods, const std::string& raw,
                   bool eof = false) {
  Outcome whole = RunPieces(methods, {raw}, eof);
  std::vector<std::string> bytes;
  for (char c : raw) bytes.emplace_back(1, c);
  Outcome by_byte = RunPieces(methods, bytes, eof);
  EXPECT_EQ(by_byte.events, whole.events) << "byte by byte";
  EXPECT_EQ(by_byte.status, whole.status);
  EXPECT_EQ(by_byte.rest, whole.rest);
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    std::mt19937 rng(seed);
    std::vector<std::string> split;
    for (size_t pos = 0; pos < raw.size();) {
      size_t n = std::uniform_int_distribution<size_t>(1, std::max<size_t>(1, raw.size() / 3))(rng);
      split.push_back(raw.substr(pos, n));
      pos += n;
    }
    Outcome o = RunPieces(methods, split, eof);
    EXPECT_EQ(o.events, whole.events) << "seed " << seed;
    EXPECT_EQ(o.status, whole.status) << "seed " << seed;
    EXPECT_EQ(o.rest, whole.rest) << "seed " << seed;
  }
  return whole;
}

using Events = std::vector<std::string>;

TEST(ResponseParser, ContentLength) {
  Outcome o = RunAllWays({"GET"}, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(o.events,
            (Events{"head 200 OK [content-length: 5] [x-a: 1]", "body hello", "complete"}));
  ASSERT_EQ(o.infos.size(), 1u);
  EXPECT_EQ(o.infos[0].framing, BodyFraming::ContentLength(5));
  EXPECT_TRUE(o.infos[0].keep_alive);
}

TEST(ResponseParser, ChunkedWithTrailers) {
  Outcome o = RunAllWays({"POST"},
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "4\r\nWiki\r\n5\r\npedia\r\n0\r\nGrpc-Status: 0\r\nX-T: a\r\n\r\n");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(o.events, (Events{"head 200 OK [transfer-encoding: chunked]", "body Wikipedia",
                              "trailers [grpc-status: 0] [x-t: a]", "complete"}));
  EXPECT_EQ(o.infos[0].framing, BodyFraming::Chunked());
}

TEST(ResponseParser, UntilClose) {
  Outcome o = RunAllWays({"GET"}, "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nstream of bytes", true);
  EXPECT_EQ(o.status, ParseStatus::kDone);
  EXPECT_EQ(o.events, (Events{"head 200 OK [x-a: 1]", "body stream of bytes", "complete"}));
  EXPECT_EQ(o.infos[0].framing, BodyFraming::UntilClose());
  EXPECT_FALSE(o.infos[0].keep_alive);
  // Without the close the body is not complete.
  Outcome open = RunPieces({"GET"}, {"HTTP/1.1 200 OK\r\n\r\nabc"}, false);
  EXPECT_EQ(open.events, (Events{"head 200 OK", "body abc"}));
}

TEST(ResponseParser, HeadResponseHasNoBody) {
  Outcome o = RunAllWays({"HEAD", "GET"},
                         "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(o.events, (Events{"head 200 OK [content-length: 1000]", "complete",
                              "head 200 OK [content-length: 2]", "body ok", "complete"}));
  EXPECT_EQ(o.infos[0].framing, BodyFraming::None());
}

TEST(ResponseParser, HeadResponseChunkedHasNoBody) {
  Outcome o = RunAllWays({"HEAD"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(o.events, (Events{"head 200 OK [transfer-encoding: chunked]", "complete"}));
}

TEST(ResponseParser, NoContentAndNotModified) {
  Outcome o = RunAllWays({"GET", "GET", "GET"},
                         "HTTP/1.1 204 No Content\r\n\r\n"
                         "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: \"x\"\r\n\r\n"
                         "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(o.events,
            (Events{"head 204 No Content", "complete",
                    "head 304 Not Modified [content-length: 50] [etag: \"x\"]", "complete",
                    "head 200 OK [content-length: 1]", "body z", "complete"}));
}

TEST(ResponseParser, InterimResponsesThenFinal) {
  Outcome o = RunAllWays({"POST"},
                         "HTTP/1.1 100 Continue\r\n\r\n"
                         "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                         "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nid");
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(o.events, (Events{"interim 100", "interim 103", "head 201 Created [content-length: 2]",
                              "body id", "complete"}));
}

TEST(ResponseParser, SwitchingProtocolsLeavesRawBytes) {
  Outcome o = RunAllWays({"GET"},
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\n\r\n\x81\x02hi");
  EXPECT_EQ(o.status, ParseStatus::kUpgrade);
  EXPECT_EQ(o.rest, "\x81\x02hi");
  EXPECT_EQ(o.events, (Events{"head 101 Switching Protocols [upgrade: websocket] "
                              "[connection: Upgrade]",
                              "complete"}));
  EXPECT_TRUE(o.infos[0].upgrade);
}

TEST(ResponseParser, ConnectSuccessIsATunnel) {
  Outcome o = RunAllWays({"CONNECT"}, "HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03tls");
  EXPECT_EQ(o.status, ParseStatus::kUpgrade);
  EXPECT_EQ(o.rest, "\x16\x03\x03tls");
  EXPECT_TRUE(o.infos[0].connect);
  // A refused CONNECT is an ordinary response with a body.
  Outcome refused =
      RunAllWays({"CONNECT"}, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno");
  EXPECT_EQ(refused.status, ParseStatus::kOk);
  EXPECT_EQ(refused.events,
            (Events{"head 403 Forbidden [content-length: 2]", "body no", "complete"}));
  EXPECT_FALSE(refused.infos[0].connect);
}

TEST(ResponseParser, KeepAliveRules) {
  Outcome close = RunAllWays({"GET"},
                             "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                             "garbage");
  EXPECT_EQ(close.status, ParseStatus::kDone);
  EXPECT_EQ(close.rest, "garbage");
  EXPECT_FALSE(close.infos[0].keep_alive);

  Outcome http10 = RunAllWays({"GET"}, "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na");
  EXPECT_EQ(http10.status, ParseStatus::kDone);
  EXPECT_FALSE(http10.infos[0].keep_alive);

  Outcome http10_ka = RunAllWays(
      {"GET"}, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na");
  EXPECT_EQ(http10_ka.status, ParseStatus::kOk);
  EXPECT_TRUE(http10_ka.infos[0].keep_alive);
}

TEST(ResponseParser, ReasonPhrases) {
  Outcome o = RunAllWays({"GET", "GET"},
                         "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"
                         "HTTP/1.1 404 Not Here At All\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(o.events, (Events{"head 200  [content-length: 0]", "complete",
                              "head 404 Not Here At All [content-length: 0]", "complete"}));
}

struct BadResponse {
  const char* name;
  std::string raw;
};

TEST(ResponseParser, MalformedIs502) {
  const BadResponse cases[] = {
      {"cl_and_te", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"two_cl", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
      {"cl_plus", "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc"},
      {"te_gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc"},
      {"te_gzip_chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
      {"te_http10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"obs_fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n"},
      {"bare_lf", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"},
      {"space_before_colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"},
      {"status_two_digits", "HTTP/1.1 20 OK\r\n\r\n"},
      {"status_four_digits", "HTTP/1.1 2000 OK\r\n\r\n"},
      {"status_out_of_range", "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n"},
      {"version_2", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"},
      {"not_http", "ICY 200 OK\r\n\r\n"},
      {"nul_in_value", std::string("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 27)},
      {"bad_chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"trailer_cl",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 1\r\n\r\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Outcome o = RunAllWays({"GET"}, c.raw);
    EXPECT_EQ(o.status, ParseStatus::kError);
    EXPECT_EQ(o.error_status, 502);
  }
}

TEST(ResponseParser, TruncatedBodyAtCloseIs502) {
  Outcome o = RunAllWays({"GET"}, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true);
  EXPECT_EQ(o.status, ParseStatus::kError);
  EXPECT_EQ(o.error_status, 502);
  EXPECT_EQ(o.events, (Events{"head 200 OK [content-length: 10]", "body abc"}));
}

TEST(ResponseParser, PauseAtHeadOfHeadResponseOwesComplete) {
  std::vector<std::string> events;
  ResponseParser* pp = nullptr;
  ResponseParser parser({
      .on_head =
          [&](ResponseHead&& h, const MessageInfo&) {
            events.push_back("head " + std::to_string(h.status));
            pp->Pause();
          },
      .on_complete = [&] { events.push_back("complete"); },
  });
  pp = &parser;
  parser.PushRequestMethod("HEAD");
  parser.PushRequestMethod("GET");
  std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n";
  std::string second = "HTTP/1.1 204 No Content\r\n\r\n";
  ParseResult r = parser.Feed(first + second);
  EXPECT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(events, (Events{"head 200"}));
  parser.Resume();
  r = parser.Feed(second);
  EXPECT_EQ(r.status, ParseStatus::kPaused);
  EXPECT_EQ(events, (Events{"head 200", "complete", "head 204"}));
  parser.Resume();
  r = parser.Feed("");
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(events, (Events{"head 200", "complete", "head 204", "complete"}));
}

}  // namespace
}  // namespace weft::http::http1
