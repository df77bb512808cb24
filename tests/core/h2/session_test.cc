// h2::Session over plain TCP on loopback: requests and responses, per-stream flow control
// given back only as the application reads, END_STREAM both ways, GOAWAY shutdown.

#include "core/h2/session.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>

namespace weft::h2 {
namespace {

using namespace std::chrono_literals;

bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.run_one_for(10ms);
    if (io.stopped()) io.restart();
  }
  return true;
}

// Counts the session's transport writes (system calls, TLS records on a real connection).
class CountingTransport final : public Transport {
 public:
  CountingTransport(std::unique_ptr<Transport> inner, int* writes)
      : inner_(std::move(inner)), writes_(writes) {}
  asio::any_io_executor executor() override { return inner_->executor(); }
  void AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) override {
    inner_->AsyncReadSome(buf, std::move(handler));
  }
  void AsyncWrite(asio::const_buffer buf, IoHandler handler) override {
    ++*writes_;
    inner_->AsyncWrite(buf, std::move(handler));
  }
  void Close() override { inner_->Close(); }

 private:
  std::unique_ptr<Transport> inner_;
  int* writes_;
};

class SessionTest : public ::testing::Test {
 protected:
  // A connected client/server session pair; the server answers every request with
  // `on_request`.
  void Connect(SessionSettings client_settings, SessionSettings server_settings) {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket c(io_);
    c.connect(acceptor.local_endpoint());
    tcp::socket s = acceptor.accept();
    Session::Callbacks scb;
    scb.on_request = [this](std::shared_ptr<Stream> st) { server_streams_.push_back(st); };
    scb.on_close = [this](error_code) { server_closed_ = true; };
    server_ = Session::Create(Session::kServer, std::make_unique<TcpTransport>(std::move(s)),
                              server_settings, std::move(scb));
    Session::Callbacks ccb;
    ccb.on_close = [this](error_code) { client_closed_ = true; };
    client_ = Session::Create(Session::kClient,
                              std::make_unique<CountingTransport>(
                                  std::make_unique<TcpTransport>(std::move(c)), &client_writes_),
                              client_settings, std::move(ccb));
    server_->Start();
    client_->Start();
  }

  void TearDown() override {
    if (client_) client_->Close();
    if (server_) server_->Close();
    RunUntil(
        io_, [] { return false; }, 20ms);
  }

  asio::io_context io_;
  std::shared_ptr<Session> client_, server_;
  std::vector<std::shared_ptr<Stream>> server_streams_;
  bool client_closed_ = false, server_closed_ = false;
  int client_writes_ = 0;
};

TEST_F(SessionTest, RequestAndResponseWithBodiesBothWays) {
  Connect({}, {});
  std::shared_ptr<Stream> resp;
  auto st = client_->SubmitRequest(
      {{":method", "POST"}, {":scheme", "https"}, {":path", "/v1/sign"}, {":authority", "ca"}},
      false, [&](error_code e, std::shared_ptr<Stream> s) {
        ASSERT_FALSE(e) << e.message();
        resp = s;
      });
  ASSERT_TRUE(st);
  std::string body = "{\"csr\": \"...\"}";
  bool wrote = false;
  st->AsyncWrite(asio::buffer(body), [&](error_code e, size_t n) {
    EXPECT_FALSE(e);
    EXPECT_EQ(n, body.size());
    st->ShutdownSend();
    wrote = true;
  });
  ASSERT_TRUE(RunUntil(io_, [&] { return wrote && server_streams_.size() == 1; }));
  auto& ss = server_streams_[0];
  EXPECT_EQ(ss->header(":path"), "/v1/sign");
  // The server reads the request body to END_STREAM.
  std::string got;
  bool eof = false;
  std::vector<char> buf(4);
  std::function<void()> read = [&] {
    ss->AsyncReadSome(asio::buffer(buf), [&](error_code e, size_t n) {
      if (e) {
        eof = e == asio::error::eof;
        return;
      }
      got.append(buf.data(), n);
      read();
    });
  };
  read();
  ASSERT_TRUE(RunUntil(io_, [&] { return eof; }));
  EXPECT_EQ(got, body);
  // A response with a body, then END_STREAM.
  ASSERT_TRUE(ss->Respond(200, {{"content-type", "application/json"}}, false));
  std::string answer = "{\"certificate\": \"...\"}";
  ss->AsyncWrite(asio::buffer(answer), [&](error_code, size_t) { ss->ShutdownSend(); });
  ASSERT_TRUE(RunUntil(io_, [&] { return resp != nullptr; }));
  EXPECT_EQ(resp->status(), 200);
  EXPECT_EQ(resp->header("content-type"), "application/json");
  std::string back;
  bool back_eof = false;
  std::vector<char> cbuf(1024);
  std::function<void()> cread = [&] {
    st->AsyncReadSome(asio::buffer(cbuf), [&](error_code e, size_t n) {
      if (e) {
        back_eof = e == asio::error::eof;
        return;
      }
      back.append(cbuf.data(), n);
      cread();
    });
  };
  cread();
  ASSERT_TRUE(RunUntil(io_, [&] { return back_eof; }));
  EXPECT_EQ(back, answer);
  ASSERT_TRUE(RunUntil(io_, [&] { return client_->open_streams() == 0; }));
  EXPECT_TRUE(st->closed());
  EXPECT_FALSE(st->reset());
}

TEST_F(SessionTest, HeaderViewsGoOutAsTheyAreAndTakenHeadersLeaveTheStream) {
  Connect({}, {});
  std::shared_ptr<Stream> resp;
  std::string path = "/from/a/view/" + std::string(40, 'p');  // longer than any SSO buffer
  {
    // The views only need to outlive the call: nghttp2 copies the block.
    std::vector<HeaderRef> refs = {
        {":method", "GET"}, {":scheme", "http"}, {":authority", "web"}, {":path", path}};
    ASSERT_TRUE(
        client_->SubmitRequestRefs(refs, true, [&](error_code e, std::shared_ptr<Stream> s) {
          ASSERT_FALSE(e) << e.message();
          resp = s;
        }));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 1; }));
  auto& ss = server_streams_[0];
  Headers taken = ss->TakeHeaders();
  EXPECT_EQ(FindHeader(taken, ":path"), path);
  EXPECT_EQ(taken.size(), 4u);
  EXPECT_TRUE(ss->headers().empty());
  std::string value(100, 'v');
  HeaderRef extra[] = {{"x-a", "1"}, {"x-long", value}};
  ASSERT_TRUE(ss->RespondRefs(203, extra, true));
  ASSERT_TRUE(RunUntil(io_, [&] { return resp != nullptr; }));
  EXPECT_EQ(resp->status(), 203);
  EXPECT_EQ(resp->header("x-a"), "1");
  EXPECT_EQ(resp->header("x-long"), value);
}

TEST_F(SessionTest, PerRequestIdsAreNeverIndexedSoTheHpackTableKeepsItsReusableEntries) {
  Connect({}, {});
  auto request = [&](int i) {
    return Headers{{":method", "GET"},
                   {":scheme", "http"},
                   {":path", "/"},
                   {":authority", "reviews.bookinfo:9080"},
                   {"user-agent", "curl/8"},
                   {"x-request-id", "id-" + std::to_string(i)},
                   {"traceparent", "00-" + std::to_string(i) + "-01"}};
  };
  ASSERT_TRUE(client_->SubmitRequest(request(0), true, [](error_code, std::shared_ptr<Stream>) {}));
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 1; }));
  // The stable headers were indexed; the ids were not.
  size_t after_first = client_->encoder_table_size();
  EXPECT_GT(after_first, 0u);
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(
        client_->SubmitRequest(request(i), true, [](error_code, std::shared_ptr<Stream>) {}));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 21; }));
  EXPECT_EQ(client_->encoder_table_size(), after_first);
  // The values arrive as sent.
  EXPECT_EQ(server_streams_[20]->header("x-request-id"), "id-20");
  EXPECT_EQ(server_streams_[20]->header("traceparent"), "00-20-01");
  EXPECT_EQ(server_streams_[20]->header("user-agent"), "curl/8");
}

TEST(NeverIndexedTest, RequestAndTraceIdsAndCredentials) {
  for (const char* name : {"x-request-id", "traceparent", "b3", "x-b3-traceid", "x-b3-spanid",
                           "x-b3-parentspanid", "authorization", "proxy-authorization"}) {
    EXPECT_TRUE(NeverIndexed(name)) << name;
  }
  for (const char* name : {":path", ":authority", "user-agent", "content-type", "x-request",
                           "tracestate", "x-forwarded-for", "date"}) {
    EXPECT_FALSE(NeverIndexed(name)) << name;
  }
}

TEST_F(SessionTest, UnreadDataHoldsTheSenderToOneWindow) {
  SessionSettings small;
  small.stream_window = 32 * 1024;
  small.connection_window = 1024 * 1024;
  Connect({}, small);
  std::shared_ptr<Stream> resp;
  auto st = client_->SubmitRequest({{":method", "CONNECT"}, {":authority", "10.0.0.1:80"}}, false,
                                   [&](error_code, std::shared_ptr<Stream> s) { resp = s; });
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 1; }));
  auto& ss = server_streams_[0];
  ss->Respond(200, {}, false);
  ASSERT_TRUE(RunUntil(io_, [&] { return resp != nullptr; }));
  // 256 KiB towards a server that does not read: only one window's worth goes.
  std::string data(256 * 1024, 'z');
  bool done = false;
  st->AsyncWrite(asio::buffer(data), [&](error_code, size_t) { done = true; });
  RunUntil(
      io_, [] { return false; }, 300ms);
  EXPECT_FALSE(done);
  EXPECT_EQ(ss->buffered(), 32u * 1024);
  // Reading gives the window back and the rest flows.
  size_t total = 0;
  std::vector<char> buf(8192);
  std::function<void()> read = [&] {
    ss->AsyncReadSome(asio::buffer(buf), [&](error_code e, size_t n) {
      if (e) return;
      total += n;
      read();
    });
  };
  read();
  ASSERT_TRUE(RunUntil(io_, [&] { return done && total == data.size(); }));
  EXPECT_LE(server_->stats().peak_stream_buffered, 32u * 1024);
}

TEST_F(SessionTest, ResetFailsThePeersPendingRead) {
  Connect({}, {});
  auto st = client_->SubmitRequest({{":method", "CONNECT"}, {":authority", "10.0.0.1:80"}}, false,
                                   [](error_code, std::shared_ptr<Stream>) {});
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 1; }));
  auto& ss = server_streams_[0];
  ss->Respond(200, {}, false);
  std::optional<error_code> result;
  std::vector<char> buf(16);
  ss->AsyncReadSome(asio::buffer(buf), [&](error_code e, size_t) { result = e; });
  st->Reset();
  ASSERT_TRUE(RunUntil(io_, [&] { return result.has_value(); }));
  EXPECT_EQ(*result, asio::error::connection_reset);
  EXPECT_TRUE(ss->reset());
  ASSERT_TRUE(RunUntil(io_, [&] { return server_->open_streams() == 0; }));
}

TEST_F(SessionTest, ShutdownClosesTheConnectionOnceStreamsFinish) {
  Connect({}, {});
  std::shared_ptr<Stream> resp;
  auto st = client_->SubmitRequest({{":method", "CONNECT"}, {":authority", "10.0.0.1:80"}}, false,
                                   [&](error_code, std::shared_ptr<Stream> s) { resp = s; });
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 1; }));
  auto ss = server_streams_[0];
  ss->Respond(200, {}, false);
  ASSERT_TRUE(RunUntil(io_, [&] { return resp != nullptr; }));
  client_->Shutdown();  // GOAWAY: no new streams, this one continues
  RunUntil(
      io_, [] { return false; }, 50ms);
  EXPECT_FALSE(client_->accepting_streams());
  EXPECT_EQ(client_->SubmitRequest({{":method", "CONNECT"}, {":authority", "10.0.0.1:81"}}, false,
                                   [](error_code, std::shared_ptr<Stream>) {}),
            nullptr);
  EXPECT_FALSE(client_closed_);
  st->ShutdownSend();
  ss->ShutdownSend();
  ASSERT_TRUE(RunUntil(io_, [&] { return client_closed_ && server_closed_; }));
}

TEST_F(SessionTest, RequestsOfOnePassShareOneTransportWrite) {
  Connect({}, {});
  // Settle the connection (preface, SETTINGS and their ACKs) first.
  ASSERT_TRUE(
      RunUntil(io_, [&] { return client_->remote_max_concurrent_streams() != 0xffffffffu; }));
  RunUntil(
      io_, [] { return false; }, 50ms);
  int before = client_writes_;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client_->SubmitRequest({{":method", "GET"},
                                        {":scheme", "http"},
                                        {":path", "/" + std::to_string(i)},
                                        {":authority", "s"}},
                                       true, [](error_code, std::shared_ptr<Stream>) {}));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 10; }));
  // Ten HEADERS frames queued in one pass of the event loop leave in one write, not one each
  // (nor a first one alone and the other nine after it).
  EXPECT_EQ(client_writes_ - before, 1);
}

TEST_F(SessionTest, TryReadTakesWhatIsBufferedAndTheEnd) {
  Connect({}, {});
  std::shared_ptr<Stream> resp;
  auto st = client_->SubmitRequest(
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "s"}}, true,
      [&](error_code e, std::shared_ptr<Stream> s) {
        ASSERT_FALSE(e);
        resp = s;
      });
  ASSERT_TRUE(st);
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 1; }));
  auto& ss = server_streams_[0];
  ASSERT_TRUE(ss->Respond(200, {}, false));
  ASSERT_TRUE(RunUntil(io_, [&] { return resp != nullptr; }));
  std::string out = "stale";
  bool eof = true;
  EXPECT_FALSE(st->TryRead(&out, 1024, &eof)) << "nothing buffered, no end yet";
  EXPECT_EQ(out, "stale");
  std::string body = "hello, world";
  ss->AsyncWrite(asio::buffer(body), [&](error_code, size_t) { ss->ShutdownSend(); });
  ASSERT_TRUE(RunUntil(io_, [&] { return st->recv_eof(); }));
  // At most `max` bytes at a time; the end only with the last of them.
  ASSERT_TRUE(st->TryRead(&out, 5, &eof));
  EXPECT_EQ(out, "hello");
  EXPECT_FALSE(eof);
  ASSERT_TRUE(st->TryRead(&out, 1024, &eof));
  EXPECT_EQ(out, ", world");
  EXPECT_TRUE(eof);
  ASSERT_TRUE(st->TryRead(&out, 1024, &eof));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(eof);
  // A pending AsyncReadSome owns the stream's data: TryRead takes nothing then.
  std::vector<char> buf(16);
  bool done = false;
  st->AsyncReadSome(asio::buffer(buf), [&](error_code e, size_t) {
    EXPECT_EQ(e, asio::error::eof);
    done = true;
  });
  ASSERT_TRUE(RunUntil(io_, [&] { return done; }));
}

}  // namespace
}  // namespace weft::h2

namespace weft::h2 {
namespace {

// Reads `st` to its end; returns the bytes (and whether it ended with EOF).
struct ReadAll {
  std::string data;
  bool eof = false;
  bool done = false;
  std::vector<char> buf = std::vector<char>(4096);
  void Start(std::shared_ptr<Stream> st) {
    st->AsyncReadSome(asio::buffer(buf), [this, st](error_code e, size_t n) {
      if (e) {
        eof = e == asio::error::eof;
        done = true;
        return;
      }
      data.append(buf.data(), n);
      Start(st);
    });
  }
};

TEST_F(SessionTest, TrailersBothWaysAfterData) {
  Connect({}, {});
  std::shared_ptr<Stream> resp;
  auto st = client_->SubmitRequest({{":method", "POST"},
                                    {":scheme", "http"},
                                    {":path", "/pkg.Svc/Call"},
                                    {":authority", "s"},
                                    {"te", "trailers"}},
                                   false, [&](error_code e, std::shared_ptr<Stream> s) {
                                     ASSERT_FALSE(e);
                                     resp = s;
                                   });
  std::string body = "request-bytes";
  st->AsyncWrite(asio::buffer(body), [&](error_code, size_t) {
    st->ShutdownSendWithTrailers({{"x-checksum", "abc"}});
  });
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 1; }));
  auto ss = server_streams_[0];
  ReadAll req;
  req.Start(ss);
  ASSERT_TRUE(RunUntil(io_, [&] { return req.done; }));
  EXPECT_TRUE(req.eof);
  EXPECT_EQ(req.data, body);
  ASSERT_EQ(ss->trailers().size(), 1u);
  EXPECT_EQ(ss->trailers()[0].name, "x-checksum");
  EXPECT_EQ(ss->trailers()[0].value, "abc");

  // gRPC style: headers, a message, then grpc-status in trailers.
  ASSERT_TRUE(ss->Respond(200, {{"content-type", "application/grpc"}}, false));
  std::string answer = "response-bytes";
  ss->AsyncWrite(asio::buffer(answer), [&](error_code, size_t) {
    ss->ShutdownSendWithTrailers({{"grpc-status", "0"}, {"grpc-message", "ok"}});
  });
  ASSERT_TRUE(RunUntil(io_, [&] { return resp != nullptr; }));
  ReadAll back;
  back.Start(resp);
  ASSERT_TRUE(RunUntil(io_, [&] { return back.done; }));
  EXPECT_TRUE(back.eof);
  EXPECT_EQ(back.data, answer);
  EXPECT_EQ(FindHeader(resp->trailers(), "grpc-status"), "0");
  EXPECT_EQ(FindHeader(resp->trailers(), "grpc-message"), "ok");
  EXPECT_EQ(FindHeader(resp->headers(), "grpc-status"), "");
  ASSERT_TRUE(RunUntil(io_, [&] { return client_->open_streams() == 0; }));
  EXPECT_FALSE(st->reset());
}

TEST_F(SessionTest, TrailersWithoutData) {
  Connect({}, {});
  std::shared_ptr<Stream> resp;
  auto st = client_->SubmitRequest(
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "s"}}, true,
      [&](error_code, std::shared_ptr<Stream> s) { resp = s; });
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 1; }));
  auto ss = server_streams_[0];
  ASSERT_TRUE(ss->Respond(200, {}, false));
  ss->ShutdownSendWithTrailers({{"grpc-status", "14"}});
  ASSERT_TRUE(RunUntil(io_, [&] { return resp != nullptr; }));
  ReadAll back;
  back.Start(resp);
  ASSERT_TRUE(RunUntil(io_, [&] { return back.done; }));
  EXPECT_TRUE(back.eof);
  EXPECT_EQ(back.data, "");
  EXPECT_EQ(FindHeader(resp->trailers(), "grpc-status"), "14");
}

TEST_F(SessionTest, HeaderBlockOverTheLimitIsMarkedNotStored) {
  SessionSettings limited;
  limited.max_header_list_bytes = 1024;
  Connect({}, limited);
  std::string big(2000, 'v');
  auto st = client_->SubmitRequest({{":method", "GET"},
                                    {":scheme", "http"},
                                    {":path", "/"},
                                    {":authority", "s"},
                                    {"x-small", "1"},
                                    {"x-big", big}},
                                   true, [](error_code, std::shared_ptr<Stream>) {});
  ASSERT_TRUE(st);
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 1; }));
  auto ss = server_streams_[0];
  EXPECT_TRUE(ss->headers_too_large());
  EXPECT_EQ(ss->header("x-small"), "1");
  EXPECT_EQ(ss->header("x-big"), "");

  // A block under the limit is not marked.
  auto ok = client_->SubmitRequest(
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "s"}}, true,
      [](error_code, std::shared_ptr<Stream>) {});
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 2; }));
  EXPECT_FALSE(server_streams_[1]->headers_too_large());
}

TEST_F(SessionTest, ResetCarriesItsErrorCode) {
  Connect({}, {});
  auto st = client_->SubmitRequest(
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "s"}}, true,
      [](error_code, std::shared_ptr<Stream>) {});
  ASSERT_TRUE(RunUntil(io_, [&] { return server_streams_.size() == 1; }));
  server_streams_[0]->Reset(NGHTTP2_REFUSED_STREAM);
  ASSERT_TRUE(RunUntil(io_, [&] { return st->closed(); }));
  EXPECT_TRUE(st->reset());
  EXPECT_EQ(st->close_error_code(), static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM));
}

}  // namespace
}  // namespace weft::h2

namespace weft::h2 {
namespace {

// A client that writes raw frames (what a correct client never sends) to a server Session,
// and reads the server's frames back.
class RawClientTest : public ::testing::Test {
 protected:
  struct Frame {
    uint8_t type = 0;
    uint8_t flags = 0;
    uint32_t stream = 0;
    std::string payload;
  };
  static constexpr uint8_t kData = 0, kHeaders = 1, kRstStream = 3, kSettings = 4, kGoaway = 7,
                           kContinuation = 9;
  static constexpr uint8_t kEndStream = 0x1, kEndHeaders = 0x4;

  static std::string Encode(uint8_t type, uint8_t flags, uint32_t stream,
                            std::string_view payload) {
    std::string f;
    size_t n = payload.size();
    f.push_back(static_cast<char>(n >> 16));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n));
    f.push_back(static_cast<char>(type));
    f.push_back(static_cast<char>(flags));
    for (int shift : {24, 16, 8, 0}) f.push_back(static_cast<char>(stream >> shift));
    f.append(payload);
    return f;
  }
  static std::string U32(uint32_t v) {
    std::string s;
    for (int shift : {24, 16, 8, 0}) s.push_back(static_cast<char>(v >> shift));
    return s;
  }
  // HPACK: GET, /, http (static table) and ":authority: a" (literal, not indexed).
  static std::string RequestBlock() {
    return std::string(
        "\x82\x84\x86\x01\x01"
        "a",
        6);
  }
  static std::string Preface() {
    return std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + Encode(kSettings, 0, 0, "");
  }

  void Start(SessionSettings settings) {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client_.connect(acceptor.local_endpoint());
    tcp::socket s = acceptor.accept();
    Session::Callbacks cb;
    cb.on_request = [this](std::shared_ptr<Stream> st) { requests_.push_back(st->id()); };
    cb.on_close = [this](error_code) { server_closed_ = true; };
    server_ = Session::Create(Session::kServer, std::make_unique<TcpTransport>(std::move(s)),
                              settings, std::move(cb));
    server_->Start();
    client_.non_blocking(true);
  }

  // One write: the server gets it in one read.
  void Send(const std::string& bytes) {
    client_.non_blocking(false);
    asio::write(client_, asio::buffer(bytes));
    client_.non_blocking(true);
  }

  // Runs the server until the connection ends (or `timeout`); the frames it sent.
  std::vector<Frame> FramesUntilClosed(std::chrono::milliseconds timeout = 5s) {
    std::string in;
    bool ended = false;
    RunUntil(
        io_,
        [&] {
          char buf[4096];
          error_code e;
          size_t n = client_.read_some(asio::buffer(buf), e);
          if (e == asio::error::would_block) return false;
          if (e) ended = true;
          in.append(buf, n);
          return ended;
        },
        timeout);
    EXPECT_TRUE(ended) << "the server did not close the connection";
    std::vector<Frame> frames;
    size_t pos = 0;
    while (in.size() - pos >= 9) {
      auto b = [&](size_t i) { return static_cast<uint8_t>(in[pos + i]); };
      size_t len = (size_t{b(0)} << 16) | (size_t{b(1)} << 8) | b(2);
      if (in.size() - pos < 9 + len) break;
      Frame f;
      f.type = b(3);
      f.flags = b(4);
      f.stream = ((uint32_t{b(5)} << 24) | (uint32_t{b(6)} << 16) | (uint32_t{b(7)} << 8) | b(8)) &
                 0x7fffffff;
      f.payload = in.substr(pos + 9, len);
      frames.push_back(std::move(f));
      pos += 9 + len;
    }
    return frames;
  }

  // The error code of the last GOAWAY in `frames` (nullopt: none).
  static std::optional<uint32_t> GoawayCode(const std::vector<Frame>& frames) {
    std::optional<uint32_t> code;
    for (const auto& f : frames) {
      if (f.type != kGoaway || f.payload.size() < 8) continue;
      uint32_t c = 0;
      for (int i = 4; i < 8; ++i) c = (c << 8) | static_cast<uint8_t>(f.payload[i]);
      code = c;
    }
    return code;
  }

  void TearDown() override {
    if (server_) server_->Close();
    RunUntil(
        io_, [] { return false; }, 20ms);
  }

  asio::io_context io_;
  tcp::socket client_{io_};
  std::shared_ptr<Session> server_;
  std::vector<int32_t> requests_;
  bool server_closed_ = false;
};

TEST_F(RawClientTest, StreamResetInTheSameReadAsItsHeadersIsNeverHandedOn) {
  Start({});
  Send(Preface() + Encode(kHeaders, kEndHeaders | kEndStream, 1, RequestBlock()) +
       Encode(kRstStream, 0, 1, U32(NGHTTP2_CANCEL)) +
       Encode(kHeaders, kEndHeaders | kEndStream, 3, RequestBlock()));
  ASSERT_TRUE(RunUntil(io_, [&] { return !requests_.empty(); }));
  RunUntil(
      io_, [] { return false; }, 50ms);
  EXPECT_EQ(requests_, std::vector<int32_t>{3});
}

TEST_F(RawClientTest, RapidResetGetsGoawayInternalError) {
  // nghttp2's RST_STREAM limiter answers GOAWAY(INTERNAL_ERROR) when the bucket is empty
  // (its choice; Envoy's own limiter says ENHANCE_YOUR_CALM). None of the reset streams is
  // handed on.
  SessionSettings s;
  s.stream_reset_burst = 10;
  s.stream_reset_rate = 1;
  Start(s);
  std::string flood = Preface();
  for (uint32_t id = 1; id < 2 * 50; id += 2) {
    flood += Encode(kHeaders, kEndHeaders | kEndStream, id, RequestBlock()) +
             Encode(kRstStream, 0, id, U32(NGHTTP2_CANCEL));
  }
  Send(flood);
  auto frames = FramesUntilClosed();
  EXPECT_EQ(GoawayCode(frames), std::optional<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_TRUE(requests_.empty()) << requests_.size() << " reset streams handed on";
}

TEST_F(RawClientTest, ContinuationFloodGetsGoawayEnhanceYourCalm) {
  // CVE-2024-28182: nghttp2 allows 8 CONTINUATION frames, then nghttp2_session_mem_recv fails
  // (NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) without queuing a GOAWAY itself: the session sends
  // one before closing.
  Start({});
  std::string flood = Preface() + Encode(kHeaders, kEndStream, 1, RequestBlock());
  for (int i = 0; i < 20; ++i) flood += Encode(kContinuation, 0, 1, "");
  Send(flood);
  auto frames = FramesUntilClosed();
  EXPECT_EQ(GoawayCode(frames), std::optional<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_TRUE(requests_.empty());
  EXPECT_TRUE(RunUntil(io_, [&] { return server_closed_; }));
}

}  // namespace
}  // namespace weft::h2
