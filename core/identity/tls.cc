#include "core/identity/tls.h"

#include <algorithm>

#include "core/identity/strings.h"

namespace weft::identity {
namespace {

struct CtxData {
  std::shared_ptr<const TrustBundle> bundle;
  TlsOptions options;
};

struct SslData {
  std::vector<SpiffeId> allowed;
  VerifyResult result;
};

void FreeCtxData(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<CtxData*>(ptr);
}
void FreeSslData(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<SslData*>(ptr);
}

int CtxIndex() {
  static const int idx =
      CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, nullptr, nullptr, nullptr, FreeCtxData);
  return idx;
}
int SslIndex() {
  static const int idx =
      CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, nullptr, nullptr, nullptr, FreeSslData);
  return idx;
}

SslData* GetOrCreateSslData(SSL* ssl) {
  auto* d = static_cast<SslData*>(SSL_get_ex_data(ssl, SslIndex()));
  if (d == nullptr) {
    d = new SslData();
    if (SSL_set_ex_data(ssl, SslIndex(), d) != 1) {
      delete d;
      return nullptr;
    }
  }
  return d;
}

// The X509_V_ERR_* to leave in the store context, so that libssl sends the matching alert.
int X509ErrorFor(VerifyError e) {
  switch (e) {
    case VerifyError::kExpired:
      return X509_V_ERR_CERT_HAS_EXPIRED;
    case VerifyError::kNotYetValid:
      return X509_V_ERR_CERT_NOT_YET_VALID;
    case VerifyError::kUnknownCa:
      return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
    case VerifyError::kBadSignature:
      return X509_V_ERR_CERT_SIGNATURE_FAILURE;
    default:
      return X509_V_ERR_APPLICATION_VERIFICATION;
  }
}

// Replaces OpenSSL's chain verification for the context: TrustBundle::Verify does the X.509
// part and the SPIFFE checks in one place, and the reason is kept on the SSL.
int VerifyPeer(X509_STORE_CTX* store_ctx, void* /*arg*/) {
  SSL* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 0;
  auto* cd = static_cast<CtxData*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), CtxIndex()));
  SslData* sd = GetOrCreateSslData(ssl);
  if (cd == nullptr || sd == nullptr) return 0;

  VerifyOptions opts;
  opts.now = Clock::now();
  opts.kind = cd->options.peer_kind;
  // The peer is a server when we are the client, and the other way round.
  opts.role = SSL_is_server(ssl) ? PeerRole::kClient : PeerRole::kServer;
  VerifyResult r = cd->bundle->Verify(X509_STORE_CTX_get0_cert(store_ctx),
                                      X509_STORE_CTX_get0_untrusted(store_ctx), opts);
  if (r.ok() && !sd->allowed.empty() &&
      std::find(sd->allowed.begin(), sd->allowed.end(), *r.id) == sd->allowed.end()) {
    r.error = VerifyError::kUnexpectedPeer;
    r.detail = internal::Cat("peer is ", r.id->str(), ", not an expected identity");
    r.id.reset();
  }
  sd->result = std::move(r);
  if (!sd->result.ok()) {
    X509_STORE_CTX_set_error(store_ctx, X509ErrorFor(sd->result.error));
    return 0;
  }
  X509_STORE_CTX_set_error(store_ctx, X509_V_OK);
  return 1;
}

}  // namespace

absl::Status ConfigureMutualTls(SSL_CTX* ctx, std::shared_ptr<const TrustBundle> bundle,
                                TlsOptions options) {
  if (ctx == nullptr || !bundle) return absl::InvalidArgumentError("null SSL_CTX or bundle");
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return ossl::Error(absl::StatusCode::kInternal, "cannot restrict to TLS 1.3");
  }
  // The bundle's store is also the context's trust store (for chain building of our own
  // certificate and for tools that inspect the context); verification goes through
  // VerifyPeer either way.
  X509_STORE_up_ref(bundle->store());
  SSL_CTX_set_cert_store(ctx, bundle->store());
  SSL_CTX_set_verify(ctx,
                     options.client_certificate_optional
                         ? SSL_VERIFY_PEER
                         : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, VerifyPeer, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  auto* old = static_cast<CtxData*>(SSL_CTX_get_ex_data(ctx, CtxIndex()));
  if (SSL_CTX_set_ex_data(ctx, CtxIndex(), new CtxData{std::move(bundle), options}) != 1) {
    return ossl::Error(absl::StatusCode::kInternal, "cannot attach trust bundle");
  }
  delete old;
  return absl::OkStatus();
}

absl::Status SetIdentity(SSL_CTX* ctx, const Certificate& leaf, const KeyPair& key,
                         const std::vector<Certificate>& intermediates) {
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return ossl::Error(absl::StatusCode::kInvalidArgument, "certificate and key do not match");
  }
  SSL_CTX_clear_chain_certs(ctx);
  for (const Certificate& c : intermediates) {
    if (SSL_CTX_add1_chain_cert(ctx, c.get()) != 1) {
      return ossl::Error(absl::StatusCode::kInternal, "cannot add chain certificate");
    }
  }
  return absl::OkStatus();
}

absl::Status SetIdentity(SSL* ssl, const Certificate& leaf, const KeyPair& key) {
  if (SSL_use_certificate(ssl, leaf.get()) != 1 || SSL_use_PrivateKey(ssl, key.get()) != 1 ||
      SSL_check_private_key(ssl) != 1) {
    return ossl::Error(absl::StatusCode::kInvalidArgument, "certificate and key do not match");
  }
  return absl::OkStatus();
}

void ExpectPeer(SSL* ssl, std::vector<SpiffeId> allowed) {
  if (SslData* sd = GetOrCreateSslData(ssl)) sd->allowed = std::move(allowed);
}

VerifyResult PeerVerificationOf(const SSL* ssl) {
  auto* sd = static_cast<SslData*>(SSL_get_ex_data(ssl, SslIndex()));
  if (sd == nullptr) return VerifyResult{VerifyError::kNoCertificate, "no verification ran", {}};
  return sd->result;
}

}  // namespace weft::identity
