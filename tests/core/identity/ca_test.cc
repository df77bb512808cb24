#include "core/identity/ca.h"
#include "core/identity/renewal.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "core/identity/csr.h"
#include "tests/core/identity/testing.h"

namespace weft::identity {
namespace {

using namespace std::chrono_literals;
using testing::AllowAll;
using testing::MakeCa;
using testing::Must;
using testing::NodeId;

SpiffeId Workload(std::string_view ns, std::string_view sa, std::string_view td = "cluster.local") {
  return Must(SpiffeId::Workload(td, ns, sa));
}

bool ExtCritical(const Certificate& c, int nid) {
  int i = X509_get_ext_by_NID(c.get(), nid, -1);
  return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(c.get(), i)) == 1;
}

TEST(KeyPairTest, GeneratesP256AndRoundTripsPem) {
  KeyPair k = Must(KeyPair::GenerateP256());
  EXPECT_TRUE(IsP256(k.get()));
  std::string pem = k.PrivateKeyPem();
  EXPECT_NE(pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  KeyPair back = Must(KeyPair::FromPrivateKeyPem(pem));
  EXPECT_EQ(EVP_PKEY_eq(k.get(), back.get()), 1);
  EXPECT_EQ(back.PublicKeyPem(), k.PublicKeyPem());
  KeyPair other = Must(KeyPair::GenerateP256());
  EXPECT_NE(other.PublicKeyPem(), k.PublicKeyPem());
}

TEST(KeyPairTest, RejectsOtherCurvesAndGarbage) {
  ossl::EvpPkey p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  ASSERT_TRUE(p384);
  EXPECT_FALSE(IsP256(p384.get()));
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), p384.get(), nullptr, nullptr, 0, nullptr, nullptr);
  auto k = KeyPair::FromPrivateKeyPem(ossl::BioContents(bio.get()));
  EXPECT_FALSE(k.ok());
  EXPECT_FALSE(KeyPair::FromPrivateKeyPem("not a key").ok());
}

TEST(CsrTest, RoundTrip) {
  KeyPair k = Must(KeyPair::GenerateP256());
  SpiffeId id = Workload("demo", "web");
  std::string pem = Must(CreateCsr(k, id));
  ParsedCsr parsed = Must(ParseCsr(pem));
  EXPECT_EQ(parsed.id, id);
  EXPECT_EQ(EVP_PKEY_eq(parsed.public_key.get(), k.get()), 1);
}

// Replaces `from` with `to` (same length) inside the signed part of a PEM object.
std::string TamperPem(const std::string& pem, std::string_view label, const std::string& from,
                      const std::string& to) {
  std::string der = testing::PemToDer(pem);
  size_t at = der.find(from);
  EXPECT_NE(at, std::string::npos);
  if (at == std::string::npos) return pem;
  der.replace(at, from.size(), to);
  return testing::DerToPem(der, label);
}

TEST(CsrTest, TamperedCsrFailsSignature) {
  KeyPair k = Must(KeyPair::GenerateP256());
  std::string pem = Must(CreateCsr(k, Workload("demo", "web")));
  // Same length, still a valid ID: only the signature can tell.
  std::string tampered = TamperPem(pem, "CERTIFICATE REQUEST", "sa/web", "sa/adm");
  ASSERT_NE(tampered, pem);
  auto parsed = ParseCsr(tampered);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("signature"), absl::string_view::npos)
      << parsed.status();
}

TEST(CsrTest, RejectsGarbage) {
  EXPECT_FALSE(ParseCsr("").ok());
  EXPECT_FALSE(ParseCsr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE "
                        "REQUEST-----\n")
                   .ok());
}

TEST(CaTest, CreateRootIsASelfSignedCa) {
  TimePoint now = Clock::now();
  CertificateAuthority ca = MakeCa("example.org", now);
  EXPECT_EQ(ca.trust_domain(), "example.org");
  const Certificate& root = ca.root();
  EXPECT_TRUE(root.IsCa());
  EXPECT_EQ(X509_check_issued(root.get(), root.get()), X509_V_OK);
  EXPECT_EQ(root.UriSans(), std::vector<std::string>{"spiffe://example.org"});
  EXPECT_LE(root.not_before(), now);
  EXPECT_GT(root.not_after(), now + std::chrono::hours(24 * 364));
  EXPECT_FALSE(CertificateAuthority::CreateRoot("Bad TD", 1h).ok());
  EXPECT_FALSE(CertificateAuthority::CreateRoot("td", 0s).ok());
}

TEST(CaTest, LoadsFromPemAndFiles) {
  CertificateAuthority ca = MakeCa("cluster.local");
  auto loaded = CertificateAuthority::FromPem(ca.root().ToPem(), ca.RootKeyPem());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->trust_domain(), "cluster.local");
  EXPECT_EQ(loaded->root().ToDer(), ca.root().ToDer());
  // The loaded CA signs certificates the original root verifies.
  testing::Svid s = testing::IssueWorkload(*loaded, "a", "b");
  EXPECT_EQ(X509_verify(s.cert.get(), X509_get0_pubkey(ca.root().get())), 1);

  EXPECT_FALSE(CertificateAuthority::FromPem(ca.root().ToPem(), ca.RootKeyPem(), "other").ok());
  CertificateAuthority other = MakeCa("cluster.local");
  auto mismatch = CertificateAuthority::FromPem(ca.root().ToPem(), other.RootKeyPem());
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("does not match"), absl::string_view::npos);
  // A leaf is not a root.
  EXPECT_FALSE(CertificateAuthority::FromPem(s.cert.ToPem(), s.key.PrivateKeyPem()).ok());

  std::string dir = ::testing::TempDir();
  std::string cert_path = dir + "/weft-ca-test-root.pem";
  std::string key_path = dir + "/weft-ca-test-root.key";
  std::ofstream(cert_path) << ca.root().ToPem();
  std::ofstream(key_path) << ca.RootKeyPem();
  auto from_files = CertificateAuthority::FromFiles(cert_path, key_path);
  ASSERT_TRUE(from_files.ok()) << from_files.status();
  EXPECT_EQ(from_files->root().ToDer(), ca.root().ToDer());
  std::remove(cert_path.c_str());
  std::remove(key_path.c_str());
  EXPECT_EQ(CertificateAuthority::FromFiles(cert_path, key_path).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CaTest, SignedLeafHasTheSvidProfile) {
  TimePoint now = Clock::from_time_t(Clock::to_time_t(Clock::now()));  // whole seconds
  CertificateAuthority ca = MakeCa("cluster.local", now - 1h);
  ca.set_clock([now] { return now; });
  KeyPair key = Must(KeyPair::GenerateP256());
  std::string csr = Must(CreateCsr(key, Workload("demo", "web")));
  Certificate leaf = Must(ca.Sign(csr, NodeId("cluster.local", "node1"), 2h, AllowAll()));

  EXPECT_EQ(Must(leaf.GetSpiffeId()), Workload("demo", "web"));
  EXPECT_EQ(leaf.UriSans().size(), 1u);
  EXPECT_FALSE(leaf.IsCa());
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(leaf.get())), 0);
  EXPECT_TRUE(ExtCritical(leaf, NID_subject_alt_name));
  EXPECT_TRUE(ExtCritical(leaf, NID_basic_constraints));
  EXPECT_TRUE(ExtCritical(leaf, NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(leaf.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(leaf.get()), key.get()), 1);
  EXPECT_EQ(leaf.not_before(), now - 5min);
  EXPECT_EQ(leaf.not_after(), now + 2h);
  EXPECT_EQ(X509_verify(leaf.get(), X509_get0_pubkey(ca.root().get())), 1);

  // Serials: random, positive, distinct.
  std::set<std::string> serials;
  for (int i = 0; i < 8; ++i) {
    Certificate c = Must(ca.Sign(csr, NodeId("cluster.local", "node1"), 1h, AllowAll()));
    std::string hex = c.SerialHex();
    EXPECT_GE(hex.size(), 16u);
    EXPECT_LE(hex.size(), 32u);
    EXPECT_NE(hex.front(), '-');
    serials.insert(hex);
  }
  EXPECT_EQ(serials.size(), 8u);
}

// A short-lived certificate is backdated by at most a tenth of its lifetime: with the full
// 5 minutes a 30 s certificate's half life (its renewal time) would lie in the past at issue.
TEST(CaTest, ShortLivedCertificateIsRenewedAfterItIsIssued) {
  TimePoint now = Clock::from_time_t(Clock::to_time_t(Clock::now()));
  CertificateAuthority ca = MakeCa("cluster.local", now - 1h);
  ca.set_clock([now] { return now; });
  KeyPair key = Must(KeyPair::GenerateP256());
  std::string csr = Must(CreateCsr(key, Workload("demo", "web")));
  Certificate leaf = Must(ca.Sign(csr, NodeId("cluster.local", "node1"), 30s, AllowAll()));
  EXPECT_EQ(leaf.not_before(), now - 3s);
  EXPECT_EQ(leaf.not_after(), now + 30s);
  EXPECT_GT(RenewalTime({leaf.not_before(), leaf.not_after()}), now + 10s);
  EXPECT_EQ(StateAt({leaf.not_before(), leaf.not_after()}, now), CertState::kValid);
}

TEST(CaTest, TtlIsCappedBySettingAndRoot) {
  TimePoint now = Clock::from_time_t(Clock::to_time_t(Clock::now()));
  CaSettings settings;
  settings.max_workload_ttl = 6h;
  CertificateAuthority ca =
      Must(CertificateAuthority::CreateRoot("cluster.local", 10h, now, settings));
  ca.set_clock([now] { return now; });
  KeyPair key = Must(KeyPair::GenerateP256());
  std::string csr = Must(CreateCsr(key, Workload("demo", "web")));
  SpiffeId node = NodeId("cluster.local", "node1");
  EXPECT_EQ(Must(ca.Sign(csr, node, 100h, AllowAll())).not_after(), now + 6h);
  // 8 h from now the root has 2 h left: the leaf ends with it.
  ca.set_clock([now] { return now + 8h; });
  EXPECT_EQ(Must(ca.Sign(csr, node, 5h, AllowAll())).not_after(), ca.root().not_after());
  // Past the root's end nothing is signed.
  ca.set_clock([now] { return now + 11h; });
  EXPECT_EQ(ca.Sign(csr, node, 1h, AllowAll()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ca.set_clock([now] { return now; });
  EXPECT_EQ(ca.Sign(csr, node, 0s, AllowAll()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CaTest, PodOnNodeAuthorizerDecides) {
  CertificateAuthority ca = MakeCa("cluster.local");
  // node1 runs demo/web; node2 runs demo/db.
  std::multimap<std::string, std::pair<std::string, std::string>> pods = {
      {"node1", {"demo", "web"}}, {"node2", {"demo", "db"}}};
  int lookups = 0;
  SignAuthorizer authz =
      PodOnNodeAuthorizer([&](std::string_view node, std::string_view ns, std::string_view sa) {
        ++lookups;
        auto [b, e] = pods.equal_range(std::string(node));
        for (auto it = b; it != e; ++it) {
          if (it->second.first == ns && it->second.second == sa) return true;
        }
        return false;
      });
  KeyPair key = Must(KeyPair::GenerateP256());
  std::string web = Must(CreateCsr(key, Workload("demo", "web")));
  std::string db = Must(CreateCsr(key, Workload("demo", "db")));

  EXPECT_TRUE(ca.Sign(web, NodeId("cluster.local", "node1"), 1h, authz).ok());
  EXPECT_TRUE(ca.Sign(db, NodeId("cluster.local", "node2"), 1h, authz).ok());
  auto refused = ca.Sign(db, NodeId("cluster.local", "node1"), 1h, authz);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("no pod with service account demo/db"),
            absl::string_view::npos)
      << refused.status();
  EXPECT_FALSE(ca.Sign(web, NodeId("cluster.local", "node3"), 1h, authz).ok());
  EXPECT_EQ(lookups, 4);

  // A workload requester (authenticated by its own ServiceAccount token) gets its own identity
  // and nothing else, wherever it runs: no placement lookup.
  EXPECT_TRUE(ca.Sign(web, Workload("demo", "web"), 1h, authz).ok());
  auto other = ca.Sign(db, Workload("demo", "web"), 1h, authz);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other.status().message().find("only its own identity"), absl::string_view::npos)
      << other.status();
  EXPECT_FALSE(ca.Sign(web, Workload("other", "web"), 1h, authz).ok());
  EXPECT_EQ(lookups, 4);
}

TEST(CaTest, RefusesWhatIsNeverSignable) {
  CertificateAuthority ca = MakeCa("cluster.local");
  KeyPair key = Must(KeyPair::GenerateP256());
  SpiffeId node1 = NodeId("cluster.local", "node1");
  int calls = 0;
  SignAuthorizer counting = [&](const SpiffeId&, const SpiffeId&) {
    ++calls;
    return absl::OkStatus();
  };
  auto code = [&](const std::string& csr, const SpiffeId& requester) {
    return ca.Sign(csr, requester, 1h, counting).status().code();
  };
  std::string web = Must(CreateCsr(key, Workload("demo", "web")));
  // Another trust domain.
  EXPECT_EQ(code(Must(CreateCsr(key, Workload("demo", "web", "evil.org"))), node1),
            absl::StatusCode::kPermissionDenied);
  // A node or CA identity from a CSR.
  EXPECT_EQ(code(Must(CreateCsr(key, NodeId("cluster.local", "node2"))), node1),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code(Must(CreateCsr(key, Must(SpiffeId::CaServer("cluster.local")))), node1),
            absl::StatusCode::kPermissionDenied);
  // The requester is the CA server, or a node or workload of another trust domain (a workload
  // of ours is the authorizer's to decide: PodOnNodeAuthorizer allows its own identity).
  EXPECT_EQ(code(web, Must(SpiffeId::CaServer("cluster.local"))),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code(web, NodeId("evil.org", "node1")), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code(web, Workload("demo", "web", "evil.org")), absl::StatusCode::kPermissionDenied);
  // Tampered CSR.
  std::string tampered = TamperPem(web, "CERTIFICATE REQUEST", "sa/web", "sa/adm");
  EXPECT_EQ(code(tampered, node1), absl::StatusCode::kInvalidArgument);
  // None of the above reached the authorizer.
  EXPECT_EQ(calls, 0);
  // No authorizer at all.
  EXPECT_EQ(ca.Sign(web, node1, 1h, nullptr).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code(web, node1), absl::StatusCode::kOk);
  EXPECT_EQ(calls, 1);
}

TEST(CaTest, NodeAndServerCertificates) {
  CertificateAuthority ca = MakeCa("cluster.local");
  KeyPair key = Must(KeyPair::GenerateP256());
  Certificate node = Must(ca.IssueNodeCertificate("node1", key.get(), 24h));
  EXPECT_EQ(Must(node.GetSpiffeId()).str(), "spiffe://cluster.local/weft/node/node1");
  EXPECT_EQ(X509_get_extended_key_usage(node.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  Certificate server = Must(ca.IssueCaServerCertificate(key.get(), 24h));
  EXPECT_EQ(Must(server.GetSpiffeId()).str(), "spiffe://cluster.local/weft/ca");
  EXPECT_EQ(X509_get_extended_key_usage(server.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_FALSE(ca.IssueNodeCertificate("Node_1", key.get(), 24h).ok());
  ossl::EvpPkey p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  EXPECT_FALSE(ca.IssueNodeCertificate("node1", p384.get(), 24h).ok());
}

}  // namespace
}  // namespace weft::identity
