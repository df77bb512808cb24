#pragma once

// Mutual TLS 1.3 with SPIFFE identities on an OpenSSL SSL_CTX: what the HBONE listener and
// connector (and the agent <-> CA channel) build their contexts with.
//
//   SSL_CTX* ctx = SSL_CTX_new(TLS_method());
//   ConfigureMutualTls(ctx, bundle, {.peer_kind = SpiffeId::Kind::kWorkload});
//   SetIdentity(ctx, svid_cert, svid_key);
//   ... per connection, outbound: ExpectPeer(ssl, {destination identity});
//   ... after the handshake (or its failure): PeerVerificationOf(ssl)

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "core/identity/certificate.h"
#include "core/identity/key_pair.h"
#include "core/identity/trust_bundle.h"

namespace weft::identity {

struct TlsOptions {
  // Kind the peer's SPIFFE ID must have: workloads for HBONE; node agents at the CA server;
  // the CA server at the agent.
  std::optional<SpiffeId::Kind> peer_kind = SpiffeId::Kind::kWorkload;
  // Server side: a client without a certificate completes the handshake (PeerVerificationOf
  // says kNoCertificate) and must authenticate otherwise (the CA's ServiceAccount tokens); a
  // certificate it does present is verified as always.
  bool client_certificate_optional = false;
};

// TLS 1.3 only; peer certificate required both ways (a server refuses a client without
// one, unless client_certificate_optional); verification by `bundle` at the current time with the
// SPIFFE checks of TrustBundle::Verify; no session tickets or session cache (every connection
// verifies the peer's current certificate). The bundle is kept alive by the context. A new bundle
// (root rotation) means a new SSL_CTX for new connections; live ones keep theirs.
absl::Status ConfigureMutualTls(SSL_CTX* ctx, std::shared_ptr<const TrustBundle> bundle,
                                TlsOptions options = {});

// Our own certificate (plus intermediates, none today) and key; checks that they match.
absl::Status SetIdentity(SSL_CTX* ctx, const Certificate& leaf, const KeyPair& key,
                         const std::vector<Certificate>& intermediates = {});
// Same, per connection (a pooled connection per source identity shares one context).
absl::Status SetIdentity(SSL* ssl, const Certificate& leaf, const KeyPair& key);

// Accept only these peer identities on this connection (outbound HBONE: the destination
// workload's service account, like ztunnel's expected identity). Empty: any that verifies.
void ExpectPeer(SSL* ssl, std::vector<SpiffeId> allowed);

// What verification concluded about the peer of `ssl`: the identity when the handshake's
// verification passed, the reason when it failed (kNoCertificate when none was presented or
// verification never ran).
VerifyResult PeerVerificationOf(const SSL* ssl);

}  // namespace weft::identity
