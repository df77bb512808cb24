// HBONE end to end on loopback: a real CA and workload certificates, HboneServer in front of
// small TCP applications, HbonePool as the client.

#include <gtest/gtest.h>

#include "core/hbone/hbone.h"
#include "core/hbone/pool.h"
#include "core/hbone/server.h"
#include "tests/core/hbone/testing.h"

namespace weft::hbone {
namespace {

using namespace std::chrono_literals;
using identity::SpiffeId;
using identity::TrustBundle;
using identity::testing::IssueWorkload;
using identity::testing::MakeCa;
using identity::testing::Svid;
using testing::App;
using testing::Must;
using testing::ReadAll;
using testing::RunFor;
using testing::RunUntil;
using testing::WriteAll;

constexpr uint16_t kUnknownPort = 1;  // the handler answers 400 for it
constexpr uint16_t kDeniedPort = 2;   // the handler answers 401 for it

class HboneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bundle_ =
        std::make_shared<TrustBundle>(Must(TrustBundle::Create("cluster.local", {ca_.root()})));
    server_tls_ = testing::MakeTls(bundle_, &server_svid_);
    client_tls_ = testing::MakeTls(bundle_, nullptr);
    source_ = MakeSource(client_svid_);
  }
  void TearDown() override {
    if (pool_) pool_->CloseAll();
    if (server_) server_->Stop();
    RunFor(io_, 20ms);
  }

  static std::shared_ptr<const SourceIdentity> MakeSource(const Svid& svid) {
    auto s = std::make_shared<SourceIdentity>(
        SourceIdentity{Must(svid.cert.GetSpiffeId()), svid.cert,
                       Must(identity::KeyPair::FromPrivateKeyPem(svid.key.PrivateKeyPem()))});
    return s;
  }

  // The default policy: port 1 is not a workload we serve, port 2 is denied, anything else
  // is connected to on 127.0.0.1.
  void StartServer(ServerSettings settings = {},
                   std::shared_ptr<asio::ssl::context> tls = nullptr) {
    if (!tls) tls = server_tls_;
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    server_ = HboneServer::Create(
        std::move(acceptor), [tls] { return tls; }, settings,
        [this](const InboundRequest& req, Respond respond) {
          requests_.push_back(req);
          if (req.target.port() == kUnknownPort) return respond(Decision::Refuse(kBadRequest));
          if (req.target.port() == kDeniedPort) return respond(Decision::Refuse(kUnauthorized));
          testing::ConnectTcp(io_, req.target.port(), [respond](std::shared_ptr<ByteStream> s) {
            if (!s) return respond(Decision::Refuse(kServiceUnavailable));
            respond(Decision::Splice(std::move(s)));
          });
        });
    server_->Start();
  }

  // Applications live until the fixture goes (after TearDown ran the loop for the last time).
  App& MakeApp(App::Mode mode) {
    apps_.push_back(std::make_unique<App>(io_, mode));
    return *apps_.back();
  }

  void StartPool(PoolSettings settings = {}) {
    pool_ = HbonePool::Create(io_.get_executor(), client_tls_, std::move(settings));
  }

  ConnectRequest Request(uint16_t target_port) {
    ConnectRequest r;
    r.source = source_;
    r.destination = server_->local_endpoint();
    r.expected_peers = {Must(server_svid_.cert.GetSpiffeId())};
    r.target = tcp::endpoint(asio::ip::make_address("127.0.0.1"), target_port);
    r.headers = {{std::string(kForwardedHeader), ForwardedFor(asio::ip::make_address("10.0.0.5"))},
                 {std::string(kBaggageHeader), "k8s.namespace.name=demo"},
                 {std::string(kTraceparentHeader), NewTraceparent()}};
    return r;
  }

  // Connects and runs until the result arrives.
  ConnectResult Open(ConnectRequest r) {
    std::optional<ConnectResult> out;
    pool_->Connect(std::move(r), [&](ConnectResult res) { out = std::move(res); });
    EXPECT_TRUE(RunUntil(io_, [&] { return out.has_value(); }));
    if (out) return *out;
    ConnectResult none;
    none.status = absl::DeadlineExceededError("no result");
    return none;
  }

  // Sends `data`, half-closes, reads the answer to EOF.
  std::string Exchange(std::shared_ptr<ByteStream> tunnel, const std::string& data) {
    bool wrote = false, read = false;
    std::string got;
    WriteAll(tunnel, std::make_shared<std::string>(data), /*shutdown=*/true, &wrote);
    ReadAll(tunnel, &got, &read);
    EXPECT_TRUE(RunUntil(io_, [&] { return wrote && read; }));
    return got;
  }

  asio::io_context io_;
  identity::CertificateAuthority ca_ = MakeCa("cluster.local");
  Svid server_svid_ = IssueWorkload(ca_, "demo", "server");
  Svid client_svid_ = IssueWorkload(ca_, "demo", "client");
  std::shared_ptr<const TrustBundle> bundle_;
  std::shared_ptr<asio::ssl::context> server_tls_, client_tls_;
  std::shared_ptr<const SourceIdentity> source_;
  std::shared_ptr<HboneServer> server_;
  std::shared_ptr<HbonePool> pool_;
  std::vector<InboundRequest> requests_;
  std::vector<std::unique_ptr<App>> apps_;
};

TEST(HboneAuthority, ParsesIpAndPortOnly) {
  auto v4 = ParseAuthority("10.244.2.7:8080");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->address().to_string(), "10.244.2.7");
  EXPECT_EQ(v4->port(), 8080);
  auto v6 = ParseAuthority("[fd00::7]:80");
  ASSERT_TRUE(v6);
  EXPECT_EQ(FormatAuthority(*v6), "[fd00::7]:80");
  for (const char* bad :
       {"example.com:80", "10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "fd00::7:80",
        "[10.0.0.1]:80", "10.0.0.1:80x", "[fd00::7%eth0]:80", ":80", ""}) {
    EXPECT_FALSE(ParseAuthority(bad)) << bad;
  }
  EXPECT_EQ(ForwardedFor(asio::ip::make_address("10.0.0.5")), "for=10.0.0.5");
  EXPECT_EQ(ForwardedFor(asio::ip::make_address("fd00::5")), "for=\"[fd00::5]\"");
  std::string tp = NewTraceparent();
  EXPECT_EQ(tp.size(), 55u);
  EXPECT_EQ(tp.substr(0, 3), "00-");
}

TEST_F(HboneTest, RoundTripThroughConnectWithPeerIdentityAndHeaders) {
  App& echo = MakeApp(App::kEcho);
  StartServer();
  StartPool();
  ConnectResult r = Open(Request(echo.port()));
  ASSERT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(Exchange(r.tunnel, "hello through hbone"), "hello through hbone");

  ASSERT_EQ(requests_.size(), 1u);
  const InboundRequest& req = requests_[0];
  EXPECT_EQ(req.peer.str(), "spiffe://cluster.local/ns/demo/sa/client");
  EXPECT_EQ(req.target.port(), echo.port());
  EXPECT_EQ(req.header(":method"), "CONNECT");
  EXPECT_EQ(req.header(":authority"), "127.0.0.1:" + std::to_string(echo.port()));
  EXPECT_EQ(req.header(":scheme"), "");
  EXPECT_EQ(req.header(":path"), "");
  EXPECT_EQ(req.header("forwarded"), "for=10.0.0.5");
  EXPECT_EQ(req.header("baggage"), "k8s.namespace.name=demo");
  EXPECT_EQ(req.header("traceparent").size(), 55u);
  EXPECT_EQ(req.peer_address.address().to_string(), "127.0.0.1");
  EXPECT_EQ(req.local_address.port(), server_->local_endpoint().port());

  // The connection is TLS 1.3 with h2 negotiated.
  auto* tunnel = static_cast<TunnelStream*>(r.tunnel.get());
  auto& transport = static_cast<h2::TlsTransport&>(tunnel->stream().session()->transport());
  EXPECT_EQ(SSL_version(transport.ssl()), TLS1_3_VERSION);
  EXPECT_EQ(transport.alpn(), "h2");
  EXPECT_EQ(server_->stats().handshakes, 1u);
}

TEST_F(HboneTest, Bulk64MiBWithSmallWindowsArrivesIntact) {
  App& echo = MakeApp(App::kEcho);
  ServerSettings ss;
  ss.h2.stream_window = 64 * 1024;
  ss.h2.connection_window = 128 * 1024;
  StartServer(ss);
  PoolSettings ps;
  ps.h2 = ss.h2;
  StartPool(ps);
  ConnectResult r = Open(Request(echo.port()));
  ASSERT_TRUE(r.ok()) << r.status;

  constexpr size_t kSize = 64 * 1024 * 1024;
  auto data = std::make_shared<std::string>(kSize, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < kSize; i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(data->data() + i, &x, 8);
  }
  bool wrote = false, read = false;
  std::string got;
  got.reserve(kSize);
  error_code werr, rerr;
  WriteAll(r.tunnel, data, true, &wrote, &werr);
  ReadAll(r.tunnel, &got, &read, &rerr);
  ASSERT_TRUE(RunUntil(
      io_, [&] { return wrote && read; }, 120s));
  EXPECT_FALSE(werr) << werr.message();
  EXPECT_FALSE(rerr) << rerr.message();
  ASSERT_EQ(got.size(), kSize);
  EXPECT_TRUE(got == *data);
  // Receive buffering on the client never exceeded one stream window (it may stay 0: DATA
  // that arrives while the reader waits goes straight into its buffer).
  auto* tunnel = static_cast<TunnelStream*>(r.tunnel.get());
  EXPECT_LE(tunnel->stream().session()->stats().peak_stream_buffered, 64u * 1024);
}

TEST_F(HboneTest, SlowApplicationStopsTheSender) {
  App& sink = MakeApp(App::kSink);
  ServerSettings ss;
  ss.h2.stream_window = 64 * 1024;
  ss.h2.connection_window = 128 * 1024;
  StartServer(ss);
  PoolSettings ps;
  ps.h2 = ss.h2;
  StartPool(ps);
  ConnectResult r = Open(Request(sink.port()));
  ASSERT_TRUE(r.ok()) << r.status;

  // Writes 1 MiB chunks while it can; the app does not read yet.
  constexpr size_t kChunk = 1024 * 1024, kTotal = 64 * kChunk;
  auto chunk = std::make_shared<std::string>(kChunk, 'x');
  size_t written = 0;
  bool finished = false;
  std::function<void()> next = [&] {
    if (written == kTotal) {
      r.tunnel->ShutdownSend();
      finished = true;
      return;
    }
    r.tunnel->AsyncWrite(asio::buffer(*chunk), [&](error_code e, size_t n) {
      if (e) return;
      written += n;
      next();
    });
  };
  next();
  RunFor(io_, 700ms);
  // Without backpressure all 64 MiB would be accepted at once; with it, the windows plus the
  // kernel's socket buffers (a few MiB on loopback) hold what was written.
  EXPECT_LT(written, kTotal / 2);
  EXPECT_FALSE(finished);
  sink.StartReading();
  ASSERT_TRUE(RunUntil(
      io_, [&] { return finished && sink.eofs() == 1; }, 60s));
  EXPECT_EQ(sink.bytes(), kTotal);
}

TEST_F(HboneTest, HalfCloseFromClient) {
  App& app = MakeApp(App::kReplyAtEof);
  StartServer();
  StartPool();
  ConnectResult r = Open(Request(app.port()));
  ASSERT_TRUE(r.ok()) << r.status;
  // END_STREAM reaches the app as FIN; its answer comes back after it, then its FIN as EOF.
  EXPECT_EQ(Exchange(r.tunnel, "ping"), "got:4");
  EXPECT_EQ(app.eofs(), 1);
}

TEST_F(HboneTest, HalfCloseFromServer) {
  App& app = MakeApp(App::kGreeter);
  StartServer();
  StartPool();
  ConnectResult r = Open(Request(app.port()));
  ASSERT_TRUE(r.ok()) << r.status;
  // The app's FIN arrives as EOF while our direction stays open.
  bool read = false;
  std::string got;
  ReadAll(r.tunnel, &got, &read);
  ASSERT_TRUE(RunUntil(io_, [&] { return read; }));
  EXPECT_EQ(got, "hello");
  // We can still send; our END_STREAM reaches the app as FIN.
  bool wrote = false;
  WriteAll(r.tunnel, std::make_shared<std::string>("bye"), true, &wrote);
  ASSERT_TRUE(RunUntil(io_, [&] { return wrote && app.eofs() == 1; }));
  EXPECT_EQ(app.received(), "bye");
}

TEST_F(HboneTest, UnknownTargetIs400AndDenialIs401) {
  StartServer();
  StartPool();
  ConnectResult unknown = Open(Request(kUnknownPort));
  EXPECT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.http_status, 400);
  EXPECT_FALSE(unknown.tunnel);
  ConnectResult denied = Open(Request(kDeniedPort));
  EXPECT_FALSE(denied.ok());
  EXPECT_EQ(denied.http_status, 401);
  // Nothing listens on the target: 503.
  tcp::acceptor closed(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  uint16_t dead_port = closed.local_endpoint().port();
  closed.close();
  ConnectResult unreachable = Open(Request(dead_port));
  EXPECT_EQ(unreachable.http_status, 503);
  // All three went over one connection: refusals do not break it.
  EXPECT_EQ(pool_->stats().handshakes, 1u);
  EXPECT_EQ(server_->stats().responses.at(400), 1u);
  EXPECT_EQ(server_->stats().responses.at(401), 1u);
}

// A raw HTTP/2 client on the same TLS: what the server answers to requests HBONE clients do
// not send.
TEST_F(HboneTest, NonConnectAndHostnameAuthorityAre400WithoutAskingTheHandler) {
  StartServer();
  auto transport = std::make_unique<h2::TlsTransport>(tcp::socket(io_), *client_tls_);
  h2::TlsTransport* t = transport.get();
  ASSERT_TRUE(identity::SetIdentity(t->ssl(), client_svid_.cert, client_svid_.key).ok());
  t->OfferH2();
  bool connected = false;
  error_code err;
  t->socket().async_connect(server_->local_endpoint(), [&](error_code e) {
    if (e) {
      err = e;
      connected = true;
      return;
    }
    t->AsyncHandshake(h2::TlsTransport::kClient, 5s, [&](error_code he) {
      err = he;
      connected = true;
    });
  });
  ASSERT_TRUE(RunUntil(io_, [&] { return connected; }));
  ASSERT_FALSE(err) << err.message();
  auto session = h2::Session::Create(h2::Session::kClient, std::move(transport), {}, {});
  session->Start();
  int get_status = 0, host_status = 0;
  session->SubmitRequest(
      {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {":authority", "127.0.0.1:80"}},
      true,
      [&](error_code e, std::shared_ptr<h2::Stream> st) { get_status = e ? -1 : st->status(); });
  session->SubmitRequest(
      {{":method", "CONNECT"}, {":authority", "example.com:80"}}, false,
      [&](error_code e, std::shared_ptr<h2::Stream> st) { host_status = e ? -1 : st->status(); });
  ASSERT_TRUE(RunUntil(io_, [&] { return get_status != 0 && host_status != 0; }));
  EXPECT_EQ(get_status, 400);
  EXPECT_EQ(host_status, 400);
  EXPECT_TRUE(requests_.empty());
  session->Close();
}

TEST_F(HboneTest, UnknownCaIsRefusedAtHandshake) {
  App& echo = MakeApp(App::kEcho);
  StartServer();
  StartPool();
  identity::CertificateAuthority other = MakeCa("cluster.local");
  ConnectRequest req = Request(echo.port());
  req.source = MakeSource(IssueWorkload(other, "demo", "client"));
  ConnectResult r = Open(req);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.tunnel);
  ASSERT_TRUE(RunUntil(io_, [&] { return server_->stats().handshake_failures == 1; }));
  EXPECT_EQ(server_->stats().handshake_failures_by_reason.at("unknown_ca"), 1u);
  EXPECT_EQ(server_->stats().handshakes, 0u);
  EXPECT_TRUE(requests_.empty());
  EXPECT_EQ(echo.accepted(), 0);
}

// A server that has no certificate yet closes the connection; the pooled client must fail
// its waiters at once, not at its connect timeout.
TEST_F(HboneTest, ServerWithoutCertificateFailsTheClientAtOnce) {
  App& echo = MakeApp(App::kEcho);
  tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  server_ = HboneServer::Create(
      std::move(acceptor), [] { return std::shared_ptr<asio::ssl::context>(); }, {},
      [](const InboundRequest&, Respond respond) { respond(Decision::Refuse(kBadRequest)); });
  server_->Start();
  PoolSettings ps;
  ps.connect_timeout = 10s;
  StartPool(ps);
  auto start = std::chrono::steady_clock::now();
  ConnectResult r = Open(Request(echo.port()));
  EXPECT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << r.status;
  EXPECT_EQ(server_->stats().handshake_failures_by_reason.at("no_certificate_configured"), 1u);
}

TEST_F(HboneTest, WrongTrustDomainIsRefusedAtHandshake) {
  App& echo = MakeApp(App::kEcho);
  // The server's bundle is for another trust domain that shares the root.
  auto other =
      std::make_shared<TrustBundle>(Must(TrustBundle::Create("other.example", {ca_.root()})));
  StartServer({}, testing::MakeTls(other, &server_svid_));
  StartPool();
  ConnectResult r = Open(Request(echo.port()));
  EXPECT_FALSE(r.ok());
  ASSERT_TRUE(RunUntil(io_, [&] { return server_->stats().handshake_failures == 1; }));
  EXPECT_EQ(server_->stats().handshake_failures_by_reason.at("wrong_trust_domain"), 1u);
  EXPECT_TRUE(requests_.empty());
}

TEST_F(HboneTest, ClientRefusesAServerWithAnotherIdentity) {
  App& echo = MakeApp(App::kEcho);
  StartServer();
  StartPool();
  ConnectRequest req = Request(echo.port());
  req.expected_peers = {Must(SpiffeId::Workload("cluster.local", "demo", "someone-else"))};
  ConnectResult r = Open(req);
  EXPECT_FALSE(r.ok());
  ASSERT_TRUE(r.tls_error.has_value()) << r.status;
  EXPECT_EQ(*r.tls_error, identity::VerifyError::kUnexpectedPeer);
  EXPECT_TRUE(requests_.empty());
}

TEST_F(HboneTest, ThousandSequentialTunnelsReuseOneConnection) {
  App& echo = MakeApp(App::kEcho);
  StartServer();
  StartPool();
  for (int i = 0; i < 1000; ++i) {
    ConnectResult r = Open(Request(echo.port()));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status;
    ASSERT_EQ(Exchange(r.tunnel, "x" + std::to_string(i)), "x" + std::to_string(i));
  }
  EXPECT_LE(pool_->stats().handshakes, 2u);
  EXPECT_LE(server_->stats().handshakes, 2u);
  EXPECT_GE(pool_->stats().reused, 998u);
  EXPECT_EQ(echo.accepted(), 1000);
}

TEST_F(HboneTest, StreamCapOpensAnotherConnection) {
  App& echo = MakeApp(App::kEcho);
  StartServer();
  PoolSettings ps;
  ps.max_streams_per_connection = 2;
  StartPool(ps);
  std::vector<ConnectResult> results;
  for (int i = 0; i < 3; ++i) {
    pool_->Connect(Request(echo.port()), [&](ConnectResult r) { results.push_back(r); });
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return results.size() == 3; }));
  for (auto& r : results) ASSERT_TRUE(r.ok()) << r.status;
  EXPECT_EQ(pool_->stats().connections_opened, 2u);
  EXPECT_EQ(pool_->connections(), 2u);
  ASSERT_TRUE(RunUntil(io_, [&] { return server_->stats().handshakes == 2; }));
  // All three tunnels work at once.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Exchange(results[i].tunnel, "t" + std::to_string(i)), "t" + std::to_string(i));
  }
  // With the streams done, a fourth tunnel reuses one of the two connections.
  ConnectResult fourth = Open(Request(echo.port()));
  ASSERT_TRUE(fourth.ok());
  EXPECT_TRUE(fourth.reused);
  EXPECT_EQ(pool_->stats().connections_opened, 2u);
}

TEST_F(HboneTest, IdleConnectionClosesAfterTimeout) {
  App& echo = MakeApp(App::kEcho);
  StartServer();
  PoolSettings ps;
  ps.idle_timeout = 300ms;
  StartPool(ps);
  ConnectResult r = Open(Request(echo.port()));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Exchange(r.tunnel, "a"), "a");
  r.tunnel.reset();
  RunFor(io_, 100ms);
  EXPECT_EQ(pool_->connections(), 1u);  // not yet
  EXPECT_EQ(server_->stats().connections_open, 1u);
  ASSERT_TRUE(RunUntil(
      io_, [&] { return server_->stats().connections_open == 0; }, 3s));
  EXPECT_EQ(pool_->connections(), 0u);
  EXPECT_EQ(pool_->stats().idle_closed, 1u);
  // The next tunnel needs a new handshake.
  ConnectResult again = Open(Request(echo.port()));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.reused);
  EXPECT_EQ(pool_->stats().handshakes, 2u);
}

TEST_F(HboneTest, ClientResetReachesTheApplication) {
  App& echo = MakeApp(App::kEcho);
  StartServer();
  StartPool();
  ConnectResult r = Open(Request(echo.port()));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Exchange(r.tunnel, "x"), "x");  // both directions ended: graceful
  ConnectResult r2 = Open(Request(echo.port()));
  ASSERT_TRUE(r2.ok());
  bool wrote = false;
  WriteAll(r2.tunnel, std::make_shared<std::string>("y"), false, &wrote);
  ASSERT_TRUE(RunUntil(io_, [&] { return wrote; }));
  RunFor(io_, 50ms);
  EXPECT_EQ(echo.ends(), 1);  // the second connection is still open
  r2.tunnel->Close();         // RST_STREAM: the server closes its upstream socket
  ASSERT_TRUE(RunUntil(
      io_, [&] { return echo.ends() == 2; }, 5s));
  // The connection survives a stream reset.
  ConnectResult r3 = Open(Request(echo.port()));
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(Exchange(r3.tunnel, "z"), "z");
  EXPECT_EQ(pool_->stats().handshakes, 1u);
}

}  // namespace
}  // namespace weft::hbone
