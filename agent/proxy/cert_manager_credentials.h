#pragma once

// The node proxy's WorkloadCredentials over the agent's CertManager: certificates from the
// CA, renewed in the background; the proxy process owns the manager (keys never leave it).

#include <memory>

#include "agent/identity/cert_manager.h"
#include "agent/proxy/credentials.h"

namespace weft::agent::proxy {

class CertManagerCredentials : public WorkloadCredentials {
 public:
  explicit CertManagerCredentials(std::unique_ptr<CertManager> manager)
      : manager_(std::move(manager)) {}

  void SetIdentities(const std::vector<identity::SpiffeId>& ids) override {
    manager_->SetIdentities(ids);
  }
  std::shared_ptr<const hbone::SourceIdentity> Source(const identity::SpiffeId& id) const override {
    auto c = manager_->Get(id);
    return c ? c->source : nullptr;
  }
  std::shared_ptr<boost::asio::ssl::context> ServerTls(
      const identity::SpiffeId& id) const override {
    auto c = manager_->Get(id);
    return c ? c->asio_server : nullptr;
  }
  std::shared_ptr<boost::asio::ssl::context> ClientTls() const override {
    return manager_->ClientTls();
  }
  std::string trust_domain() const override { return manager_->options().trust_domain; }

  CertManager& manager() { return *manager_; }

 private:
  std::unique_ptr<CertManager> manager_;
};

}  // namespace weft::agent::proxy
