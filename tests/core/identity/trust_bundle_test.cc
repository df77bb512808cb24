#include "core/identity/trust_bundle.h"

#include <gtest/gtest.h>

#include "tests/core/identity/testing.h"

namespace weft::identity {
namespace {

using namespace std::chrono_literals;
using testing::IssueWorkload;
using testing::MakeCa;
using testing::Must;

TrustBundle BundleOf(std::string_view td, std::vector<const CertificateAuthority*> cas) {
  std::vector<Certificate> roots;
  for (const auto* ca : cas) roots.push_back(ca->root());
  return Must(TrustBundle::Create(td, std::move(roots)));
}

VerifyOptions At(TimePoint now, std::optional<SpiffeId::Kind> kind = SpiffeId::Kind::kWorkload) {
  VerifyOptions o;
  o.now = now;
  o.kind = kind;
  return o;
}

TEST(TrustBundleTest, VerifiesALeafOfItsRoot) {
  CertificateAuthority ca = MakeCa();
  TrustBundle bundle = BundleOf("cluster.local", {&ca});
  testing::Svid s = IssueWorkload(ca, "demo", "web");
  VerifyResult r = bundle.Verify({s.cert}, At(Clock::now()));
  ASSERT_TRUE(r.ok()) << VerifyErrorName(r.error) << ": " << r.detail;
  EXPECT_EQ(r.id->str(), "spiffe://cluster.local/ns/demo/sa/web");
}

TEST(TrustBundleTest, UnknownCa) {
  CertificateAuthority ca = MakeCa();
  CertificateAuthority stranger = MakeCa();  // same trust domain, different key
  TrustBundle bundle = BundleOf("cluster.local", {&ca});
  VerifyResult r = bundle.Verify({IssueWorkload(stranger, "demo", "web").cert}, At(Clock::now()));
  EXPECT_EQ(r.error, VerifyError::kUnknownCa) << r.detail;
  EXPECT_FALSE(r.id.has_value());
  // Presenting the stranger's root as an intermediate does not help.
  r = bundle.Verify({IssueWorkload(stranger, "demo", "web").cert, stranger.root()},
                    At(Clock::now()));
  EXPECT_EQ(r.error, VerifyError::kUnknownCa) << r.detail;
}

TEST(TrustBundleTest, ExpiredAndNotYetValid) {
  TimePoint now = Clock::now();
  CertificateAuthority ca = MakeCa("cluster.local", now - 72h);
  TrustBundle bundle = BundleOf("cluster.local", {&ca});
  // Issued two days ago for one hour.
  ca.set_clock([now] { return now - 48h; });
  testing::Svid old = IssueWorkload(ca, "demo", "web", 1h);
  VerifyResult r = bundle.Verify({old.cert}, At(now));
  EXPECT_EQ(r.error, VerifyError::kExpired) << r.detail;
  EXPECT_TRUE(bundle.Verify({old.cert}, At(now - 48h + 30min)).ok());

  ca.set_clock([now] { return now; });
  testing::Svid fresh = IssueWorkload(ca, "demo", "web", 1h);
  EXPECT_TRUE(bundle.Verify({fresh.cert}, At(now)).ok());
  EXPECT_EQ(bundle.Verify({fresh.cert}, At(now - 1h)).error, VerifyError::kNotYetValid);
  EXPECT_EQ(bundle.Verify({fresh.cert}, At(now + 1h + 1s)).error, VerifyError::kExpired);
}

TEST(TrustBundleTest, WrongTrustDomain) {
  // One root shared by two meshes with different trust domains: the chain verifies, the ID
  // is not ours.
  CertificateAuthority ca = MakeCa("cluster.local");
  TrustBundle other = BundleOf("other.example", {&ca});
  VerifyResult r = other.Verify({IssueWorkload(ca, "demo", "web").cert}, At(Clock::now()));
  EXPECT_EQ(r.error, VerifyError::kWrongTrustDomain) << r.detail;
  EXPECT_FALSE(r.id.has_value());
}

TEST(TrustBundleTest, IdentityKindAndRole) {
  CertificateAuthority ca = MakeCa();
  TrustBundle bundle = BundleOf("cluster.local", {&ca});
  testing::Svid node = testing::IssueNode(ca, "node1");
  TimePoint now = Clock::now();
  EXPECT_EQ(bundle.Verify({node.cert}, At(now)).error, VerifyError::kWrongIdentityKind);
  EXPECT_TRUE(bundle.Verify({node.cert}, At(now, SpiffeId::Kind::kNode)).ok());
  EXPECT_TRUE(bundle.Verify({node.cert}, At(now, std::nullopt)).ok());
  VerifyOptions as_server = At(now, std::nullopt);
  as_server.role = PeerRole::kServer;  // a node certificate is client-only
  EXPECT_EQ(bundle.Verify({node.cert}, as_server).error, VerifyError::kInvalidCertificate);
  as_server.role = PeerRole::kClient;
  EXPECT_TRUE(bundle.Verify({node.cert}, as_server).ok());
}

TEST(TrustBundleTest, BadSignature) {
  CertificateAuthority ca = MakeCa();
  TrustBundle bundle = BundleOf("cluster.local", {&ca});
  std::string der = IssueWorkload(ca, "demo", "web").cert.ToDer();
  der.back() ^= 0x01;  // last byte of the ECDSA signature's s
  Certificate bad = Must(Certificate::FromDer(der));
  VerifyResult r = bundle.Verify({bad}, At(Clock::now()));
  EXPECT_EQ(r.error, VerifyError::kBadSignature) << r.detail;
}

// A certificate signed by the CA's root key without a SPIFFE ID (the CA itself never makes
// one): built by hand, with the profile that passes strict X.509 checks.
Certificate SignWithoutSpiffeId(const CertificateAuthority& ca, const std::string& san) {
  KeyPair root_key = Must(KeyPair::FromPrivateKeyPem(ca.RootKeyPem()));
  KeyPair key = Must(KeyPair::GenerateP256());
  ossl::X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  X509_set_serialNumber(x.get(), RandomSerial().get());
  X509_set_pubkey(x.get(), key.get());
  X509_set_issuer_name(x.get(), X509_get_subject_name(ca.root().get()));
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("web"), -1, -1, 0);
  ossl::SetAsn1Time(X509_getm_notBefore(x.get()), Clock::now() - 1h);
  ossl::SetAsn1Time(X509_getm_notAfter(x.get()), Clock::now() + 1h);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.root().get(), x.get(), nullptr, nullptr, 0);
  for (auto [nid, v] : std::initializer_list<std::pair<int, std::string>>{
           {NID_basic_constraints, "critical,CA:FALSE"},
           {NID_subject_key_identifier, "hash"},
           {NID_authority_key_identifier, "keyid:always"},
           {NID_subject_alt_name, san}}) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, v.c_str());
    EXPECT_NE(e, nullptr) << v;
    X509_add_ext(x.get(), e, -1);
    X509_EXTENSION_free(e);
  }
  EXPECT_GT(X509_sign(x.get(), root_key.get(), EVP_sha256()), 0);
  return Certificate(std::move(x));
}

TEST(TrustBundleTest, NoSpiffeId) {
  CertificateAuthority ca = MakeCa();
  TrustBundle bundle = BundleOf("cluster.local", {&ca});
  TimePoint now = Clock::now();
  for (const char* san : {"DNS:web.demo.svc", "URI:https://cluster.local/ns/demo/sa/web",
                          "URI:spiffe://cluster.local/ns/demo/sa/web,URI:spiffe://cluster."
                          "local/ns/demo/sa/db"}) {
    VerifyResult r = bundle.Verify({SignWithoutSpiffeId(ca, san)}, At(now));
    EXPECT_EQ(r.error, VerifyError::kNoSpiffeId)
        << san << ": " << VerifyErrorName(r.error) << " " << r.detail;
  }
  // The hand-built profile itself is fine: with one SPIFFE URI it verifies.
  EXPECT_TRUE(
      bundle.Verify({SignWithoutSpiffeId(ca, "URI:spiffe://cluster.local/ns/demo/sa/web")}, At(now))
          .ok());
}

TEST(TrustBundleTest, TwoRootsDuringRotation) {
  CertificateAuthority old_ca = MakeCa();
  CertificateAuthority new_ca = MakeCa();
  CertificateAuthority third = MakeCa();
  TrustBundle bundle =
      Must(TrustBundle::FromPem("cluster.local", old_ca.root().ToPem() + new_ca.root().ToPem()));
  EXPECT_EQ(bundle.roots().size(), 2u);
  TimePoint now = Clock::now();
  EXPECT_TRUE(bundle.Verify({IssueWorkload(old_ca, "demo", "web").cert}, At(now)).ok());
  EXPECT_TRUE(bundle.Verify({IssueWorkload(new_ca, "demo", "db").cert}, At(now)).ok());
  EXPECT_EQ(bundle.Verify({IssueWorkload(third, "demo", "web").cert}, At(now)).error,
            VerifyError::kUnknownCa);
  // Only the new root: leaves of the old one are now unknown.
  TrustBundle after = BundleOf("cluster.local", {&new_ca});
  EXPECT_EQ(after.Verify({IssueWorkload(old_ca, "demo", "web").cert}, At(now)).error,
            VerifyError::kUnknownCa);
  // PEM round trip.
  TrustBundle again = Must(TrustBundle::FromPem("cluster.local", bundle.ToPem()));
  EXPECT_EQ(again.ToPem(), bundle.ToPem());
}

TEST(TrustBundleTest, RejectsBadBundles) {
  CertificateAuthority a = MakeCa(), b = MakeCa(), c = MakeCa();
  EXPECT_FALSE(TrustBundle::Create("cluster.local", {}).ok());
  EXPECT_FALSE(TrustBundle::Create("cluster.local", {a.root(), b.root(), c.root()}).ok());
  EXPECT_FALSE(TrustBundle::Create("Bad TD", {a.root()}).ok());
  EXPECT_FALSE(TrustBundle::Create("cluster.local", {IssueWorkload(a, "x", "y").cert}).ok());
  EXPECT_FALSE(TrustBundle::FromPem("cluster.local", "garbage").ok());
}

TEST(TrustBundleTest, EmptyChain) {
  CertificateAuthority ca = MakeCa();
  TrustBundle bundle = BundleOf("cluster.local", {&ca});
  EXPECT_EQ(bundle.Verify(std::vector<Certificate>{}, At(Clock::now())).error,
            VerifyError::kNoCertificate);
}

TEST(TrustBundleTest, ErrorNamesAreStable) {
  EXPECT_EQ(VerifyErrorName(VerifyError::kUnknownCa), "unknown_ca");
  EXPECT_EQ(VerifyErrorName(VerifyError::kWrongTrustDomain), "wrong_trust_domain");
  EXPECT_EQ(FromX509Error(X509_V_ERR_CERT_HAS_EXPIRED), VerifyError::kExpired);
}

}  // namespace
}  // namespace weft::identity
