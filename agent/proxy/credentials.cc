#include "agent/proxy/credentials.h"

#include <openssl/ssl.h>

#include "core/h2/tls_transport.h"
#include "core/identity/ossl.h"
#include "core/identity/tls.h"

namespace weft::agent::proxy {

absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeHboneTls(
    std::shared_ptr<const identity::TrustBundle> bundle, const hbone::SourceIdentity* identity) {
  identity::ossl::SslCtx ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return absl::InternalError("SSL_CTX_new failed");
  if (auto st = identity::ConfigureMutualTls(ctx.get(), std::move(bundle)); !st.ok()) return st;
  if (identity != nullptr) {
    if (auto st = identity::SetIdentity(ctx.get(), identity->cert, identity->key); !st.ok()) {
      return st;
    }
  }
  return h2::WrapSslCtx(ctx.get());
}

absl::StatusOr<std::shared_ptr<FixedCredentials>> FixedCredentials::Create(
    std::shared_ptr<const identity::TrustBundle> bundle,
    std::vector<hbone::SourceIdentity> identities) {
  auto creds = std::shared_ptr<FixedCredentials>(new FixedCredentials());
  creds->bundle_ = bundle;
  auto client = MakeHboneTls(bundle, nullptr);
  if (!client.ok()) return client.status();
  creds->client_ = *client;
  for (auto& id : identities) {
    auto source = std::make_shared<const hbone::SourceIdentity>(std::move(id));
    auto server = MakeHboneTls(bundle, source.get());
    if (!server.ok()) return server.status();
    creds->entries_[source->id.str()] = {source, *server};
  }
  return creds;
}

void FixedCredentials::SetIdentities(const std::vector<identity::SpiffeId>&) {
  // Fixed: every certificate given at construction stays available.
}

std::shared_ptr<const hbone::SourceIdentity> FixedCredentials::Source(
    const identity::SpiffeId& id) const {
  auto it = entries_.find(id.str());
  return it == entries_.end() ? nullptr : it->second.source;
}

std::shared_ptr<boost::asio::ssl::context> FixedCredentials::ServerTls(
    const identity::SpiffeId& id) const {
  auto it = entries_.find(id.str());
  return it == entries_.end() ? nullptr : it->second.server;
}

}  // namespace weft::agent::proxy
