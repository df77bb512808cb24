#pragma once

// The node proxy's view of workload identities for mutual TLS (HBONE): the certificate and
// key of every identity with an enrolled pod on this node, the TLS contexts made from them and
// the trust bundle. Implemented over the CA-backed certificate manager in the proxy process,
// and by FixedCredentials (certificates given once: tests, or files).
//
// Thread-safe: workers call Source/ServerTls/ClientTls on every new connection.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/hbone/pool.h"
#include "core/identity/spiffe_id.h"
#include "core/identity/trust_bundle.h"

namespace weft::agent::proxy {

class WorkloadCredentials {
 public:
  virtual ~WorkloadCredentials() = default;
  // The identities of the pods the proxy serves now (fetch new ones, drop the rest).
  virtual void SetIdentities(const std::vector<identity::SpiffeId>& ids) = 0;
  // The certificate and key an outbound HBONE connection of `id` presents; null when there is
  // no usable (valid, unexpired) certificate.
  virtual std::shared_ptr<const hbone::SourceIdentity> Source(
      const identity::SpiffeId& id) const = 0;
  // The context a pod's :15008 listener presents for `id` (its certificate, the bundle as
  // trust, TLS 1.3 mutual); null when there is no usable certificate.
  virtual std::shared_ptr<boost::asio::ssl::context> ServerTls(
      const identity::SpiffeId& id) const = 0;
  // The client context (the bundle as trust, TLS 1.3 mutual, no identity: each connection
  // sets its source's). Null before a bundle is known.
  virtual std::shared_ptr<boost::asio::ssl::context> ClientTls() const = 0;
  virtual std::string trust_domain() const = 0;
};

// Certificates given at construction; SetIdentities only filters what is handed out.
class FixedCredentials : public WorkloadCredentials {
 public:
  static absl::StatusOr<std::shared_ptr<FixedCredentials>> Create(
      std::shared_ptr<const identity::TrustBundle> bundle,
      std::vector<hbone::SourceIdentity> identities);

  void SetIdentities(const std::vector<identity::SpiffeId>& ids) override;
  std::shared_ptr<const hbone::SourceIdentity> Source(const identity::SpiffeId& id) const override;
  std::shared_ptr<boost::asio::ssl::context> ServerTls(const identity::SpiffeId& id) const override;
  std::shared_ptr<boost::asio::ssl::context> ClientTls() const override { return client_; }
  std::string trust_domain() const override { return bundle_->trust_domain(); }

 private:
  struct Entry {
    std::shared_ptr<const hbone::SourceIdentity> source;
    std::shared_ptr<boost::asio::ssl::context> server;
  };
  std::shared_ptr<const identity::TrustBundle> bundle_;
  std::shared_ptr<boost::asio::ssl::context> client_;
  std::map<std::string, Entry> entries_;  // by SPIFFE ID text
  FixedCredentials() = default;
};

// A TLS context for HBONE: ConfigureMutualTls(bundle) and, when given, the identity.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeHboneTls(
    std::shared_ptr<const identity::TrustBundle> bundle, const hbone::SourceIdentity* identity);

}  // namespace weft::agent::proxy
