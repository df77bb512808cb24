#include "core/identity/ca.h"

#include <openssl/bn.h>
#include <openssl/rand.h>

#include <fstream>
#include <sstream>

#include "core/identity/csr.h"
#include "core/identity/strings.h"

namespace weft::identity {
namespace {

constexpr std::string_view kScheme = "spiffe://";

// Adds extension `nid` = `value` (OpenSSL config syntax, e.g. "critical,CA:FALSE").
absl::Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return ossl::Error(absl::StatusCode::kInternal,
                       internal::Cat("cannot build extension ", OBJ_nid2sn(nid), "=", value));
  }
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return ossl::Error(absl::StatusCode::kInternal, "cannot add extension");
  return absl::OkStatus();
}

// Trust domain from a root's "spiffe://<td>" URI SAN; empty when there is none.
std::string TrustDomainOfRoot(const Certificate& root) {
  for (const std::string& uri : root.UriSans()) {
    if (uri.rfind(kScheme, 0) != 0) continue;
    std::string td = uri.substr(kScheme.size());
    if (IsValidTrustDomain(td)) return td;
  }
  return {};
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(internal::Cat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

ossl::Asn1Integer RandomSerial() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return nullptr;
  bytes[0] &= 0x7f;
  bytes[15] |= 0x01;  // never zero
  ossl::Bignum bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn) return nullptr;
  return ossl::Asn1Integer(BN_to_ASN1_INTEGER(bn.get(), nullptr));
}

SignAuthorizer PodOnNodeAuthorizer(HasPodOnNode has_pod) {
  return [has_pod = std::move(has_pod)](const SpiffeId& requester,
                                        const SpiffeId& subject) -> absl::Status {
    if (subject.kind() != SpiffeId::Kind::kWorkload) {
      return absl::PermissionDeniedError(
          internal::Cat(subject.str(), " is not a workload identity"));
    }
    if (requester.kind() == SpiffeId::Kind::kWorkload) {
      if (requester == subject) return absl::OkStatus();
      return absl::PermissionDeniedError(internal::Cat(
          "requester ", requester.str(), " may get only its own identity, not ", subject.str()));
    }
    if (requester.kind() != SpiffeId::Kind::kNode) {
      return absl::PermissionDeniedError(
          internal::Cat("requester ", requester.str(), " is not a node or workload identity"));
    }
    if (!has_pod(requester.node(), subject.ns(), subject.service_account())) {
      return absl::PermissionDeniedError(internal::Cat("no pod with service account ", subject.ns(),
                                                       "/", subject.service_account(),
                                                       " is scheduled on node ", requester.node()));
    }
    return absl::OkStatus();
  };
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::CreateRoot(std::string_view trust_domain,
                                                                      std::chrono::seconds lifetime,
                                                                      TimePoint now,
                                                                      CaSettings settings) {
  if (!IsValidTrustDomain(trust_domain)) {
    return absl::InvalidArgumentError(internal::Cat("invalid trust domain \"", trust_domain, "\""));
  }
  if (lifetime <= std::chrono::seconds(0)) {
    return absl::InvalidArgumentError("root lifetime must be positive");
  }
  auto key = KeyPair::GenerateP256();
  if (!key.ok()) return key.status();

  ossl::X509Ptr x(X509_new());
  ossl::Asn1Integer serial = RandomSerial();
  if (!x || !serial || X509_set_version(x.get(), 2) != 1 ||
      X509_set_serialNumber(x.get(), serial.get()) != 1 ||
      X509_set_pubkey(x.get(), key->get()) != 1) {
    return ossl::Error(absl::StatusCode::kInternal, "cannot build root certificate");
  }
  // A distinct CN per root keeps two roots of one trust domain apart in logs and tools; the
  // chain builder tells them apart by key identifier anyway.
  std::string cn = internal::Cat("weft root CA ", SerialToHex(serial.get()).substr(0, 8));
  X509_NAME* name = X509_get_subject_name(x.get());
  std::string td(trust_domain);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(td.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  if (!ossl::SetAsn1Time(X509_getm_notBefore(x.get()), now - settings.backdate) ||
      !ossl::SetAsn1Time(X509_getm_notAfter(x.get()), now + lifetime)) {
    return ossl::Error(absl::StatusCode::kInternal, "cannot set root validity");
  }
  for (auto [nid, value] : std::initializer_list<std::pair<int, std::string>>{
           {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
           {NID_key_usage, "critical,keyCertSign,cRLSign"},
           {NID_subject_key_identifier, "hash"},
           {NID_authority_key_identifier, "keyid:always"},
           {NID_subject_alt_name, internal::Cat("URI:", kScheme, trust_domain)},
       }) {
    if (auto st = AddExt(x.get(), x.get(), nid, value); !st.ok()) return st;
  }
  if (X509_sign(x.get(), key->get(), EVP_sha256()) <= 0) {
    return ossl::Error(absl::StatusCode::kInternal, "cannot self-sign root");
  }
  return CertificateAuthority(std::string(trust_domain), Certificate(std::move(x)), std::move(*key),
                              settings);
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::FromPem(std::string_view cert_pem,
                                                                   std::string_view key_pem,
                                                                   std::string_view trust_domain,
                                                                   CaSettings settings) {
  auto root = Certificate::FromPem(cert_pem);
  if (!root.ok()) return root.status();
  auto key = KeyPair::FromPrivateKeyPem(key_pem);
  if (!key.ok()) return key.status();
  if (!root->IsCa()) return absl::InvalidArgumentError("root certificate is not a CA");
  if (X509_check_private_key(root->get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("root key does not match the root certificate");
  }
  std::string td = TrustDomainOfRoot(*root);
  if (td.empty()) {
    if (trust_domain.empty()) {
      return absl::InvalidArgumentError("root has no spiffe://<trust-domain> SAN; give one");
    }
    if (!IsValidTrustDomain(trust_domain)) {
      return absl::InvalidArgumentError(
          internal::Cat("invalid trust domain \"", trust_domain, "\""));
    }
    td = trust_domain;
  } else if (!trust_domain.empty() && trust_domain != td) {
    return absl::InvalidArgumentError(
        internal::Cat("root is for trust domain ", td, ", not ", trust_domain));
  }
  return CertificateAuthority(std::move(td), std::move(*root), std::move(*key), settings);
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::FromFiles(const std::string& cert_path,
                                                                     const std::string& key_path,
                                                                     std::string_view trust_domain,
                                                                     CaSettings settings) {
  auto cert = ReadFile(cert_path);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(key_path);
  if (!key.ok()) return key.status();
  return FromPem(*cert, *key, trust_domain, settings);
}

absl::StatusOr<Certificate> CertificateAuthority::Sign(std::string_view csr_pem,
                                                       const SpiffeId& requester,
                                                       std::chrono::seconds requested_ttl,
                                                       const SignAuthorizer& authorize) const {
  auto csr = ParseCsr(csr_pem);
  if (!csr.ok()) return csr.status();
  const SpiffeId& subject = csr->id;
  if (subject.kind() != SpiffeId::Kind::kWorkload) {
    return absl::PermissionDeniedError(internal::Cat(
        "CSR for ", subject.str(), ": only workload identities are signed from a CSR"));
  }
  if (subject.trust_domain() != trust_domain_) {
    return absl::PermissionDeniedError(
        internal::Cat("CSR for ", subject.str(), ": not in trust domain ", trust_domain_));
  }
  if ((requester.kind() != SpiffeId::Kind::kNode &&
       requester.kind() != SpiffeId::Kind::kWorkload) ||
      requester.trust_domain() != trust_domain_) {
    return absl::PermissionDeniedError(internal::Cat("requester ", requester.str(),
                                                     " is not a node or workload of trust domain ",
                                                     trust_domain_));
  }
  if (!authorize) return absl::PermissionDeniedError("no authorizer: refusing to sign");
  if (absl::Status st = authorize(requester, subject); !st.ok()) return st;
  if (requested_ttl <= std::chrono::seconds(0)) {
    return absl::InvalidArgumentError("requested TTL must be positive");
  }
  return Issue(subject, csr->public_key.get(), std::min(requested_ttl, settings_.max_workload_ttl),
               Usage::kBoth);
}

absl::StatusOr<Certificate> CertificateAuthority::IssueNodeCertificate(
    std::string_view node, EVP_PKEY* public_key, std::chrono::seconds ttl) const {
  auto id = SpiffeId::Node(trust_domain_, node);
  if (!id.ok()) return id.status();
  if (ttl <= std::chrono::seconds(0)) return absl::InvalidArgumentError("TTL must be positive");
  return Issue(*id, public_key, ttl, Usage::kClient);
}

absl::StatusOr<Certificate> CertificateAuthority::IssueCaServerCertificate(
    EVP_PKEY* public_key, std::chrono::seconds ttl) const {
  auto id = SpiffeId::CaServer(trust_domain_);
  if (!id.ok()) return id.status();
  if (ttl <= std::chrono::seconds(0)) return absl::InvalidArgumentError("TTL must be positive");
  return Issue(*id, public_key, ttl, Usage::kServer);
}

absl::StatusOr<Certificate> CertificateAuthority::Issue(const SpiffeId& id, EVP_PKEY* public_key,
                                                        std::chrono::seconds ttl,
                                                        Usage usage) const {
  if (!IsP256(public_key)) return absl::InvalidArgumentError("public key is not ECDSA P-256");
  TimePoint now = clock_();
  TimePoint root_end = root_.not_after();
  if (now >= root_end) {
    return absl::FailedPreconditionError("the root certificate has expired; rotate the root");
  }
  TimePoint not_after = std::min(now + ttl, root_end);

  ossl::X509Ptr x(X509_new());
  ossl::Asn1Integer serial = RandomSerial();
  if (!x || !serial || X509_set_version(x.get(), 2) != 1 ||
      X509_set_serialNumber(x.get(), serial.get()) != 1 ||
      X509_set_pubkey(x.get(), public_key) != 1 ||
      X509_set_issuer_name(x.get(), X509_get_subject_name(root_.get())) != 1 ||
      !ossl::SetAsn1Time(
          X509_getm_notBefore(x.get()),
          now - Backdate(std::chrono::duration_cast<std::chrono::seconds>(not_after - now))) ||
      !ossl::SetAsn1Time(X509_getm_notAfter(x.get()), not_after)) {
    return ossl::Error(absl::StatusCode::kInternal, "cannot build certificate");
  }
  // Empty subject (as Istio's SVIDs): the identity is the URI SAN alone, which RFC 5280
  // then requires to be critical.
  std::string eku = usage == Usage::kClient   ? "clientAuth"
                    : usage == Usage::kServer ? "serverAuth"
                                              : "serverAuth,clientAuth";
  for (auto [nid, value] : std::initializer_list<std::pair<int, std::string>>{
           {NID_basic_constraints, "critical,CA:FALSE"},
           {NID_key_usage, "critical,digitalSignature"},
           {NID_ext_key_usage, eku},
           {NID_subject_key_identifier, "hash"},
           {NID_authority_key_identifier, "keyid:always"},
           {NID_subject_alt_name, internal::Cat("critical,URI:", id.str())},
       }) {
    if (auto st = AddExt(x.get(), root_.get(), nid, value); !st.ok()) return st;
  }
  if (X509_sign(x.get(), key_.get(), EVP_sha256()) <= 0) {
    return ossl::Error(absl::StatusCode::kInternal, "cannot sign certificate");
  }
  return Certificate(std::move(x));
}

}  // namespace weft::identity
