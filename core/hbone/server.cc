#include "core/hbone/server.h"

#include "core/identity/tls.h"

namespace weft::hbone {

std::shared_ptr<HboneServer> HboneServer::Create(tcp::acceptor acceptor, TlsProvider tls,
                                                 ServerSettings settings, InboundHandler handler) {
  return std::shared_ptr<HboneServer>(
      new HboneServer(std::move(acceptor), std::move(tls), settings, std::move(handler)));
}

HboneServer::HboneServer(tcp::acceptor acceptor, TlsProvider tls, ServerSettings settings,
                         InboundHandler handler)
    : acceptor_(std::move(acceptor)),
      tls_(std::move(tls)),
      settings_(settings),
      handler_(std::move(handler)) {}

HboneServer::~HboneServer() {
  error_code ignored;
  acceptor_.close(ignored);
}

void HboneServer::Start() {
  Accept();
}

tcp::endpoint HboneServer::local_endpoint() const {
  error_code e;
  return acceptor_.local_endpoint(e);
}

void HboneServer::Stop() {
  stopped_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  for (auto* t : handshaking_) t->Close();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& s : sessions) s->Close();
}

void HboneServer::StopAccepting() {
  stopped_ = true;
  error_code ignored;
  acceptor_.close(ignored);
}

void HboneServer::Accept() {
  if (stopped_) return;
  std::weak_ptr<HboneServer> wp = weak_from_this();
  acceptor_.async_accept([wp](error_code e, tcp::socket s) {
    auto self = wp.lock();
    if (!self || self->stopped_) return;
    if (e == asio::error::operation_aborted || e == asio::error::bad_descriptor) return;
    if (!e) self->OnSocket(std::move(s));
    self->Accept();
  });
}

void HboneServer::CountFailure(const std::string& reason) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> l(stats_mu_);
  ++failures_by_reason_[reason];
}

void HboneServer::OnSocket(tcp::socket s) {
  accepted_.fetch_add(1, std::memory_order_relaxed);
  error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
  std::shared_ptr<asio::ssl::context> ctx = tls_ ? tls_() : nullptr;
  if (!ctx) {
    CountFailure("no_certificate_configured");
    s.close(ignored);
    return;
  }
  h2::SelectH2Alpn(ctx->native_handle());
  auto transport = std::make_unique<h2::TlsTransport>(std::move(s), *ctx);
  h2::TlsTransport* t = transport.get();
  handshaking_.insert(t);
  std::weak_ptr<HboneServer> wp = weak_from_this();
  auto holder = std::make_shared<std::unique_ptr<h2::TlsTransport>>(std::move(transport));
  t->AsyncHandshake(h2::TlsTransport::kServer, settings_.handshake_timeout,
                    [wp, holder, t](error_code e) {
                      auto self = wp.lock();
                      if (!self) return;
                      self->handshaking_.erase(t);
                      identity::VerifyResult v = identity::PeerVerificationOf(t->ssl());
                      if (e || !v.ok() || !v.id) {
                        std::string reason = "tls";  // OpenSSL refused before verification ran
                        if (!v.ok() && v.error != identity::VerifyError::kNoCertificate) {
                          reason = identity::VerifyErrorName(v.error);
                        } else if (e == asio::error::timed_out) {
                          reason = "timeout";
                        }
                        self->CountFailure(reason);
                        t->Close();
                        return;
                      }
                      if (self->stopped_) return;
                      self->handshakes_.fetch_add(1, std::memory_order_relaxed);
                      error_code ignored;
                      tcp::endpoint remote = t->socket().remote_endpoint(ignored);
                      tcp::endpoint local = t->socket().local_endpoint(ignored);
                      identity::SpiffeId peer = *v.id;
                      auto session_holder = std::make_shared<std::weak_ptr<h2::Session>>();
                      h2::Session::Callbacks cbs;
                      cbs.on_request = [wp, peer, remote, local](std::shared_ptr<h2::Stream> st) {
                        if (auto self = wp.lock())
                          self->OnRequest(std::move(st), peer, remote, local);
                      };
                      cbs.on_close = [wp, session_holder](error_code) {
                        auto self = wp.lock();
                        auto s = session_holder->lock();
                        if (!self || !s) return;
                        if (self->sessions_.erase(s) > 0)
                          self->open_.fetch_sub(1, std::memory_order_relaxed);
                      };
                      auto session = h2::Session::Create(h2::Session::kServer, std::move(*holder),
                                                         self->settings_.h2, std::move(cbs));
                      *session_holder = session;
                      self->sessions_.insert(session);
                      self->open_.fetch_add(1, std::memory_order_relaxed);
                      session->Start();
                    });
}

void HboneServer::OnRequest(std::shared_ptr<h2::Stream> stream, const identity::SpiffeId& peer,
                            const tcp::endpoint& remote, const tcp::endpoint& local) {
  streams_.fetch_add(1, std::memory_order_relaxed);
  if (stream->header(":method") != "CONNECT") return Reply(stream, Decision::Refuse(kBadRequest));
  auto target = ParseAuthority(stream->header(":authority"));
  if (!target) return Reply(stream, Decision::Refuse(kBadRequest));
  InboundRequest req{peer, remote, local, *target, stream->headers()};
  std::weak_ptr<HboneServer> wp = weak_from_this();
  auto called = std::make_shared<bool>(false);
  handler_(req, [wp, stream, called](Decision d) {
    if (*called) return;
    *called = true;
    auto self = wp.lock();
    if (!self) {
      if (d.upstream) d.upstream->Close();
      stream->Reset(NGHTTP2_REFUSED_STREAM);
      return;
    }
    self->Reply(stream, std::move(d));
  });
}

void HboneServer::Reply(const std::shared_ptr<h2::Stream>& stream, Decision d) {
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    ++responses_[d.status];
  }
  if (stream->closed() || stream->reset()) {
    // The client gave up while we were deciding.
    if (d.upstream) d.upstream->Close();
    return;
  }
  if (d.status != kOk) {
    if (d.upstream) d.upstream->Close();
    stream->Respond(d.status, d.response_headers, /*end_stream=*/true);
    return;
  }
  if (!d.upstream && !d.take_tunnel) {
    stream->Respond(kServiceUnavailable, d.response_headers, true);
    return;
  }
  if (!stream->Respond(kOk, d.response_headers, /*end_stream=*/false)) {
    if (d.upstream) d.upstream->Close();
    return;
  }
  auto tunnel = std::make_shared<TunnelStream>(stream);
  if (d.take_tunnel) {
    d.take_tunnel(std::move(tunnel));
    return;
  }
  Splice(std::move(tunnel), std::move(d.upstream), settings_.splice, [](const SpliceResult&) {});
}

ServerStats HboneServer::stats() const {
  ServerStats s;
  s.accepted = accepted_.load();
  s.handshakes = handshakes_.load();
  s.handshake_failures = failures_.load();
  s.connections_open = open_.load();
  s.streams = streams_.load();
  std::lock_guard<std::mutex> l(stats_mu_);
  s.handshake_failures_by_reason = failures_by_reason_;
  s.responses = responses_;
  return s;
}

}  // namespace weft::hbone
