#pragma once

// CaServer: the CA's network face (docs/security.md, "The CA"). HTTP/2 over mutual TLS 1.3
// on an io_context:
//
//   POST /v1/sign    {"csr": PEM, "ttl_seconds": N}
//                    -> 200 {"certificate": PEM, "trust_bundle": PEM}
//                    -> 400 / 403 / 503 {"error": message}
//   GET  /v1/bundle  -> 200 {"trust_bundle": PEM}
//
// The server presents spiffe://<td>/weft/ca (issued by the CA to itself at Start and again at
// half life); clients must present a node certificate of the trust domain
// (spiffe://<td>/weft/node/<node>), which is the requester passed to
// CertificateAuthority::Sign with PodOnNodeAuthorizer(has_pod).
//
// Single-threaded: everything runs on the io_context's thread; Stats() may be called from any
// thread.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "core/h2/session.h"
#include "core/h2/tls_transport.h"
#include "core/identity/ca.h"
#include "core/identity/trust_bundle.h"

namespace weft::agent {

struct CaServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 15012;  // 0: any free port (tests); see CaServer::port()
  // Lifetime of the server's own certificate (re-issued at half life; capped by the root).
  std::chrono::seconds server_cert_ttl = std::chrono::hours(24);
  std::chrono::milliseconds handshake_timeout{5000};
  // A connection is closed after this long without an open stream.
  std::chrono::milliseconds idle_timeout{60000};
  size_t max_body = 64 * 1024;  // bigger sign requests get 413
  size_t max_connections = 1024;
};

struct CaServerStats {
  uint64_t connections = 0;  // accepted TCP connections
  uint64_t handshakes = 0;   // completed mutual TLS handshakes
  // Refused handshakes by reason: VerifyErrorName ("unknown_ca", "wrong_identity_kind", ...),
  // "tls" (OpenSSL refused before verification ran), "timeout", "too_many_connections".
  std::map<std::string, uint64_t> handshake_failures;
  uint64_t signed_total = 0;  // certificates issued
  // Refused requests by reason: "bad_request" (malformed JSON, CSR, ttl), "forbidden"
  // (identity or placement), "unavailable" (expired root), "not_found", "method_not_allowed",
  // "too_large".
  std::map<std::string, uint64_t> refused;
  uint64_t bundle_requests = 0;
};

class CaServer : public std::enable_shared_from_this<CaServer> {
 public:
  // Binds and starts accepting on `io`. `has_pod` is called on the io_context's thread.
  static absl::StatusOr<std::shared_ptr<CaServer>> Start(boost::asio::io_context& io,
                                                         identity::CertificateAuthority ca,
                                                         identity::HasPodOnNode has_pod,
                                                         CaServerOptions options = {});
  ~CaServer();

  // The bound port.
  uint16_t port() const { return port_; }
  const identity::TrustBundle& bundle() const { return *bundle_; }
  // Stops accepting and closes every connection (on the io_context's thread, or when it is
  // not running).
  void Stop();

  CaServerStats Stats() const;
  // Prometheus text (weft_ca_* counters).
  std::string MetricsText() const;

 private:
  CaServer(boost::asio::io_context& io, identity::CertificateAuthority ca,
           identity::HasPodOnNode has_pod, CaServerOptions options);
  absl::Status IssueServerCertificate();
  void ScheduleServerRenewal();
  void Accept();
  void OnSocket(h2::tcp::socket s);
  void OnRequest(std::shared_ptr<h2::Stream> stream, const identity::SpiffeId& peer);
  void HandleSign(std::shared_ptr<h2::Stream> stream, const identity::SpiffeId& peer,
                  const std::string& body);
  void Reply(std::shared_ptr<h2::Stream> stream, int status, std::string body);
  void Refuse(std::shared_ptr<h2::Stream> stream, int status, const std::string& reason,
              const std::string& message);
  void CountHandshakeFailure(const std::string& reason);

  boost::asio::io_context& io_;
  identity::CertificateAuthority ca_;
  identity::SignAuthorizer authorizer_;
  CaServerOptions options_;
  std::shared_ptr<const identity::TrustBundle> bundle_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // current server context
  h2::tcp::acceptor acceptor_;
  boost::asio::steady_timer renew_timer_;
  uint16_t port_ = 0;
  bool stopped_ = false;
  std::set<std::shared_ptr<h2::Session>> sessions_;
  size_t handshaking_ = 0;

  mutable std::mutex stats_mu_;
  CaServerStats stats_;
};

// The HTTP status for a CertificateAuthority::Sign error: 400 (InvalidArgument), 403
// (PermissionDenied), 503 (FailedPrecondition, anything else).
int HttpStatusForSignError(const absl::Status& s);

}  // namespace weft::agent
