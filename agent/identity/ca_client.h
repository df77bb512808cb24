#pragma once

// CaClient: the agent's side of the CA protocol (docs/security.md, "The CA"): HTTP/2 over
// mutual TLS 1.3, presenting the node certificate, accepting only spiffe://<td>/weft/ca as the
// server, trusting the bundle. One connection per call (calls are rare: a renewal per identity
// per half life, a bundle poll a minute), closed when the answer is in.
//
// Single-threaded: call on the executor's thread; handlers run there.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/h2/session.h"
#include "core/identity/certificate.h"
#include "core/identity/key_pair.h"
#include "core/identity/trust_bundle.h"

namespace weft::agent {

struct CaClientOptions {
  std::string address;                       // "IP:port" of the CA
  std::chrono::milliseconds timeout{10000};  // connect + TLS + request, per call
};

struct SignResponse {
  std::string cert_pem;
  std::string bundle_pem;
};

// Credentials of the node: its client certificate and key, and the bundle that verifies the
// CA server.
struct NodeCredentials {
  identity::Certificate cert;
  std::shared_ptr<const identity::KeyPair> key;
  std::shared_ptr<const identity::TrustBundle> bundle;
};

// Reads a node certificate, key and bundle from PEM files. The trust domain comes from the
// node certificate's SPIFFE ID; it must be a node identity.
absl::StatusOr<NodeCredentials> LoadNodeCredentials(const std::string& cert_file,
                                                    const std::string& key_file,
                                                    const std::string& bundle_file);

class CaClient {
 public:
  // Errors: Unavailable for transport and TLS failures (the message says which, with the
  // verification reason when our side refused the server); the CA's refusals as
  // InvalidArgument (400), PermissionDenied (403), Unavailable (503), Internal (others), with
  // the CA's message.
  template <typename T>
  using Handler = std::function<void(absl::StatusOr<T>)>;

  static absl::StatusOr<std::unique_ptr<CaClient>> Create(boost::asio::any_io_executor ex,
                                                          CaClientOptions options,
                                                          NodeCredentials credentials);

  // A new bundle (root rotation): used for the next connections.
  absl::Status SetBundle(std::shared_ptr<const identity::TrustBundle> bundle);

  void Sign(std::string csr_pem, std::chrono::seconds ttl, Handler<SignResponse> handler);
  // The CA's current trust bundle (PEM).
  void FetchBundle(Handler<std::string> handler);

  const std::string& trust_domain() const { return credentials_.bundle->trust_domain(); }

 private:
  CaClient(boost::asio::any_io_executor ex, CaClientOptions options, NodeCredentials creds,
           h2::tcp::endpoint ep)
      : ex_(std::move(ex)),
        options_(std::move(options)),
        credentials_(std::move(creds)),
        endpoint_(ep) {}
  absl::Status BuildContext();
  // One request on a new connection; `handler` gets (status, body) or an error.
  void Request(h2::Headers headers, std::string body,
               std::function<void(absl::StatusOr<std::pair<int, std::string>>)> handler);

  boost::asio::any_io_executor ex_;
  CaClientOptions options_;
  NodeCredentials credentials_;
  h2::tcp::endpoint endpoint_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
};

// Synchronous helpers on a private io_context (tools and tests).
absl::StatusOr<SignResponse> SignBlocking(const CaClientOptions& options,
                                          const NodeCredentials& credentials,
                                          const std::string& csr_pem, std::chrono::seconds ttl);
absl::StatusOr<std::string> FetchBundleBlocking(const CaClientOptions& options,
                                                const NodeCredentials& credentials);

// "IP:port" (IPv6 as "[addr]:port").
absl::StatusOr<h2::tcp::endpoint> ParseEndpoint(const std::string& address);

}  // namespace weft::agent
