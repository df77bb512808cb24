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
// half life). A client authenticates one of two ways, and what it authenticated as is the
// requester passed to CertificateAuthority::Sign with PodOnNodeAuthorizer(has_pod):
//  - a node certificate of the trust domain (spiffe://<td>/weft/node/<node>): local mode;
//  - with CaServerOptions::authenticate_token (Kubernetes mode), no certificate and
//    `authorization: Bearer <ServiceAccount token>` on /v1/sign, which the authenticator
//    turns into a node identity (the agent's token, bound to its pod and node) or a workload
//    identity (any other ServiceAccount: it may get only its own certificate). Missing or
//    refused tokens get 401.
//
// Threads: the network runs on the io_context's thread. Token requests are authenticated
// and signed on a small worker pool (a TokenReview is a blocking API call): there
// `authenticate_token` and `has_pod` are called, so both must be thread-safe when tokens are
// enabled; certificate requests call `has_pod` on the io thread. Stats() may be called from
// any thread.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/thread_pool.hpp>

#include "absl/status/statusor.h"
#include "core/h2/session.h"
#include "core/h2/tls_transport.h"
#include "core/identity/ca.h"
#include "core/identity/trust_bundle.h"

namespace weft::agent {

// Turns a bearer token into the requester's identity. Errors: Unauthenticated (bad, expired
// or wrong-audience token: 401), PermissionDenied (a valid token of an account that may not
// ask: 403), Unavailable (could not check: 503).
using TokenAuthenticator =
    std::function<absl::StatusOr<identity::SpiffeId>(const std::string& token)>;

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
  // Set: clients may connect without a certificate and authenticate /v1/sign with a token.
  TokenAuthenticator authenticate_token;
  size_t token_workers = 2;  // the pool that runs authenticate_token and signs
};

struct CaServerStats {
  uint64_t connections = 0;  // accepted TCP connections
  uint64_t handshakes = 0;   // completed mutual TLS handshakes
  // Refused handshakes by reason: VerifyErrorName ("unknown_ca", "wrong_identity_kind", ...),
  // "tls" (OpenSSL refused before verification ran), "timeout", "too_many_connections".
  std::map<std::string, uint64_t> handshake_failures;
  uint64_t signed_total = 0;    // certificates issued
  uint64_t token_requests = 0;  // /v1/sign requests authenticated by token (any outcome)
  // Refused requests by reason: "bad_request" (malformed JSON, CSR, ttl), "forbidden"
  // (identity or placement), "unauthenticated" (no or bad token), "unavailable" (expired root,
  // token check failed), "not_found", "method_not_allowed", "too_large".
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
  // `peer`: the client certificate's identity; none for a token client.
  void OnRequest(std::shared_ptr<h2::Stream> stream, std::optional<identity::SpiffeId> peer);
  void HandleSign(std::shared_ptr<h2::Stream> stream, std::optional<identity::SpiffeId> peer,
                  std::string token, const std::string& body);
  // Counts a signing outcome (io thread) and replies.
  void Finish(std::shared_ptr<h2::Stream> stream, const absl::StatusOr<std::string>& cert_pem);
  void Reply(std::shared_ptr<h2::Stream> stream, int status, std::string body);
  void Refuse(std::shared_ptr<h2::Stream> stream, int status, const std::string& reason,
              const std::string& message);
  void CountHandshakeFailure(const std::string& reason);

  boost::asio::io_context& io_;
  // Shared with the token workers, which sign without touching the server.
  std::shared_ptr<const identity::CertificateAuthority> ca_;
  identity::SignAuthorizer authorizer_;
  CaServerOptions options_;
  std::shared_ptr<const identity::TrustBundle> bundle_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // current server context
  h2::tcp::acceptor acceptor_;
  boost::asio::steady_timer renew_timer_;
  uint16_t port_ = 0;
  bool stopped_ = false;
  std::set<std::shared_ptr<h2::Session>> sessions_;
  std::unique_ptr<boost::asio::thread_pool> workers_;  // token mode only
  size_t handshaking_ = 0;

  mutable std::mutex stats_mu_;
  CaServerStats stats_;
};

// The HTTP status for a CertificateAuthority::Sign or TokenAuthenticator error: 400
// (InvalidArgument), 401 (Unauthenticated), 403 (PermissionDenied), 503 (FailedPrecondition,
// Unavailable, anything else).
int HttpStatusForSignError(const absl::Status& s);

}  // namespace weft::agent
