#include "agent/identity/cert_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "core/identity/tls.h"
#include "tests/agent/identity/fixture.h"

namespace weft::agent {
namespace {

using namespace testing;
using identity::SpiffeId;
using identity::testing::Must;

// A TLS handshake between two contexts over an in-memory BIO pair; the server's view of the
// client identity, or "" when it failed.
std::string Handshake(SSL_CTX* client_ctx, SSL_CTX* server_ctx) {
  SSL* c = SSL_new(client_ctx);
  SSL* s = SSL_new(server_ctx);
  BIO *cb = nullptr, *sb = nullptr;
  BIO_new_bio_pair(&cb, 0, &sb, 0);
  SSL_set_bio(c, cb, cb);
  SSL_set_bio(s, sb, sb);
  SSL_set_connect_state(c);
  SSL_set_accept_state(s);
  bool cdone = false, sdone = false;
  for (int i = 0; i < 50 && !(cdone && sdone); ++i) {
    if (!cdone) cdone = SSL_do_handshake(c) == 1;
    if (!sdone) sdone = SSL_do_handshake(s) == 1;
  }
  std::string peer;
  auto v = identity::PeerVerificationOf(s);
  if (cdone && sdone && v.ok() && v.id) peer = v.id->str();
  SSL_free(c);
  SSL_free(s);
  return peer;
}

class CertManagerTest : public ::testing::Test {
 protected:
  CertManagerTest() : ca_(MakeShortCa()) {
    placement_.Add("node1", "demo", "web");
    placement_.Add("node1", "demo", "api");
  }

  CertManagerOptions Options(const RunningCa& server, const identity::CertificateAuthority& issuer,
                             std::chrono::seconds ttl = 3600s) {
    auto node = identity::testing::IssueNode(issuer, "node1", 24h);
    CertManagerOptions o;
    o.ca_address = server.address();
    o.node_cert_file = dir_.Write("node.crt", node.cert.ToPem());
    o.node_key_file = dir_.Write("node.key", node.key.PrivateKeyPem());
    o.ca_bundle_file = dir_.Write("bundle.pem", ca_.root().ToPem());
    o.workload_ttl = ttl;
    o.backoff_initial = 100ms;
    o.backoff_max = 400ms;
    o.min_renew_delay = 200ms;
    o.ca_timeout = 2s;
    return o;
  }

  static std::string Serial(const CertManager& m, const SpiffeId& id) {
    auto c = m.Get(id);
    return c ? c->cert.SerialHex() : "";
  }
  static CertStatus StatusOf(const CertManager& m, const SpiffeId& id) {
    for (auto& s : m.Status())
      if (s.identity == id.str()) return s;
    return {};
  }

  identity::CertificateAuthority ca_;
  Placement placement_;
  TempDir dir_;
  SpiffeId web_ = Must(SpiffeId::Workload("cluster.local", "demo", "web"));
  SpiffeId api_ = Must(SpiffeId::Workload("cluster.local", "demo", "api"));
};

TEST_F(CertManagerTest, IssuesContextsForEachIdentity) {
  RunningCa server(ca_, placement_.Fn());
  auto m = Must(CertManager::Start(Options(server, ca_)));
  std::atomic<int> changes{0};
  m->OnChange([&] { ++changes; });
  EXPECT_EQ(m->Get(web_), nullptr);
  m->SetIdentities({web_, api_});
  ASSERT_TRUE(WaitFor([&] { return m->Get(web_) && m->Get(api_); }, 5s));
  auto c = m->Get(web_);
  EXPECT_EQ(Must(c->cert.GetSpiffeId()), web_);
  ASSERT_NE(c->server, nullptr);
  ASSERT_NE(c->client, nullptr);
  ASSERT_NE(c->asio_server, nullptr);
  // The contexts carry this identity's certificate and a matching key.
  X509* installed = SSL_CTX_get0_certificate(c->server.get());
  ASSERT_NE(installed, nullptr);
  EXPECT_EQ(X509_cmp(installed, c->cert.get()), 0);
  EXPECT_EQ(SSL_CTX_check_private_key(c->client.get()), 1);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(c->server.get()), TLS1_3_VERSION);
  EXPECT_EQ(m->Bundle()->ToPem(), ca_.root().ToPem());
  ASSERT_NE(c->source, nullptr);
  EXPECT_EQ(c->source->id, web_);
  EXPECT_EQ(c->source->key.PublicKeyPem(), c->key->PublicKeyPem());
  // Two identities of the node complete a mutual TLS 1.3 handshake with these contexts.
  EXPECT_EQ(Handshake(m->Get(api_)->client.get(), c->server.get()),
            "spiffe://cluster.local/ns/demo/sa/api");
  ASSERT_NE(m->ClientTls(), nullptr);
  EXPECT_EQ(SSL_CTX_get0_certificate(m->ClientTls()->native_handle()), nullptr);
  auto st = StatusOf(*m, web_);
  EXPECT_EQ(st.state, "valid");
  EXPECT_EQ(st.serial, c->cert.SerialHex());
  EXPECT_TRUE(st.error.empty());
  ASSERT_TRUE(st.next_attempt.has_value());
  // Renewal at half life.
  EXPECT_NEAR(std::chrono::duration<double>(*st.next_attempt - c->cert.not_before()).count(), 1800,
              5);
  EXPECT_TRUE(WaitFor([&] { return changes.load() >= 2; }, 1s));
  EXPECT_EQ(server.stats().signed_total, 2u);

  // Removing an identity drops it; other identities and ones outside the trust domain are
  // ignored.
  m->SetIdentities({api_, Must(SpiffeId::Workload("other.td", "demo", "web"))});
  ASSERT_TRUE(WaitFor([&] { return m->Get(web_) == nullptr; }, 2s));
  EXPECT_NE(m->Get(api_), nullptr);
  EXPECT_EQ(m->Status().size(), 1u);
}

TEST_F(CertManagerTest, RenewsAtHalfLifeWithANewKey) {
  RunningCa server(ca_, placement_.Fn());
  auto m = Must(CertManager::Start(Options(server, ca_, 4s)));
  m->SetIdentities({web_});
  ASSERT_TRUE(WaitFor([&] { return m->Get(web_) != nullptr; }, 5s));
  auto first = m->Get(web_);
  // Renewal at half life (notBefore + 2 s; X.509 times have whole seconds), before expiry.
  auto half = identity::RenewalTime(identity::Validity::Of(first->cert));
  ASSERT_TRUE(WaitFor([&] { return Serial(*m, web_) != first->cert.SerialHex(); }, 4s));
  auto renewed = identity::Clock::now();
  EXPECT_GE(renewed, half);
  EXPECT_LT(renewed, half + 1s);
  EXPECT_LT(renewed, first->cert.not_after());
  auto second = m->Get(web_);
  EXPECT_NE(second->key->PublicKeyPem(), first->key->PublicKeyPem());
  EXPECT_GT(second->cert.not_after(), first->cert.not_after());
  EXPECT_EQ(StatusOf(*m, web_).state, "valid");
}

TEST_F(CertManagerTest, KeepsTheCertificateWhileTheCaIsDownAndRecovers) {
  auto server = std::make_unique<RunningCa>(ca_, placement_.Fn());
  uint16_t port = server->port();
  auto m = Must(CertManager::Start(Options(*server, ca_, 4s)));
  m->SetIdentities({web_});
  ASSERT_TRUE(WaitFor([&] { return m->Get(web_) != nullptr; }, 5s));
  server.reset();  // the CA goes away
  auto held = m->Get(web_);
  auto not_after = held->cert.not_after();
  // Past half life the renewal fails, the old certificate stays in use until it expires.
  ASSERT_TRUE(WaitFor([&] { return !StatusOf(*m, web_).error.empty(); }, 4s));
  auto st = StatusOf(*m, web_);
  if (identity::Clock::now() < not_after - 300ms) {
    EXPECT_EQ(Serial(*m, web_), held->cert.SerialHex());
    EXPECT_EQ(st.state, "renew_due");
  }
  EXPECT_NE(st.error.find("connect"), std::string::npos) << st.error;
  // After expiry: never handed out.
  ASSERT_TRUE(WaitFor([&] { return identity::Clock::now() > not_after + 100ms; }, 5s));
  EXPECT_EQ(m->Get(web_), nullptr);
  EXPECT_EQ(StatusOf(*m, web_).state, "expired");
  // The CA returns on the same port: a new certificate arrives within the backoff.
  server = std::make_unique<RunningCa>(ca_, placement_.Fn(), port);
  ASSERT_TRUE(WaitFor([&] { return m->Get(web_) != nullptr; }, 3s));
  EXPECT_NE(Serial(*m, web_), held->cert.SerialHex());
  EXPECT_TRUE(StatusOf(*m, web_).error.empty());
}

TEST_F(CertManagerTest, ARefusedCsrShowsTheErrorAndRetries) {
  RunningCa server(ca_, placement_.Fn());
  auto m = Must(CertManager::Start(Options(server, ca_)));
  auto nopod = Must(SpiffeId::Workload("cluster.local", "demo", "nopod"));
  m->SetIdentities({nopod});
  ASSERT_TRUE(WaitFor([&] { return server.stats().refused["forbidden"] >= 2; }, 5s));
  auto st = StatusOf(*m, nopod);
  EXPECT_EQ(st.state, "pending");
  EXPECT_NE(st.error.find("403"), std::string::npos) << st.error;
  EXPECT_EQ(m->Get(nopod), nullptr);
  // The CA learns of the pod: the next retry succeeds.
  placement_.Add("node1", "demo", "nopod");
  ASSERT_TRUE(WaitFor([&] { return m->Get(nopod) != nullptr; }, 3s));
}

TEST_F(CertManagerTest, AWrongNodeCertificateGetsNothing) {
  RunningCa server(ca_, placement_.Fn());
  auto other = MakeShortCa();
  auto m = Must(CertManager::Start(Options(server, other)));
  m->SetIdentities({web_});
  ASSERT_TRUE(WaitFor([&] { return !StatusOf(*m, web_).error.empty(); }, 5s));
  EXPECT_EQ(m->Get(web_), nullptr);
  EXPECT_TRUE(WaitFor([&] { return server.stats().handshake_failures["unknown_ca"] >= 1; }, 2s));
  EXPECT_EQ(server.stats().signed_total, 0u);
}

TEST_F(CertManagerTest, AnUnknownCaServerGetsNothing) {
  RunningCa server(ca_, placement_.Fn());
  auto o = Options(server, ca_);
  auto other = MakeShortCa();
  o.ca_bundle_file = dir_.Write("other.pem", other.root().ToPem());
  // The node certificate verifies against our bundle only if it is from `other`: use one.
  auto node = identity::testing::IssueNode(other, "node1", 24h);
  o.node_cert_file = dir_.Write("node2.crt", node.cert.ToPem());
  o.node_key_file = dir_.Write("node2.key", node.key.PrivateKeyPem());
  auto m = Must(CertManager::Start(o));
  m->SetIdentities({web_});
  ASSERT_TRUE(WaitFor([&] { return !StatusOf(*m, web_).error.empty(); }, 5s));
  EXPECT_NE(StatusOf(*m, web_).error.find("unknown_ca"), std::string::npos)
      << StatusOf(*m, web_).error;
  EXPECT_EQ(m->Get(web_), nullptr);
}

TEST_F(CertManagerTest, StartChecksItsFiles) {
  RunningCa server(ca_, placement_.Fn());
  auto o = Options(server, ca_);
  o.trust_domain = "other.td";
  EXPECT_FALSE(CertManager::Start(o).ok());
  o = Options(server, ca_);
  o.node_key_file = dir_.path() + "/missing";
  EXPECT_FALSE(CertManager::Start(o).ok());
  o = Options(server, ca_);
  o.ca_address = "nonsense";
  EXPECT_FALSE(CertManager::Start(o).ok());
}

TEST_F(CertManagerTest, StatusJson) {
  CertStatus s;
  s.identity = "spiffe://cluster.local/ns/demo/sa/web";
  s.serial = "0a1b";
  s.not_before = identity::Clock::from_time_t(1700000000);
  s.not_after = identity::Clock::from_time_t(1700086400);
  s.state = "valid";
  s.next_attempt = identity::Clock::from_time_t(1700043200);
  CertStatus p;
  p.identity = "spiffe://cluster.local/ns/demo/sa/api";
  p.state = "pending";
  p.error = "CA answered 403: no pod";
  auto j = nlohmann::json::parse(CertStatusJson({s, p}));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["identity"], s.identity);
  EXPECT_EQ(j[0]["serial"], "0a1b");
  EXPECT_EQ(j[0]["not_before"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(j[0]["not_after"], "2023-11-15T22:13:20Z");
  EXPECT_EQ(j[0]["next_attempt"], "2023-11-15T10:13:20Z");
  EXPECT_EQ(j[0]["state"], "valid");
  EXPECT_EQ(j[0]["error"], "");
  EXPECT_TRUE(j[1]["not_after"].is_null());
  EXPECT_EQ(j[1]["error"], p.error);
}

}  // namespace
}  // namespace weft::agent
