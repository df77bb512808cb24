#pragma once

// CertManager: the workload certificates of one node (docs/security.md, "Workload
// certificates"). For every identity of an enrolled pod on the node it generates a P-256 key
// (never written anywhere), gets it signed by the CA (CaClient, mTLS with the node
// certificate), renews it at half life with a new key, keeps a still-valid certificate when a
// renewal fails and retries with core/identity Backoff, and never hands out an expired one.
// The trust bundle comes with every signature and is polled every bundle_poll_interval.
//
// Thread-safe: the proxy's workers call Get() on every new connection; all network work runs
// on the manager's own thread.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/identity/ca_client.h"
#include "agent/identity/cert_manager_options.h"
#include "core/hbone/pool.h"
#include "core/identity/renewal.h"
#include "core/identity/spiffe_id.h"
#include "core/identity/trust_bundle.h"

namespace weft::agent {

// One identity's certificate, as `weftctl node certs` shows it (JSON shape in
// docs/security.md).
struct CertStatus {
  std::string identity;  // spiffe://...
  std::string serial;    // hex; empty before the first certificate
  std::optional<identity::TimePoint> not_before, not_after;
  // "pending" (no certificate yet), or CertStateName: "valid", "renew_due", "expired",
  // "not_yet_valid".
  std::string state;
  std::string error;                                // the last failure, cleared by a success
  std::optional<identity::TimePoint> next_attempt;  // next renewal or retry
};

// [{"identity","serial","not_before","not_after","state","error","next_attempt"}], times as
// RFC 3339 UTC ("2025-01-02T03:04:05Z") or null.
std::string CertStatusJson(const std::vector<CertStatus>& certs);
std::string Rfc3339(identity::TimePoint t);

class CertManager {
 public:
  // Loads the node certificate, key and bundle, and starts the manager's thread.
  static absl::StatusOr<std::unique_ptr<CertManager>> Start(CertManagerOptions options);
  ~CertManager();  // stops the thread; outstanding requests are abandoned

  // The identities of the enrolled pods on this node: new ones are requested now, removed
  // ones are dropped (with their keys). Workload identities of the trust domain only; others
  // are ignored.
  void SetIdentities(std::vector<identity::SpiffeId> ids);

  // TLS 1.3 mutual contexts for one identity: the bundle as trust (peers must be workloads of
  // the trust domain), this identity's certificate and key. Rebuilt on renewal and on bundle
  // change; a connection keeps the context it started with.
  struct Contexts {
    std::shared_ptr<SSL_CTX> server, client;
    // The same contexts for core/h2 and core/hbone (HboneServer's TlsProvider, h2::TlsTransport).
    std::shared_ptr<boost::asio::ssl::context> asio_server, asio_client;
    identity::Certificate cert;
    std::shared_ptr<const identity::KeyPair> key;  // for SetIdentity(SSL*, ...) per connection
    std::shared_ptr<const identity::TrustBundle> bundle;
    // The identity as core/hbone's pool takes it (ConnectRequest::source).
    std::shared_ptr<const hbone::SourceIdentity> source;
  };
  // nullptr when there is no usable (valid, unexpired) certificate for `id` right now.
  std::shared_ptr<const Contexts> Get(const identity::SpiffeId& id) const;
  std::shared_ptr<const identity::TrustBundle> Bundle() const;
  // A client context with the bundle as trust and no identity (each connection sets its
  // source's with SetIdentity(SSL*, ...)); rebuilt when the bundle changes.
  std::shared_ptr<boost::asio::ssl::context> ClientTls() const;
  std::vector<CertStatus> Status() const;
  // Called on the manager's thread after a certificate or the bundle changed. Keep it short.
  void OnChange(std::function<void()> fn);

  const CertManagerOptions& options() const { return options_; }

 private:
  struct Entry {
    explicit Entry(identity::Backoff b) : slot(std::move(b)) {}
    identity::CertSlot slot;
    std::optional<identity::Certificate> cert;
    std::shared_ptr<const identity::KeyPair> key;
    std::shared_ptr<const Contexts> contexts;
    std::string error;
    bool in_flight = false;
    uint64_t generation = 0;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  explicit CertManager(CertManagerOptions options);
  void DoSetIdentities(std::vector<identity::SpiffeId> ids);
  void Fetch(const identity::SpiffeId& id);
  void OnSigned(const identity::SpiffeId& id, uint64_t generation,
                std::shared_ptr<identity::KeyPair> key, absl::StatusOr<SignResponse> r);
  void Schedule(Entry& e, const identity::SpiffeId& id, identity::TimePoint when);
  void PollBundle();
  // Takes `pem` as the new bundle if it differs; rebuilds contexts. Under mu_.
  absl::Status AdoptBundleLocked(const std::string& pem, bool* changed);
  void Notify();

  CertManagerOptions options_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::unique_ptr<CaClient> client_;
  boost::asio::steady_timer bundle_timer_;
  uint64_t next_generation_ = 1;

  mutable std::mutex mu_;
  std::shared_ptr<const identity::TrustBundle> bundle_;
  std::shared_ptr<boost::asio::ssl::context> client_tls_;
  std::map<identity::SpiffeId, Entry> entries_;
  std::vector<std::function<void()>> listeners_;
};

// Builds the Contexts for a certificate and key under `bundle`.
absl::StatusOr<std::shared_ptr<const CertManager::Contexts>> BuildContexts(
    const identity::Certificate& cert, std::shared_ptr<const identity::KeyPair> key,
    std::shared_ptr<const identity::TrustBundle> bundle);

}  // namespace weft::agent
