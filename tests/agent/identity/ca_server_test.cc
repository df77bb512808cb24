#include <gtest/gtest.h>

#include "core/identity/csr.h"
#include "tests/agent/identity/fixture.h"

namespace weft::agent {
namespace {

using namespace testing;
using identity::SpiffeId;
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
  NodeCredentials creds{svid.cert, std::make_shared<identity::KeyPair>(std::move(svid.key)),
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

}  // namespace
}  // namespace weft::agent
