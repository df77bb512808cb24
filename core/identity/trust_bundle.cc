#include "core/identity/trust_bundle.h"

#include "core/identity/strings.h"

namespace weft::identity {

std::string_view VerifyErrorName(VerifyError e) {
  switch (e) {
    case VerifyError::kOk:
      return "ok";
    case VerifyError::kNoCertificate:
      return "no_certificate";
    case VerifyError::kUnknownCa:
      return "unknown_ca";
    case VerifyError::kExpired:
      return "expired";
    case VerifyError::kNotYetValid:
      return "not_yet_valid";
    case VerifyError::kBadSignature:
      return "bad_signature";
    case VerifyError::kNoSpiffeId:
      return "no_spiffe_id";
    case VerifyError::kWrongTrustDomain:
      return "wrong_trust_domain";
    case VerifyError::kWrongIdentityKind:
      return "wrong_identity_kind";
    case VerifyError::kUnexpectedPeer:
      return "unexpected_peer";
    case VerifyError::kInvalidCertificate:
      return "invalid_certificate";
  }
  return "unknown";
}

VerifyError FromX509Error(int err) {
  switch (err) {
    case X509_V_OK:
      return VerifyError::kOk;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return VerifyError::kUnknownCa;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return VerifyError::kExpired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return VerifyError::kNotYetValid;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
      return VerifyError::kBadSignature;
    default:
      return VerifyError::kInvalidCertificate;
  }
}

absl::StatusOr<TrustBundle> TrustBundle::FromPem(std::string_view trust_domain,
                                                 std::string_view pem) {
  auto roots = Certificate::ChainFromPem(pem);
  if (!roots.ok()) return roots.status();
  return Create(trust_domain, std::move(*roots));
}

absl::StatusOr<TrustBundle> TrustBundle::Create(std::string_view trust_domain,
                                                std::vector<Certificate> roots) {
  if (!IsValidTrustDomain(trust_domain)) {
    return absl::InvalidArgumentError(internal::Cat("invalid trust domain \"", trust_domain, "\""));
  }
  if (roots.empty() || roots.size() > kMaxRoots) {
    return absl::InvalidArgumentError(
        internal::Cat("a trust bundle holds 1 to ", kMaxRoots, " roots, got ", roots.size()));
  }
  std::shared_ptr<X509_STORE> store(X509_STORE_new(), X509_STORE_free);
  if (!store) return ossl::Error(absl::StatusCode::kInternal, "cannot create X509 store");
  for (const Certificate& root : roots) {
    if (!root.IsCa() || X509_check_issued(root.get(), root.get()) != X509_V_OK) {
      return absl::InvalidArgumentError("trust bundle entry is not a self-signed CA certificate");
    }
    if (X509_STORE_add_cert(store.get(), root.get()) != 1) {
      return ossl::Error(absl::StatusCode::kInvalidArgument, "cannot add root to store");
    }
  }
  // Strict RFC 5280 checks; the roots are the only trust anchors (no partial chains).
  X509_STORE_set_flags(store.get(), X509_V_FLAG_X509_STRICT);
  return TrustBundle(std::string(trust_domain), std::move(roots), std::move(store));
}

VerifyResult TrustBundle::Verify(const std::vector<Certificate>& chain,
                                 const VerifyOptions& options) const {
  if (chain.empty()) return VerifyResult{VerifyError::kNoCertificate, "empty chain", {}};
  ossl::X509Stack untrusted(sk_X509_new_null());
  for (size_t i = 1; i < chain.size(); ++i) {
    X509_up_ref(chain[i].get());
    sk_X509_push(untrusted.get(), chain[i].get());
  }
  return Verify(chain.front().get(), untrusted.get(), options);
}

VerifyResult TrustBundle::Verify(X509* leaf, STACK_OF(X509) * untrusted,
                                 const VerifyOptions& options) const {
  VerifyResult r;
  if (leaf == nullptr) {
    r.detail = "no peer certificate";
    return r;
  }
  ossl::X509StoreCtx ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_.get(), leaf, untrusted) != 1) {
    ERR_clear_error();
    r.error = VerifyError::kInvalidCertificate;
    r.detail = "cannot initialise verification";
    return r;
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, Clock::to_time_t(options.now));
  if (options.role != PeerRole::kAny) {
    X509_STORE_CTX_set_purpose(ctx.get(), options.role == PeerRole::kClient
                                              ? X509_PURPOSE_SSL_CLIENT
                                              : X509_PURPOSE_SSL_SERVER);
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    r.error = FromX509Error(err);
    r.detail = internal::Cat(X509_verify_cert_error_string(err), " (depth ",
                             X509_STORE_CTX_get_error_depth(ctx.get()), ")");
    return r;
  }
  Certificate cert(ossl::X509Ptr([leaf] {
    X509_up_ref(leaf);
    return leaf;
  }()));
  if (cert.IsCa()) {
    r.error = VerifyError::kInvalidCertificate;
    r.detail = "peer certificate is a CA certificate";
    return r;
  }
  auto id = cert.GetSpiffeId();
  if (!id.ok()) {
    r.error = VerifyError::kNoSpiffeId;
    r.detail = std::string(id.status().message());
    return r;
  }
  if (id->trust_domain() != trust_domain_) {
    r.error = VerifyError::kWrongTrustDomain;
    r.detail = internal::Cat(id->str(), " is not in trust domain ", trust_domain_);
    return r;
  }
  if (options.kind && id->kind() != *options.kind) {
    r.error = VerifyError::kWrongIdentityKind;
    r.detail = internal::Cat(id->str(), " is a ", KindName(id->kind()), " identity, expected ",
                             KindName(*options.kind));
    return r;
  }
  r.error = VerifyError::kOk;
  r.id = std::move(*id);
  return r;
}

}  // namespace weft::identity
