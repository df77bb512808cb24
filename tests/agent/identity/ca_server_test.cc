#include <gtest/gtest.h>

#include "core/identity/csr.h"
#include "tests/agent/identity/fixture.h"

namespace weft::agent {
namespace {

using namespace testing;
using identity::SpiffeId;
namespace asio = boost::asio;
using identity::testing::Must;

class CaServerTest : public ::testing::Test {
 protected:
  CaServerTest() : ca_(MakeShortCa()) { placement_.Add("node1", "demo", "web"); }

  std::string Csr(std::string_view ns, std::string_view sa, std::string td = "cluster.local") {
    key_ = Must(identity::KeyPair::GenerateP256());
    return Must(identity::CreateCsr(*key_, Must(SpiffeId::Workload(td, ns, sa))));
  }
  CaClientOptions Opts(const RunningCa& server) { return {.address = server.address()}; }

  identity::CertificateAuthority ca_;
  Placement placement_;
  std::optional<identity::KeyPair> key_;
};

TEST_F(CaServerTest, SignsForAPodOnTheRequestersNode) {
  RunningCa server(ca_, placement_.Fn());
  auto r = SignBlocking(Opts(server), NodeCreds(ca_, ca_, "node1"), Csr("demo", "web"), 1h);
  ASSERT_TRUE(r.ok()) << r.status();
  auto cert = Must(identity::Certificate::FromPem(r->cert_pem));
  EXPECT_EQ(Must(cert.GetSpiffeId()).str(), "spiffe://cluster.local/ns/demo/sa/web");
  EXPECT_NEAR(std::chrono::duration<double>(cert.not_after() - cert.not_before()).count(), 3600, 5);
  EXPECT_EQ(r->bundle_pem, ca_.root().ToPem());
  auto bundle = Must(identity::TrustBundle::FromPem("cluster.local", r->bundle_pem));
  EXPECT_TRUE(bundle.Verify({cert}, {}).ok());
  EXPECT_EQ(server.stats().signed_total, 1u);
  EXPECT_EQ(server.stats().handshakes, 1u);
}

TEST_F(CaServerTest, RefusesAServiceAccountWithNoPodOnThatNode) {
  RunningCa server(ca_, placement_.Fn());
  // Right SA, wrong node.
  auto r = SignBlocking(Opts(server), NodeCreds(ca_, ca_, "node2"), Csr("demo", "web"), 1h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_NE(r.status().message().find("403"), std::string::npos) << r.status();
  // Right node, SA with no pod.
  r = SignBlocking(Opts(server), NodeCreds(ca_, ca_, "node1"), Csr("demo", "admin"), 1h);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  // Another trust domain.
  r = SignBlocking(Opts(server), NodeCreds(ca_, ca_, "node1"), Csr("demo", "web", "other.td"), 1h);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_EQ(server.stats().refused["forbidden"], 3u);
  EXPECT_EQ(server.stats().signed_total, 0u);
  // Once the pod is scheduled there, the same request succeeds.
  placement_.Add("node2", "demo", "web");
  r = SignBlocking(Opts(server), NodeCreds(ca_, ca_, "node2"), Csr("demo", "web"), 1h);
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(CaServerTest, BadRequestsAre400) {
  RunningCa server(ca_, placement_.Fn());
  auto r = SignBlocking(Opts(server), NodeCreds(ca_, ca_, "node1"), "not a csr", 1h);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  r = SignBlocking(Opts(server), NodeCreds(ca_, ca_, "node1"), Csr("demo", "web"), 0s);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_EQ(server.stats().refused["bad_request"], 2u);
  EXPECT_NE(server.metrics().find("weft_ca_refused_total{reason=\"bad_request\"} 2"),
            std::string::npos);
}

TEST_F(CaServerTest, CapsTheLifetime) {
  RunningCa server(ca_, placement_.Fn());
  auto r = SignBlocking(Opts(server), NodeCreds(ca_, ca_, "node1"), Csr("demo", "web"), 24h * 7);
  ASSERT_TRUE(r.ok()) << r.status();
  auto cert = Must(identity::Certificate::FromPem(r->cert_pem));
  EXPECT_LE(cert.not_after() - cert.not_before(), std::chrono::hours(24) + 5s);
}

TEST_F(CaServerTest, ServesTheBundle) {
  RunningCa server(ca_, placement_.Fn());
  auto r = FetchBundleBlocking(Opts(server), NodeCreds(ca_, ca_, "node1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, ca_.root().ToPem());
  EXPECT_EQ(server.stats().bundle_requests, 1u);
}

TEST_F(CaServerTest, RefusesANodeCertificateFromAnotherCa) {
  RunningCa server(ca_, placement_.Fn());
  auto other = MakeShortCa();
  // Node cert from an unknown CA; the client itself trusts our CA.
  auto r = SignBlocking(Opts(server), NodeCreds(other, ca_, "node1"), Csr("demo", "web"), 1h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(WaitFor([&] { return server.stats().handshake_failures["unknown_ca"] == 1; }, 2s));
  EXPECT_EQ(server.stats().signed_total, 0u);
}

TEST_F(CaServerTest, RefusesAWorkloadCertificateAsClient) {
  RunningCa server(ca_, placement_.Fn());
  auto svid = identity::testing::IssueWorkload(ca_, "demo", "web");
  CaCredentials creds{svid.cert, std::make_shared<identity::KeyPair>(std::move(svid.key)),
                      std::make_shared<identity::TrustBundle>(
                          Must(identity::TrustBundle::Create("cluster.local", {ca_.root()})))};
  auto r = FetchBundleBlocking(Opts(server), creds);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(WaitFor(
      [&] { return server.stats().handshake_failures.count("wrong_identity_kind") == 1; }, 2s));
}

TEST_F(CaServerTest, ClientRefusesAServerItDoesNotTrust) {
  RunningCa server(ca_, placement_.Fn());
  auto other = MakeShortCa();
  // Our node cert is fine, but we trust another root: the server's certificate is unknown.
  auto r = FetchBundleBlocking(Opts(server), NodeCreds(ca_, other, "node1"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown_ca"), std::string::npos) << r.status();
}

TEST_F(CaServerTest, NothingListening) {
  uint16_t port;
  {
    RunningCa server(ca_, placement_.Fn());
    port = server.port();
  }
  auto r = FetchBundleBlocking({.address = "127.0.0.1:" + std::to_string(port), .timeout = 2s},
                               NodeCreds(ca_, ca_, "node1"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

// Kubernetes mode: clients without a certificate send a token; the authenticator (in the CA,
// TokenReview; here a table) names the requester.
class CaServerTokenTest : public CaServerTest {
 protected:
  CaServerOptions TokenOptions() {
    CaServerOptions o;
    o.authenticate_token = [this](const std::string& token) -> absl::StatusOr<SpiffeId> {
      {
        std::lock_guard<std::mutex> l(mu_);
        auth_threads_.insert(std::this_thread::get_id());
        tokens_seen_.push_back(token);
      }
      if (token == "agent-on-node1") return SpiffeId::Node("cluster.local", "node1");
      if (token == "waypoint") return SpiffeId::Workload("cluster.local", "demo", "wp");
      if (token == "api-down") return absl::UnavailableError("cannot check the token: API down");
      if (token == "user") return absl::PermissionDeniedError("alice is not a ServiceAccount");
      return absl::UnauthenticatedError("token not accepted");
    };
    return o;
  }
  CaCredentials TokenCreds(const std::string& token) {
    CaCredentials c = Must(LoadTokenCredentials(
        dir_.Write("token", token), dir_.Write("bundle.pem", ca_.root().ToPem()), "cluster.local"));
    return c;
  }

  TempDir dir_;
  std::mutex mu_;
  std::set<std::thread::id> auth_threads_;
  std::vector<std::string> tokens_seen_;
};

TEST_F(CaServerTokenTest, AnAgentTokenGetsCertificatesForPodsOnItsNode) {
  RunningCa server(ca_, placement_.Fn(), 0, TokenOptions());
  auto r = SignBlocking(Opts(server), TokenCreds("agent-on-node1\n"), Csr("demo", "web"), 1h);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Must(Must(identity::Certificate::FromPem(r->cert_pem)).GetSpiffeId()).str(),
            "spiffe://cluster.local/ns/demo/sa/web");
  // No pod of demo/db on node1.
  r = SignBlocking(Opts(server), TokenCreds("agent-on-node1"), Csr("demo", "db"), 1h);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_EQ(server.stats().token_requests, 2u);
  EXPECT_EQ(server.stats().signed_total, 1u);
  EXPECT_EQ(server.stats().refused["forbidden"], 1u);
  std::lock_guard<std::mutex> l(mu_);
  EXPECT_EQ(tokens_seen_.front(), "agent-on-node1") << "the file's trailing newline is not sent";
  EXPECT_FALSE(auth_threads_.count(server.io_thread()))
      << "the token check (a blocking API call) runs off the server's io thread";
}

TEST_F(CaServerTokenTest, AWorkloadTokenGetsItsOwnIdentityOnly) {
  RunningCa server(ca_, placement_.Fn(), 0, TokenOptions());
  EXPECT_TRUE(SignBlocking(Opts(server), TokenCreds("waypoint"), Csr("demo", "wp"), 1h).ok());
  auto r = SignBlocking(Opts(server), TokenCreds("waypoint"), Csr("demo", "web"), 1h);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_NE(r.status().message().find("only its own identity"), std::string::npos) << r.status();
}

TEST_F(CaServerTokenTest, BadMissingAndUncheckableTokens) {
  RunningCa server(ca_, placement_.Fn(), 0, TokenOptions());
  auto code = [&](const std::string& token) {
    return SignBlocking(Opts(server), TokenCreds(token), Csr("demo", "web"), 1h).status().code();
  };
  EXPECT_EQ(code("forged"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(""), absl::StatusCode::kUnauthenticated) << "an empty token file: not sent";
  EXPECT_EQ(code("user"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code("api-down"), absl::StatusCode::kUnavailable);
  auto st = server.stats();
  EXPECT_EQ(st.refused["unauthenticated"], 1u);
  EXPECT_EQ(st.refused["forbidden"], 1u);
  EXPECT_EQ(st.refused["unavailable"], 1u);
  EXPECT_EQ(st.signed_total, 0u);
  EXPECT_NE(server.metrics().find("weft_ca_refused_total{reason=\"unauthenticated\"} 1"),
            std::string::npos);
  // The bundle is public: a token client reads it whatever its token.
  EXPECT_TRUE(FetchBundleBlocking(Opts(server), TokenCreds("forged")).ok());
}

TEST_F(CaServerTokenTest, TheTokenFileIsReadAgainForEachCall) {
  RunningCa server(ca_, placement_.Fn(), 0, TokenOptions());
  CaCredentials creds = TokenCreds("forged");
  asio::io_context io;
  auto client = Must(CaClient::Create(io.get_executor(), Opts(server), creds));
  auto sign = [&](const std::string& csr) {
    std::optional<absl::StatusOr<SignResponse>> out;
    client->Sign(csr, 1h, [&](absl::StatusOr<SignResponse> r) { out = std::move(r); });
    io.restart();
    io.run();
    return *out;
  };
  EXPECT_EQ(sign(Csr("demo", "web")).status().code(), absl::StatusCode::kUnauthenticated);
  dir_.Write("token", "agent-on-node1");  // the kubelet rotated it
  EXPECT_TRUE(sign(Csr("demo", "web")).ok());
}

TEST_F(CaServerTokenTest, WithoutTokenModeACertificatelessClientIsRefusedAtTls) {
  RunningCa server(ca_, placement_.Fn());
  auto r = SignBlocking(Opts(server), TokenCreds("agent-on-node1"), Csr("demo", "web"), 1h);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(WaitFor([&] { return server.stats().handshake_failures.count("tls") == 1; }, 2s));
  EXPECT_EQ(server.stats().token_requests, 0u);
}

TEST_F(CaServerTokenTest, NodeCertificatesStillWorkInTokenMode) {
  RunningCa server(ca_, placement_.Fn(), 0, TokenOptions());
  EXPECT_TRUE(
      SignBlocking(Opts(server), NodeCreds(ca_, ca_, "node1"), Csr("demo", "web"), 1h).ok());
  auto other = MakeShortCa();
  EXPECT_FALSE(
      SignBlocking(Opts(server), NodeCreds(other, ca_, "node1"), Csr("demo", "web"), 1h).ok())
      << "a certificate that is presented is still verified";
  EXPECT_EQ(server.stats().token_requests, 0u);
}

TEST(CaCredentialsTest, CertificateOrTokenNotBothNorNeither) {
  asio::io_context io;
  auto ca = MakeShortCa();
  CaCredentials both = NodeCreds(ca, ca, "node1");
  both.token_file = "/dev/null";
  EXPECT_EQ(CaClient::Create(io.get_executor(), {.address = "127.0.0.1:1"}, both).status().code(),
            absl::StatusCode::kInvalidArgument);
  CaCredentials neither;
  neither.bundle = NodeCreds(ca, ca, "node1").bundle;
  EXPECT_FALSE(CaClient::Create(io.get_executor(), {.address = "127.0.0.1:1"}, neither).ok());
  EXPECT_FALSE(LoadTokenCredentials("/nonexistent/token", "/dev/null", "cluster.local").ok());
}

}  // namespace
}  // namespace weft::agent
