#pragma once

// The roots a node trusts for one trust domain: one normally, two while the root rotates
// (old and new both verify until every workload holds a certificate from the new one).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/identity/certificate.h"
#include "core/identity/ossl.h"
#include "core/identity/spiffe_id.h"

namespace weft::identity {

enum class VerifyError {
  kOk,
  kNoCertificate,       // the peer sent none
  kUnknownCa,           // does not chain to a root of the bundle
  kExpired,             // the leaf (or a root) is past notAfter
  kNotYetValid,         // before notBefore
  kBadSignature,        // a signature in the chain does not verify
  kNoSpiffeId,          // no URI SAN, several, or not a SPIFFE ID weft accepts
  kWrongTrustDomain,    // a SPIFFE ID of another trust domain
  kWrongIdentityKind,   // e.g. a node certificate where a workload's is required
  kUnexpectedPeer,      // a valid identity, but not one this connection expected
  kInvalidCertificate,  // anything else X.509 verification refuses (purpose, CA flag, ...)
};
// Stable lowercase names, used as metric label values: "unknown_ca", "expired", ...
std::string_view VerifyErrorName(VerifyError e);

struct VerifyResult {
  VerifyError error = VerifyError::kNoCertificate;
  std::string detail;          // human-readable, for logs
  std::optional<SpiffeId> id;  // set when the chain verified and the ID parsed
  bool ok() const { return error == VerifyError::kOk; }
};

enum class PeerRole { kAny, kClient, kServer };  // which extKeyUsage the leaf must have

struct VerifyOptions {
  TimePoint now = Clock::now();
  // Required kind of the leaf's SPIFFE ID; nullopt accepts any kind.
  std::optional<SpiffeId::Kind> kind = SpiffeId::Kind::kWorkload;
  PeerRole role = PeerRole::kAny;
};

class TrustBundle {
 public:
  static constexpr size_t kMaxRoots = 2;

  // 1..kMaxRoots self-signed CA certificates, concatenated PEM.
  static absl::StatusOr<TrustBundle> FromPem(std::string_view trust_domain, std::string_view pem);
  static absl::StatusOr<TrustBundle> Create(std::string_view trust_domain,
                                            std::vector<Certificate> roots);

  const std::string& trust_domain() const { return trust_domain_; }
  const std::vector<Certificate>& roots() const { return roots_; }
  std::string ToPem() const { return ChainToPem(roots_); }
  // The store holding the roots (shared; do not modify).
  X509_STORE* store() const { return store_.get(); }

  // Verifies `chain` (leaf first, then any intermediates) at options.now: chains to a root,
  // every certificate valid, leaf not a CA, exactly one SPIFFE URI SAN in this trust domain
  // of the required kind.
  VerifyResult Verify(const std::vector<Certificate>& chain, const VerifyOptions& options) const;
  // Same, on raw OpenSSL objects (from a handshake).
  VerifyResult Verify(X509* leaf, STACK_OF(X509) * untrusted, const VerifyOptions& options) const;

 private:
  TrustBundle(std::string td, std::vector<Certificate> roots, std::shared_ptr<X509_STORE> store)
      : trust_domain_(std::move(td)), roots_(std::move(roots)), store_(std::move(store)) {}
  std::string trust_domain_;
  std::vector<Certificate> roots_;
  std::shared_ptr<X509_STORE> store_;
};

// The reason for an X509_V_ERR_* code.
VerifyError FromX509Error(int x509_error);

}  // namespace weft::identity
