#include "agent/identity/ca_server.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/identity/renewal.h"
#include "core/identity/tls.h"

namespace weft::agent {

namespace asio = boost::asio;
using boost::system::error_code;
using h2::tcp;
using json = nlohmann::json;

int HttpStatusForSignError(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    default:
      return 503;
  }
}

namespace {

std::string ReasonForStatus(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthenticated";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 413:
      return "too_large";
    default:
      return "unavailable";
  }
}

absl::StatusOr<std::string> PemOf(const absl::StatusOr<identity::Certificate>& c) {
  if (!c.ok()) return c.status();
  return c->ToPem();
}

}  // namespace

CaServer::CaServer(asio::io_context& io, identity::CertificateAuthority ca,
                   identity::HasPodOnNode has_pod, CaServerOptions options)
    : io_(io),
      ca_(std::make_shared<const identity::CertificateAuthority>(std::move(ca))),
      authorizer_(identity::PodOnNodeAuthorizer(std::move(has_pod))),
      options_(std::move(options)),
      acceptor_(io),
      renew_timer_(io) {
  if (options_.authenticate_token) {
    workers_ = std::make_unique<asio::thread_pool>(std::max<size_t>(1, options_.token_workers));
  }
}

CaServer::~CaServer() {
  // Workers hold no reference to the server (see HandleSign): joining cannot wait on itself.
  if (workers_) {
    workers_->stop();
    workers_->join();
  }
}

absl::StatusOr<std::shared_ptr<CaServer>> CaServer::Start(asio::io_context& io,
                                                          identity::CertificateAuthority ca,
                                                          identity::HasPodOnNode has_pod,
                                                          CaServerOptions options) {
  auto bundle = identity::TrustBundle::Create(ca.trust_domain(), {ca.root()});
  if (!bundle.ok()) return bundle.status();
  std::shared_ptr<CaServer> self(
      new CaServer(io, std::move(ca), std::move(has_pod), std::move(options)));
  self->bundle_ = std::make_shared<const identity::TrustBundle>(std::move(*bundle));
  if (absl::Status s = self->IssueServerCertificate(); !s.ok()) return s;

  error_code e;
  auto addr = asio::ip::make_address(self->options_.address, e);
  if (e) return absl::InvalidArgumentError("bad listen address " + self->options_.address);
  tcp::endpoint ep(addr, self->options_.port);
  self->acceptor_.open(ep.protocol(), e);
  if (!e) self->acceptor_.set_option(tcp::acceptor::reuse_address(true), e);
  if (!e) self->acceptor_.bind(ep, e);
  if (!e) self->acceptor_.listen(asio::socket_base::max_listen_connections, e);
  if (e) {
    return absl::UnavailableError("listen on " + self->options_.address + ":" +
                                  std::to_string(self->options_.port) + ": " + e.message());
  }
  self->port_ = self->acceptor_.local_endpoint(e).port();
  self->ScheduleServerRenewal();
  self->Accept();
  return self;
}

absl::Status CaServer::IssueServerCertificate() {
  auto key = identity::KeyPair::GenerateP256();
  if (!key.ok()) return key.status();
  auto cert = ca_->IssueCaServerCertificate(key->get(), options_.server_cert_ttl);
  if (!cert.ok()) return cert.status();
  identity::ossl::SslCtx ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return absl::InternalError("SSL_CTX_new failed");
  if (auto s = identity::ConfigureMutualTls(
          ctx.get(), bundle_,
          {.peer_kind = identity::SpiffeId::Kind::kNode,
           .client_certificate_optional = static_cast<bool>(options_.authenticate_token)});
      !s.ok()) {
    return s;
  }
  if (auto s = identity::SetIdentity(ctx.get(), *cert, *key); !s.ok()) return s;
  h2::SelectH2Alpn(ctx.get());
  tls_ = h2::WrapSslCtx(ctx.get());
  renew_timer_.expires_at(
      std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          identity::RenewalTime({cert->not_before(), cert->not_after()}) - identity::Clock::now()));
  return absl::OkStatus();
}

void CaServer::ScheduleServerRenewal() {
  std::weak_ptr<CaServer> wp = weak_from_this();
  renew_timer_.async_wait([wp](error_code e) {
    auto self = wp.lock();
    if (e || !self || self->stopped_) return;
    if (absl::Status s = self->IssueServerCertificate(); !s.ok()) {
      // Keep the current certificate; try again in a minute.
      self->renew_timer_.expires_after(std::chrono::minutes(1));
    }
    self->ScheduleServerRenewal();
  });
}

void CaServer::Stop() {
  stopped_ = true;
  if (workers_) workers_->stop();
  error_code ignored;
  acceptor_.close(ignored);
  renew_timer_.cancel();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& s : sessions) s->Close();
}

void CaServer::Accept() {
  if (stopped_) return;
  std::weak_ptr<CaServer> wp = weak_from_this();
  acceptor_.async_accept([wp](error_code e, tcp::socket s) {
    auto self = wp.lock();
    if (!self || self->stopped_) return;
    if (e == asio::error::operation_aborted || e == asio::error::bad_descriptor) return;
    if (!e) self->OnSocket(std::move(s));
    self->Accept();
  });
}

void CaServer::CountHandshakeFailure(const std::string& reason) {
  std::lock_guard<std::mutex> l(stats_mu_);
  ++stats_.handshake_failures[reason];
}

void CaServer::OnSocket(tcp::socket s) {
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.connections;
  }
  if (sessions_.size() + handshaking_ >= options_.max_connections) {
    CountHandshakeFailure("too_many_connections");
    error_code ignored;
    s.close(ignored);
    return;
  }
  auto transport = std::make_unique<h2::TlsTransport>(std::move(s), *tls_);
  h2::TlsTransport* t = transport.get();
  auto holder = std::make_shared<std::unique_ptr<h2::TlsTransport>>(std::move(transport));
  ++handshaking_;
  std::weak_ptr<CaServer> wp = weak_from_this();
  t->AsyncHandshake(
      h2::TlsTransport::kServer, options_.handshake_timeout, [wp, holder, t](error_code e) {
        auto self = wp.lock();
        if (!self) return;
        --self->handshaking_;
        identity::VerifyResult v = identity::PeerVerificationOf(t->ssl());
        // Without a certificate only in token mode (the context then does not require one).
        bool token_client =
            !e && self->workers_ && !v.id && v.error == identity::VerifyError::kNoCertificate;
        if (!token_client && (e || !v.ok() || !v.id)) {
          std::string reason = "tls";
          if (!v.ok() && v.error != identity::VerifyError::kNoCertificate) {
            reason = std::string(identity::VerifyErrorName(v.error));
          } else if (e == asio::error::timed_out) {
            reason = "timeout";
          }
          self->CountHandshakeFailure(reason);
          t->Close();
          return;
        }
        if (self->stopped_) {
          t->Close();
          return;
        }
        {
          std::lock_guard<std::mutex> l(self->stats_mu_);
          ++self->stats_.handshakes;
        }
        std::optional<identity::SpiffeId> peer = v.id;
        auto idle = std::make_shared<asio::steady_timer>(t->executor());
        auto session_holder = std::make_shared<std::weak_ptr<h2::Session>>();
        auto arm_idle = [idle, session_holder, timeout = self->options_.idle_timeout]() {
          idle->expires_after(timeout);
          idle->async_wait([session_holder](error_code e) {
            if (e) return;
            if (auto s = session_holder->lock(); s && s->open_streams() == 0) s->Close();
          });
        };
        h2::Session::Callbacks cbs;
        cbs.on_request = [wp, peer](std::shared_ptr<h2::Stream> st) {
          if (auto self = wp.lock()) self->OnRequest(std::move(st), peer);
        };
        cbs.on_streams_changed = [idle, arm_idle](size_t open) {
          if (open == 0) {
            arm_idle();
          } else {
            idle->cancel();
          }
        };
        cbs.on_close = [wp, session_holder, idle](error_code) {
          idle->cancel();
          auto self = wp.lock();
          auto s = session_holder->lock();
          if (self && s) self->sessions_.erase(s);
        };
        auto session =
            h2::Session::Create(h2::Session::kServer, std::move(*holder), {}, std::move(cbs));
        *session_holder = session;
        self->sessions_.insert(session);
        session->Start();
        arm_idle();
      });
}

void CaServer::OnRequest(std::shared_ptr<h2::Stream> stream,
                         std::optional<identity::SpiffeId> peer) {
  std::string method(stream->header(":method"));
  std::string path(stream->header(":path"));
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  if (path == "/v1/bundle") {
    // The roots are public: any TLS client may read them.
    if (method != "GET") return Refuse(stream, 405, "method_not_allowed", "use GET");
    {
      std::lock_guard<std::mutex> l(stats_mu_);
      ++stats_.bundle_requests;
    }
    return Reply(stream, 200, json{{"trust_bundle", bundle_->ToPem()}}.dump());
  }
  if (path != "/v1/sign") return Refuse(stream, 404, "not_found", "no such path");
  if (method != "POST") return Refuse(stream, 405, "method_not_allowed", "use POST");
  std::string token;
  if (!peer) {
    std::string_view auth = stream->header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() || auth.substr(0, kBearer.size()) != kBearer) {
      return Refuse(stream, 401, "unauthenticated",
                    "no client certificate and no `authorization: Bearer <token>`");
    }
    token = std::string(auth.substr(kBearer.size()));
  }
  // Read the body to its end (bounded), then sign.
  struct Body {
    std::string data;
    std::array<char, 4096> buf;
  };
  auto body = std::make_shared<Body>();
  std::weak_ptr<CaServer> wp = weak_from_this();
  auto read = std::make_shared<std::function<void()>>();
  *read = [wp, stream, body, read, peer, token]() {
    stream->AsyncReadSome(
        asio::buffer(body->buf), [wp, stream, body, read, peer, token](error_code e, size_t n) {
          auto self = wp.lock();
          if (!self) return;
          body->data.append(body->buf.data(), n);
          if (body->data.size() > self->options_.max_body) {
            *read = nullptr;
            return self->Refuse(stream, 413, "too_large", "request body too large");
          }
          if (e == asio::error::eof) {
            *read = nullptr;
            return self->HandleSign(stream, peer, token, body->data);
          }
          if (e) {
            *read = nullptr;
            stream->Reset();
            return;
          }
          (*read)();
        });
  };
  (*read)();
}

void CaServer::HandleSign(std::shared_ptr<h2::Stream> stream,
                          std::optional<identity::SpiffeId> peer, std::string token,
                          const std::string& body) {
  json req = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!req.is_object() || !req.contains("csr") || !req["csr"].is_string()) {
    return Refuse(stream, 400, "bad_request",
                  "body must be JSON {\"csr\": PEM, \"ttl_seconds\": N}");
  }
  int64_t ttl =
      std::chrono::duration_cast<std::chrono::seconds>(ca_->settings().max_workload_ttl).count();
  if (req.contains("ttl_seconds")) {
    if (!req["ttl_seconds"].is_number_integer()) {
      return Refuse(stream, 400, "bad_request", "ttl_seconds must be an integer");
    }
    ttl = req["ttl_seconds"].get<int64_t>();
  }
  std::string csr = req["csr"].get<std::string>();
  if (peer) {
    return Finish(stream, PemOf(ca_->Sign(csr, *peer, std::chrono::seconds(ttl), authorizer_)));
  }
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.token_requests;
  }
  // The token check is an API call: on a worker, with copies of what signing needs, never the
  // server itself; the outcome comes back to the io thread.
  std::weak_ptr<CaServer> wp = weak_from_this();
  asio::post(*workers_, [wp, ex = io_.get_executor(), stream, ca = ca_, authz = authorizer_,
                         authenticate = options_.authenticate_token, token = std::move(token),
                         csr = std::move(csr), ttl]() {
    absl::StatusOr<std::string> pem;
    absl::StatusOr<identity::SpiffeId> requester = authenticate(token);
    if (!requester.ok()) {
      pem = requester.status();
    } else {
      pem = PemOf(ca->Sign(csr, *requester, std::chrono::seconds(ttl), authz));
    }
    asio::post(ex, [wp, stream, pem = std::move(pem)]() {
      if (auto self = wp.lock()) self->Finish(stream, pem);
    });
  });
}

void CaServer::Finish(std::shared_ptr<h2::Stream> stream,
                      const absl::StatusOr<std::string>& cert_pem) {
  if (!cert_pem.ok()) {
    int status = HttpStatusForSignError(cert_pem.status());
    return Refuse(stream, status, ReasonForStatus(status),
                  std::string(cert_pem.status().message()));
  }
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.signed_total;
  }
  Reply(stream, 200, json{{"certificate", *cert_pem}, {"trust_bundle", bundle_->ToPem()}}.dump());
}

void CaServer::Refuse(std::shared_ptr<h2::Stream> stream, int status, const std::string& reason,
                      const std::string& message) {
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.refused[reason];
  }
  Reply(std::move(stream), status, json{{"error", message}}.dump());
}

void CaServer::Reply(std::shared_ptr<h2::Stream> stream, int status, std::string body) {
  auto data = std::make_shared<std::string>(std::move(body));
  if (!stream->Respond(
          status,
          {{"content-type", "application/json"}, {"content-length", std::to_string(data->size())}},
          /*end_stream=*/false)) {
    return;
  }
  stream->AsyncWrite(asio::buffer(*data), [stream, data](error_code e, size_t) {
    if (e) return stream->Reset();
    stream->ShutdownSend();
  });
}

CaServerStats CaServer::Stats() const {
  std::lock_guard<std::mutex> l(stats_mu_);
  return stats_;
}

std::string CaServer::MetricsText() const {
  CaServerStats s = Stats();
  std::ostringstream o;
  o << "# TYPE weft_ca_connections_total counter\nweft_ca_connections_total " << s.connections
    << "\n# TYPE weft_ca_handshakes_total counter\nweft_ca_handshakes_total " << s.handshakes
    << "\n# TYPE weft_ca_handshake_failures_total counter\n";
  for (const auto& [reason, n] : s.handshake_failures)
    o << "weft_ca_handshake_failures_total{reason=\"" << reason << "\"} " << n << "\n";
  o << "# TYPE weft_ca_signed_total counter\nweft_ca_signed_total " << s.signed_total
    << "\n# TYPE weft_ca_refused_total counter\n";
  for (const auto& [reason, n] : s.refused)
    o << "weft_ca_refused_total{reason=\"" << reason << "\"} " << n << "\n";
  o << "# TYPE weft_ca_bundle_requests_total counter\nweft_ca_bundle_requests_total "
    << s.bundle_requests << "\n# TYPE weft_ca_token_requests_total counter\n"
    << "weft_ca_token_requests_total " << s.token_requests << "\n";
  return o.str();
}

}  // namespace weft::agent
