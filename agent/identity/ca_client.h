#pragma once

// CaClient: the agent's side of the CA protocol (docs/security.md, "The CA"): HTTP/2 over
// TLS 1.3, accepting only spiffe://<td>/weft/ca as the server, trusting the bundle, and
// authenticating either with a node certificate (mutual TLS; local mode) or with a
// ServiceAccount token sent as `authorization: Bearer` (Kubernetes; the token file is re-read
// for every call, as the kubelet rotates it). One connection per call (calls are rare: a
// renewal per identity per half life, a bundle poll a minute), closed when the answer is in.
//
// Single-threaded: call on the executor's thread; handlers run there.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/identity/ca_address.h"
#include "core/h2/session.h"
#include "core/identity/certificate.h"
#include "core/identity/key_pair.h"
#include "core/identity/trust_bundle.h"

namespace weft::agent {

struct CaClientOptions {
  // "IP:port" of the CA, or a name (DNS, or a Kubernetes Service: see ca_address.h).
  std::string address;
  std::chrono::milliseconds timeout{10000};  // connect + TLS + request, per call
  // For "*.svc" names DNS does not know: how to reach the API (kube::LoadConfig's argument).
  std::string kubeconfig;
};

struct SignResponse {
  std::string cert_pem;
  std::string bundle_pem;
};

// How the client authenticates, and the bundle that verifies the CA server: a node's client
// certificate and key (local mode), or a ServiceAccount token file (Kubernetes).
struct CaCredentials {
  std::optional<identity::Certificate> cert;
  std::shared_ptr<const identity::KeyPair> key;
  std::shared_ptr<const identity::TrustBundle> bundle;
  std::string token_file;  // set: no certificate; the token is sent with each call
};

// Reads a node certificate, key and bundle from PEM files. The trust domain comes from the
// node certificate's SPIFFE ID; it must be a node identity.
absl::StatusOr<CaCredentials> LoadNodeCredentials(const std::string& cert_file,
                                                  const std::string& key_file,
                                                  const std::string& bundle_file);
// Token credentials: the bundle (for `trust_domain`) from a PEM file; the token file must be
// readable now (it is read again for every call).
absl::StatusOr<CaCredentials> LoadTokenCredentials(const std::string& token_file,
                                                   const std::string& bundle_file,
                                                   const std::string& trust_domain);

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
                                                          CaCredentials credentials);

  // A new bundle (root rotation): used for the next connections.
  absl::Status SetBundle(std::shared_ptr<const identity::TrustBundle> bundle);

  void Sign(std::string csr_pem, std::chrono::seconds ttl, Handler<SignResponse> handler);
  // The CA's current trust bundle (PEM).
  void FetchBundle(Handler<std::string> handler);

  const std::string& trust_domain() const { return credentials_.bundle->trust_domain(); }

 private:
  CaClient(boost::asio::any_io_executor ex, CaClientOptions options, CaCredentials creds)
      : ex_(std::move(ex)),
        options_(std::move(options)),
        credentials_(std::move(creds)),
        resolver_(std::make_shared<CaAddressResolver>(options_.address, options_.kubeconfig)) {}
  absl::Status BuildContext();
  // One request on a new connection; `handler` gets (status, body) or an error.
  void Request(h2::Headers headers, std::string body,
               std::function<void(absl::StatusOr<std::pair<int, std::string>>)> handler);

  boost::asio::any_io_executor ex_;
  CaClientOptions options_;
  CaCredentials credentials_;
  std::shared_ptr<CaAddressResolver> resolver_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
};

// Synchronous helpers on a private io_context (tools and tests).
absl::StatusOr<SignResponse> SignBlocking(const CaClientOptions& options,
                                          const CaCredentials& credentials,
                                          const std::string& csr_pem, std::chrono::seconds ttl);
absl::StatusOr<std::string> FetchBundleBlocking(const CaClientOptions& options,
                                                const CaCredentials& credentials);

// "IP:port" (IPv6 as "[addr]:port").
absl::StatusOr<h2::tcp::endpoint> ParseEndpoint(const std::string& address);

}  // namespace weft::agent
