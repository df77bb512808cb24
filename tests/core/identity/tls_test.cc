// Real TLS 1.3 mutual handshakes in memory: two SSL objects over a BIO pair, contexts built
// with ConfigureMutualTls + SetIdentity exactly as the HBONE listener and connector will.

#include "core/identity/tls.h"

#include <gtest/gtest.h>

#include <functional>

#include "tests/core/identity/testing.h"

namespace weft::identity {
namespace {

using namespace std::chrono_literals;
using testing::IssueWorkload;
using testing::MakeCa;
using testing::Must;
using testing::Svid;

struct Side {
  std::shared_ptr<const TrustBundle> bundle;
  const Svid* svid = nullptr;  // nullptr: present no certificate
  TlsOptions options;
};

ossl::SslCtx MakeCtx(const Side& side) {
  ossl::SslCtx ctx(SSL_CTX_new(TLS_method()));
  EXPECT_TRUE(ConfigureMutualTls(ctx.get(), side.bundle, side.options).ok());
  if (side.svid != nullptr) {
    EXPECT_TRUE(SetIdentity(ctx.get(), side.svid->cert, side.svid->key).ok());
  }
  return ctx;
}

struct Outcome {
  bool established = false;  // both handshakes done and one byte each way went through
  VerifyResult client_saw;   // the client's verdict on the server
  VerifyResult server_saw;   // the server's verdict on the client
  int version = 0;
};

// Runs the handshake to completion or failure, then exchanges "ping"/"pong".
Outcome Handshake(SSL_CTX* client_ctx, SSL_CTX* server_ctx,
                  const std::function<void(SSL*)>& setup_client = {}) {
  ossl::Ssl c(SSL_new(client_ctx));
  ossl::Ssl s(SSL_new(server_ctx));
  BIO* cb = nullptr;
  BIO* sb = nullptr;
  EXPECT_EQ(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
  SSL_set_bio(c.get(), cb, cb);
  SSL_set_bio(s.get(), sb, sb);
  SSL_set_connect_state(c.get());
  SSL_set_accept_state(s.get());
  if (setup_client) setup_client(c.get());

  enum { kRunning, kDone, kFailed } cs = kRunning, ss = kRunning;
  auto step = [](SSL* ssl, auto& state) {
    if (state != kRunning) return;
    int r = SSL_do_handshake(ssl);
    if (r == 1) {
      state = kDone;
      return;
    }
    int e = SSL_get_error(ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) state = kFailed;
  };
  for (int i = 0; i < 50 && (cs == kRunning || ss == kRunning); ++i) {
    step(c.get(), cs);
    step(s.get(), ss);
  }
  Outcome out;
  if (cs == kDone && ss == kDone) {
    char buf[8] = {};
    bool ok = SSL_write(c.get(), "ping", 4) == 4 && SSL_read(s.get(), buf, sizeof(buf)) == 4 &&
              std::string(buf, 4) == "ping" && SSL_write(s.get(), "pong", 4) == 4 &&
              SSL_read(c.get(), buf, sizeof(buf)) == 4 && std::string(buf, 4) == "pong";
    out.established = ok;
  } else if (cs == kDone) {
    // TLS 1.3: the client finishes before the server has judged its certificate; the
    // server's refusal arrives as an alert on the client's first read.
    char buf[8];
    EXPECT_LE(SSL_read(c.get(), buf, sizeof(buf)), 0);
  }
  ERR_clear_error();
  out.client_saw = PeerVerificationOf(c.get());
  out.server_saw = PeerVerificationOf(s.get());
  out.version = SSL_version(c.get());
  return out;
}

class MutualTlsTest : public ::testing::Test {
 protected:
  MutualTlsTest()
      : ca_(MakeCa("cluster.local")),
        bundle_(std::make_shared<TrustBundle>(
            Must(TrustBundle::Create("cluster.local", {ca_.root()})))),
        client_(IssueWorkload(ca_, "demo", "web")),
        server_(IssueWorkload(ca_, "demo", "db")) {}

  CertificateAuthority ca_;
  std::shared_ptr<const TrustBundle> bundle_;
  Svid client_;
  Svid server_;
};

TEST_F(MutualTlsTest, BothSidesLearnThePeerIdentity) {
  ossl::SslCtx cctx = MakeCtx({bundle_, &client_, {}});
  ossl::SslCtx sctx = MakeCtx({bundle_, &server_, {}});
  Outcome o = Handshake(cctx.get(), sctx.get());
  ASSERT_TRUE(o.established) << "client: " << o.client_saw.detail
                             << " server: " << o.server_saw.detail;
  EXPECT_EQ(o.version, TLS1_3_VERSION);
  ASSERT_TRUE(o.client_saw.ok());
  ASSERT_TRUE(o.server_saw.ok());
  EXPECT_EQ(o.client_saw.id->str(), "spiffe://cluster.local/ns/demo/sa/db");
  EXPECT_EQ(o.server_saw.id->str(), "spiffe://cluster.local/ns/demo/sa/web");
}

TEST_F(MutualTlsTest, ServerRefusesClientOfUnknownCa) {
  CertificateAuthority stranger = MakeCa("cluster.local");
  Svid intruder = IssueWorkload(stranger, "demo", "web");
  ossl::SslCtx cctx = MakeCtx({bundle_, &intruder, {}});
  ossl::SslCtx sctx = MakeCtx({bundle_, &server_, {}});
  Outcome o = Handshake(cctx.get(), sctx.get());
  EXPECT_FALSE(o.established);
  EXPECT_EQ(o.server_saw.error, VerifyError::kUnknownCa) << o.server_saw.detail;
  EXPECT_FALSE(o.server_saw.id.has_value());
}

TEST_F(MutualTlsTest, ClientRefusesServerOfAnotherTrustDomain) {
  // The client's bundle is for another trust domain that happens to share the root.
  auto other =
      std::make_shared<TrustBundle>(Must(TrustBundle::Create("other.example", {ca_.root()})));
  ossl::SslCtx cctx = MakeCtx({other, &client_, {}});
  ossl::SslCtx sctx = MakeCtx({bundle_, &server_, {}});
  Outcome o = Handshake(cctx.get(), sctx.get());
  EXPECT_FALSE(o.established);
  EXPECT_EQ(o.client_saw.error, VerifyError::kWrongTrustDomain) << o.client_saw.detail;
}

TEST_F(MutualTlsTest, ServerRefusesExpiredClientCertificate) {
  CertificateAuthority ca =
      Must(CertificateAuthority::FromPem(ca_.root().ToPem(), ca_.RootKeyPem()));
  TimePoint now = Clock::now();
  ca.set_clock([now] { return now - 3h; });
  Svid expired = IssueWorkload(ca, "demo", "web", 1h);
  ossl::SslCtx cctx = MakeCtx({bundle_, &expired, {}});
  ossl::SslCtx sctx = MakeCtx({bundle_, &server_, {}});
  Outcome o = Handshake(cctx.get(), sctx.get());
  EXPECT_FALSE(o.established);
  EXPECT_EQ(o.server_saw.error, VerifyError::kExpired) << o.server_saw.detail;
}

TEST_F(MutualTlsTest, ServerRefusesClientWithoutCertificate) {
  ossl::SslCtx cctx = MakeCtx({bundle_, nullptr, {}});
  ossl::SslCtx sctx = MakeCtx({bundle_, &server_, {}});
  Outcome o = Handshake(cctx.get(), sctx.get());
  EXPECT_FALSE(o.established);
  EXPECT_EQ(o.server_saw.error, VerifyError::kNoCertificate);
  EXPECT_TRUE(o.client_saw.ok());  // the client did verify the server
}

TEST_F(MutualTlsTest, NodeCertificateIsNotAWorkload) {
  Svid node = testing::IssueNode(ca_, "node1");
  ossl::SslCtx cctx = MakeCtx({bundle_, &node, {}});
  ossl::SslCtx sctx = MakeCtx({bundle_, &server_, {}});
  Outcome o = Handshake(cctx.get(), sctx.get());
  EXPECT_FALSE(o.established);
  EXPECT_EQ(o.server_saw.error, VerifyError::kWrongIdentityKind) << o.server_saw.detail;

  // The CA server's context accepts nodes (and only nodes).
  KeyPair key = Must(KeyPair::GenerateP256());
  Svid ca_server{Must(ca_.IssueCaServerCertificate(key.get(), 1h)), std::move(key)};
  ossl::SslCtx agent = MakeCtx({bundle_, &node, {SpiffeId::Kind::kCaServer}});
  ossl::SslCtx ca_srv = MakeCtx({bundle_, &ca_server, {SpiffeId::Kind::kNode}});
  Outcome ok = Handshake(agent.get(), ca_srv.get());
  EXPECT_TRUE(ok.established);
  ASSERT_TRUE(ok.server_saw.ok()) << ok.server_saw.detail;
  EXPECT_EQ(ok.server_saw.id->node(), "node1");
  ossl::SslCtx workload_to_ca = MakeCtx({bundle_, &client_, {SpiffeId::Kind::kCaServer}});
  EXPECT_EQ(Handshake(workload_to_ca.get(), ca_srv.get()).server_saw.error,
            VerifyError::kWrongIdentityKind);
}

TEST_F(MutualTlsTest, ClientChecksTheExpectedServerIdentity) {
  ossl::SslCtx cctx = MakeCtx({bundle_, &client_, {}});
  ossl::SslCtx sctx = MakeCtx({bundle_, &server_, {}});
  SpiffeId want_api = Must(SpiffeId::Workload("cluster.local", "demo", "api"));
  SpiffeId want_db = Must(SpiffeId::Workload("cluster.local", "demo", "db"));
  Outcome wrong = Handshake(cctx.get(), sctx.get(), [&](SSL* ssl) { ExpectPeer(ssl, {want_api}); });
  EXPECT_FALSE(wrong.established);
  EXPECT_EQ(wrong.client_saw.error, VerifyError::kUnexpectedPeer) << wrong.client_saw.detail;
  Outcome right = Handshake(cctx.get(), sctx.get(), [&](SSL* ssl) {
    ExpectPeer(ssl, {want_api, want_db});
  });
  EXPECT_TRUE(right.established);
}

TEST_F(MutualTlsTest, Tls12PeerIsRefused) {
  ossl::SslCtx cctx(SSL_CTX_new(TLS_method()));
  SSL_CTX_set_max_proto_version(cctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(cctx.get(), SSL_VERIFY_NONE, nullptr);
  ASSERT_TRUE(SetIdentity(cctx.get(), client_.cert, client_.key).ok());
  ossl::SslCtx sctx = MakeCtx({bundle_, &server_, {}});
  Outcome o = Handshake(cctx.get(), sctx.get());
  EXPECT_FALSE(o.established);
  // Control: the same client allowed TLS 1.3 gets through.
  SSL_CTX_set_max_proto_version(cctx.get(), TLS1_3_VERSION);
  EXPECT_TRUE(Handshake(cctx.get(), sctx.get()).established);
}

TEST_F(MutualTlsTest, PerConnectionIdentityAndMismatchedKey) {
  ossl::SslCtx cctx = MakeCtx({bundle_, nullptr, {}});
  ossl::SslCtx sctx = MakeCtx({bundle_, &server_, {}});
  Outcome o = Handshake(cctx.get(), sctx.get(), [&](SSL* ssl) {
    ASSERT_TRUE(SetIdentity(ssl, client_.cert, client_.key).ok());
  });
  EXPECT_TRUE(o.established);
  ASSERT_TRUE(o.server_saw.ok());
  EXPECT_EQ(o.server_saw.id->service_account(), "web");
  ossl::SslCtx bad(SSL_CTX_new(TLS_method()));
  EXPECT_FALSE(SetIdentity(bad.get(), client_.cert, server_.key).ok());
}

}  // namespace
}  // namespace weft::identity
