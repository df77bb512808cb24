#include "agent/identity/ca_client.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/identity/tls.h"

namespace weft::agent {

namespace asio = boost::asio;
using boost::system::error_code;
using h2::tcp;
using json = nlohmann::json;

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::Status StatusForHttp(int status, const std::string& body) {
  json j = json::parse(body, nullptr, false);
  std::string msg = j.is_object() && j.contains("error") && j["error"].is_string()
                        ? j["error"].get<std::string>()
                        : body.substr(0, 200);
  msg = "CA answered " + std::to_string(status) + ": " + msg;
  switch (status) {
    case 400:
      return absl::InvalidArgumentError(msg);
    case 401:
      return absl::UnauthenticatedError(msg);
    case 403:
      return absl::PermissionDeniedError(msg);
    case 503:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// One HTTP/2 request on its own connection.
struct Call : std::enable_shared_from_this<Call> {
  Call(asio::any_io_executor ex) : socket(ex), deadline(ex) {}
  tcp::socket socket;
  asio::steady_timer deadline;
  h2::TlsTransport* transport = nullptr;  // owned by `owned` until the session takes it
  std::unique_ptr<h2::TlsTransport> owned;
  std::shared_ptr<h2::Session> session;
  std::string body;
  std::string response;
  std::array<char, 8192> buf;
  std::string close_error;
  bool done = false;
  std::function<void(absl::StatusOr<std::pair<int, std::string>>)> handler;

  void Finish(absl::StatusOr<std::pair<int, std::string>> r) {
    if (done) return;
    done = true;
    deadline.cancel();
    if (session) {
      session->Close();
    } else if (transport) {
      transport->Close();
    } else {
      error_code ignored;
      socket.close(ignored);
    }
    asio::post(deadline.get_executor(),
               [h = std::move(handler), r = std::move(r)]() mutable { h(std::move(r)); });
  }
  void Fail(const std::string& what) { Finish(absl::UnavailableError(what)); }
};

}  // namespace

absl::StatusOr<tcp::endpoint> ParseEndpoint(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError("address must be IP:port: " + address);
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  error_code e;
  auto ip = asio::ip::make_address(host, e);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(address.substr(colon + 1), &used);
    if (used != address.size() - colon - 1) port = -1;
  } catch (...) {
    port = -1;
  }
  if (e || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError("address must be IP:port: " + address);
  }
  return tcp::endpoint(ip, static_cast<uint16_t>(port));
}

absl::StatusOr<CaCredentials> LoadNodeCredentials(const std::string& cert_file,
                                                  const std::string& key_file,
                                                  const std::string& bundle_file) {
  auto cert_pem = ReadFile(cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = ReadFile(key_file);
  if (!key_pem.ok()) return key_pem.status();
  auto bundle_pem = ReadFile(bundle_file);
  if (!bundle_pem.ok()) return bundle_pem.status();
  auto cert = identity::Certificate::FromPem(*cert_pem);
  if (!cert.ok()) return cert.status();
  auto id = cert->GetSpiffeId();
  if (!id.ok()) return id.status();
  if (id->kind() != identity::SpiffeId::Kind::kNode) {
    return absl::InvalidArgumentError(cert_file + " is not a node certificate: " + id->str());
  }
  auto key = identity::KeyPair::FromPrivateKeyPem(*key_pem);
  if (!key.ok()) return key.status();
  auto bundle = identity::TrustBundle::FromPem(id->trust_domain(), *bundle_pem);
  if (!bundle.ok()) return bundle.status();
  return CaCredentials{std::move(*cert), std::make_shared<identity::KeyPair>(std::move(*key)),
                       std::make_shared<identity::TrustBundle>(std::move(*bundle))};
}

absl::StatusOr<CaCredentials> LoadTokenCredentials(const std::string& token_file,
                                                   const std::string& bundle_file,
                                                   const std::string& trust_domain) {
  auto token = ReadFile(token_file);
  if (!token.ok()) return token.status();
  auto bundle_pem = ReadFile(bundle_file);
  if (!bundle_pem.ok()) return bundle_pem.status();
  auto bundle = identity::TrustBundle::FromPem(trust_domain, *bundle_pem);
  if (!bundle.ok()) return bundle.status();
  CaCredentials c;
  c.bundle = std::make_shared<identity::TrustBundle>(std::move(*bundle));
  c.token_file = token_file;
  return c;
}

absl::StatusOr<std::unique_ptr<CaClient>> CaClient::Create(asio::any_io_executor ex,
                                                           CaClientOptions options,
                                                           CaCredentials credentials) {
  if (auto parts = ParseCaAddress(options.address); !parts.ok()) return parts.status();
  if (!credentials.bundle) return absl::InvalidArgumentError("CA credentials need a bundle");
  bool has_cert = credentials.cert.has_value() && credentials.key;
  if (has_cert == !credentials.token_file.empty()) {
    return absl::InvalidArgumentError(
        "CA credentials need a node certificate and key, or a token file (not both)");
  }
  std::unique_ptr<CaClient> c(
      new CaClient(std::move(ex), std::move(options), std::move(credentials)));
  if (absl::Status s = c->BuildContext(); !s.ok()) return s;
  return c;
}

absl::Status CaClient::SetBundle(std::shared_ptr<const identity::TrustBundle> bundle) {
  auto old = credentials_.bundle;
  credentials_.bundle = std::move(bundle);
  absl::Status s = BuildContext();
  if (!s.ok()) credentials_.bundle = old;
  return s;
}

absl::Status CaClient::BuildContext() {
  identity::ossl::SslCtx ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return absl::InternalError("SSL_CTX_new failed");
  if (auto s = identity::ConfigureMutualTls(ctx.get(), credentials_.bundle,
                                            {.peer_kind = identity::SpiffeId::Kind::kCaServer});
      !s.ok()) {
    return s;
  }
  if (credentials_.cert) {
    if (auto s = identity::SetIdentity(ctx.get(), *credentials_.cert, *credentials_.key); !s.ok()) {
      return s;
    }
  }
  tls_ = h2::WrapSslCtx(ctx.get());
  return absl::OkStatus();
}

void CaClient::Request(h2::Headers headers, std::string body,
                       std::function<void(absl::StatusOr<std::pair<int, std::string>>)> handler) {
  auto call = std::make_shared<Call>(ex_);
  call->body = std::move(body);
  call->handler = std::move(handler);
  call->deadline.expires_after(options_.timeout);
  std::weak_ptr<Call> weak = call;
  call->deadline.async_wait([weak](error_code e) {
    if (e) return;
    if (auto c = weak.lock()) c->Fail("CA request timed out");
  });
  if (!credentials_.token_file.empty()) {
    // Re-read for every call: the kubelet rotates projected tokens.
    auto token = ReadFile(credentials_.token_file);
    if (!token.ok()) return call->Fail("CA token: " + std::string(token.status().message()));
    std::string t = *token;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (t.empty()) {
      return call->Finish(
          absl::UnauthenticatedError("CA token file " + credentials_.token_file + " is empty"));
    }
    headers.push_back({"authorization", "Bearer " + t});
  }
  // Blocks for DNS or the API only when the answer is not cached (ca_address.h).
  auto endpoint = resolver_->Resolve();
  if (!endpoint.ok()) return call->Fail(std::string(endpoint.status().message()));
  auto tls = tls_;
  std::string td = trust_domain();
  std::string address = options_.address;
  auto timeout = options_.timeout;
  call->socket.async_connect(
      *endpoint, [call, tls, td, address, timeout, headers = std::move(headers)](error_code e) {
        if (call->done) return;
        if (e) return call->Fail("connect to CA " + address + ": " + e.message());
        call->owned = std::make_unique<h2::TlsTransport>(std::move(call->socket), *tls);
        call->transport = call->owned.get();
        call->transport->OfferH2();
        if (auto ca_id = identity::SpiffeId::CaServer(td); ca_id.ok()) {
          identity::ExpectPeer(call->transport->ssl(), {*ca_id});
        }
        call->transport->AsyncHandshake(
            h2::TlsTransport::kClient, timeout, [call, headers](error_code e) {
              if (call->done) return;
              identity::VerifyResult v = identity::PeerVerificationOf(call->transport->ssl());
              if (e || !v.ok()) {
                std::string why = e ? e.message() : "";
                if (!v.ok() && v.error != identity::VerifyError::kNoCertificate) {
                  why = std::string(identity::VerifyErrorName(v.error)) + " (" + v.detail + ")";
                }
                return call->Fail("TLS handshake with CA failed: " + why);
              }
              std::weak_ptr<Call> weak = call;
              h2::Session::Callbacks cbs;
              cbs.on_close = [weak](error_code e) {
                if (auto c = weak.lock(); c && e) c->close_error = e.message();
              };
              call->session = h2::Session::Create(h2::Session::kClient, std::move(call->owned), {},
                                                  std::move(cbs));
              call->session->Start();
              bool has_body = !call->body.empty();
              auto on_response = [call](error_code e, std::shared_ptr<h2::Stream> st) {
                if (call->done) return;
                if (e || !st) {
                  std::string why = call->close_error.empty() ? e.message() : call->close_error;
                  return call->Fail("CA connection failed: " + why);
                }
                int status = st->status();
                auto read = std::make_shared<std::function<void()>>();
                *read = [call, st, status, read]() {
                  st->AsyncReadSome(
                      asio::buffer(call->buf), [call, status, read](error_code e, size_t n) {
                        if (call->done) {
                          *read = nullptr;
                          return;
                        }
                        call->response.append(call->buf.data(), n);
                        if (call->response.size() > (1 << 20)) {
                          *read = nullptr;
                          return call->Fail("CA response too large");
                        }
                        if (e == asio::error::eof) {
                          *read = nullptr;
                          return call->Finish(std::pair{status, std::move(call->response)});
                        }
                        if (e) {
                          *read = nullptr;
                          return call->Fail("CA response cut: " + e.message());
                        }
                        (*read)();
                      });
                };
                (*read)();
              };
              auto st = call->session->SubmitRequest(headers, !has_body, on_response);
              if (!st) return call->Fail("CA connection refused the request");
              if (has_body) {
                st->AsyncWrite(asio::buffer(call->body), [call, st](error_code e, size_t) {
                  if (e) return;  // the response handler reports the failure
                  st->ShutdownSend();
                });
              }
            });
      });
}

void CaClient::Sign(std::string csr_pem, std::chrono::seconds ttl, Handler<SignResponse> handler) {
  std::string body = json{{"csr", std::move(csr_pem)}, {"ttl_seconds", ttl.count()}}.dump();
  h2::Headers headers = {{":method", "POST"},
                         {":scheme", "https"},
                         {":authority", options_.address},
                         {":path", "/v1/sign"},
                         {"content-type", "application/json"}};
  Request(std::move(headers), std::move(body),
          [handler = std::move(handler)](absl::StatusOr<std::pair<int, std::string>> r) {
            if (!r.ok()) return handler(r.status());
            if (r->first != 200) return handler(StatusForHttp(r->first, r->second));
            json j = json::parse(r->second, nullptr, false);
            if (!j.is_object() || !j.contains("certificate") || !j["certificate"].is_string() ||
                !j.contains("trust_bundle") || !j["trust_bundle"].is_string()) {
              return handler(absl::InternalError("CA answered 200 with a malformed body"));
            }
            handler(SignResponse{j["certificate"].get<std::string>(),
                                 j["trust_bundle"].get<std::string>()});
          });
}

void CaClient::FetchBundle(Handler<std::string> handler) {
  h2::Headers headers = {{":method", "GET"},
                         {":scheme", "https"},
                         {":authority", options_.address},
                         {":path", "/v1/bundle"}};
  Request(std::move(headers), "",
          [handler = std::move(handler)](absl::StatusOr<std::pair<int, std::string>> r) {
            if (!r.ok()) return handler(r.status());
            if (r->first != 200) return handler(StatusForHttp(r->first, r->second));
            json j = json::parse(r->second, nullptr, false);
            if (!j.is_object() || !j.contains("trust_bundle") || !j["trust_bundle"].is_string()) {
              return handler(absl::InternalError("CA answered 200 with a malformed body"));
            }
            handler(j["trust_bundle"].get<std::string>());
          });
}

namespace {

template <typename T, typename Fn>
absl::StatusOr<T> RunBlocking(const CaClientOptions& options, const CaCredentials& credentials,
                              Fn fn) {
  asio::io_context io;
  auto client = CaClient::Create(io.get_executor(), options, credentials);
  if (!client.ok()) return client.status();
  absl::StatusOr<T> result = absl::UnknownError("no answer");
  fn(**client, [&](absl::StatusOr<T> r) { result = std::move(r); });
  io.run();
  return result;
}

}  // namespace

absl::StatusOr<SignResponse> SignBlocking(const CaClientOptions& options,
                                          const CaCredentials& credentials,
                                          const std::string& csr_pem, std::chrono::seconds ttl) {
  return RunBlocking<SignResponse>(options, credentials,
                                   [&](CaClient& c, auto done) { c.Sign(csr_pem, ttl, done); });
}

absl::StatusOr<std::string> FetchBundleBlocking(const CaClientOptions& options,
                                                const CaCredentials& credentials) {
  return RunBlocking<std::string>(options, credentials,
                                  [&](CaClient& c, auto done) { c.FetchBundle(done); });
}

}  // namespace weft::agent
