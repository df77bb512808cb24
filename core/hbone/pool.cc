#include "core/hbone/pool.h"

#include <algorithm>

#include "core/identity/tls.h"

namespace weft::hbone {

std::shared_ptr<HbonePool> HbonePool::Create(asio::any_io_executor executor,
                                             std::shared_ptr<asio::ssl::context> client_tls,
                                             PoolSettings settings) {
  return std::shared_ptr<HbonePool>(
      new HbonePool(std::move(executor), std::move(client_tls), std::move(settings)));
}

HbonePool::HbonePool(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> client_tls,
                     PoolSettings settings)
    : executor_(std::move(executor)),
      client_tls_(std::move(client_tls)),
      settings_(std::move(settings)) {
  if (settings_.max_streams_per_connection == 0) settings_.max_streams_per_connection = 1;
}

HbonePool::~HbonePool() {
  CloseAll();
}

void HbonePool::SetClientTls(std::shared_ptr<asio::ssl::context> client_tls) {
  client_tls_ = std::move(client_tls);
}

HbonePool::Key HbonePool::KeyOf(const ConnectRequest& r) {
  std::vector<std::string> peers;
  for (const auto& p : r.expected_peers) peers.push_back(p.str());
  std::sort(peers.begin(), peers.end());
  std::string joined;
  for (const auto& p : peers) joined += p + "\n";
  return Key{r.source ? r.source->id.str() : "", r.destination, joined, r.pool_tag};
}

size_t HbonePool::Cap(const Conn& c) const {
  size_t cap = settings_.max_streams_per_connection;
  if (c.session) cap = std::min<size_t>(cap, c.session->remote_max_concurrent_streams());
  return cap;
}

size_t HbonePool::connections() const {
  size_t n = 0;
  for (const auto& [k, v] : conns_) n += v.size();
  return n;
}

PoolStats HbonePool::stats() const {
  PoolStats s = stats_;
  s.connections_open = connections();
  return s;
}

void HbonePool::Connect(ConnectRequest request, ConnectHandler handler) {
  ++stats_.tunnels_requested;
  if (!request.source) {
    ConnectResult r;
    r.status = absl::FailedPreconditionError("hbone: no source identity");
    asio::post(executor_, [handler = std::move(handler), r = std::move(r)] { handler(r); });
    return;
  }
  Key key = KeyOf(request);
  auto& list = conns_[key];
  for (auto& c : list) {
    if (c->dead) continue;
    if (c->session && !c->session->accepting_streams()) continue;
    if (c->in_use() >= Cap(*c)) continue;
    if (c->session) {
      OpenStream(c, std::move(request), std::move(handler), /*reused=*/true);
    } else {
      c->waiters.push_back({std::move(request), std::move(handler)});
    }
    return;
  }
  auto c = std::make_shared<Conn>(executor_);
  c->key = key;
  list.push_back(c);
  ConnectRequest first = request;
  c->waiters.push_back({std::move(request), std::move(handler)});
  Dial(c, first);
}

void HbonePool::Dial(std::shared_ptr<Conn> c, const ConnectRequest& r) {
  ++stats_.connections_opened;
  absl::StatusOr<tcp::socket> s = absl::UnavailableError("unset");
  if (settings_.make_socket) {
    s = settings_.make_socket(executor_, r);
  } else {
    tcp::socket sock(executor_);
    error_code e;
    sock.open(r.destination.protocol(), e);
    if (e) {
      s = absl::UnavailableError("hbone: socket: " + e.message());
    } else {
      s = std::move(sock);
    }
  }
  if (!s.ok()) {
    ++stats_.handshake_failures;
    ConnectResult res;
    res.status = s.status();
    return Fail(c, std::move(res));
  }
  auto sock = std::make_shared<tcp::socket>(std::move(*s));
  std::weak_ptr<HbonePool> wp = weak_from_this();
  c->connect_timer.expires_after(settings_.connect_timeout);
  c->connect_timer.async_wait([c, sock](error_code e) {
    if (e) return;
    // Covers the TCP connect and the TLS handshake.
    error_code ignored;
    sock->close(ignored);
    if (c->transport) c->transport->Close();
  });
  sock->async_connect(r.destination, [wp, c, sock, r](error_code e) {
    auto self = wp.lock();
    if (!self || c->dead) return;
    if (e) {
      ++self->stats_.handshake_failures;
      ConnectResult res;
      res.status = absl::UnavailableError("hbone: connect " + FormatAuthority(r.destination) +
                                          ": " + e.message());
      return self->Fail(c, std::move(res));
    }
    self->Handshake(c, std::move(*sock), r);
  });
}

void HbonePool::Handshake(std::shared_ptr<Conn> c, tcp::socket s, const ConnectRequest& r) {
  error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
  c->transport = std::make_unique<h2::TlsTransport>(std::move(s), *client_tls_);
  h2::TlsTransport* t = c->transport.get();
  absl::Status id = identity::SetIdentity(t->ssl(), r.source->cert, r.source->key);
  if (!id.ok()) {
    ++stats_.handshake_failures;
    ConnectResult res;
    res.status = id;
    return Fail(c, std::move(res));
  }
  identity::ExpectPeer(t->ssl(), r.expected_peers);
  t->OfferH2();
  std::weak_ptr<HbonePool> wp = weak_from_this();
  // The connect timer is still running and closes the transport when it fires.
  t->AsyncHandshake(h2::TlsTransport::kClient, settings_.connect_timeout, [wp, c, t](error_code e) {
    auto self = wp.lock();
    if (!self || c->dead) return;
    c->connect_timer.cancel();
    if (e) {
      ++self->stats_.handshake_failures;
      ConnectResult res;
      identity::VerifyResult v = identity::PeerVerificationOf(t->ssl());
      if (!v.ok() && v.error != identity::VerifyError::kNoCertificate) {
        res.tls_error = v.error;
        res.status = absl::UnavailableError(std::string("hbone: server refused by verification: ") +
                                            std::string(identity::VerifyErrorName(v.error)) + ": " +
                                            v.detail);
      } else {
        res.status = absl::UnavailableError("hbone: TLS handshake: " + e.message());
      }
      return self->Fail(c, std::move(res));
    }
    ++self->stats_.handshakes;
    std::weak_ptr<Conn> wc = c;
    h2::Session::Callbacks cbs;
    cbs.on_streams_changed = [wp, wc](size_t) {
      auto self = wp.lock();
      auto c = wc.lock();
      if (self && c) self->OnStreamsChanged(c);
    };
    cbs.on_close = [wp, wc](error_code) {
      auto self = wp.lock();
      auto c = wc.lock();
      if (!self || !c) return;
      self->Remove(c);
      c->idle.cancel();
    };
    c->session = h2::Session::Create(h2::Session::kClient, std::move(c->transport),
                                     self->settings_.h2, std::move(cbs));
    c->session->Start();
    auto waiters = std::move(c->waiters);
    c->waiters.clear();
    for (auto& w : waiters) {
      self->OpenStream(c, std::move(w.request), std::move(w.handler), /*reused=*/false);
    }
    self->OnStreamsChanged(c);
  });
}

void HbonePool::Fail(std::shared_ptr<Conn> c, ConnectResult result) {
  Remove(c);
  c->connect_timer.cancel();
  if (c->transport) c->transport->Close();
  auto waiters = std::move(c->waiters);
  c->waiters.clear();
  for (auto& w : waiters) {
    ++stats_.tunnels_refused;
    asio::post(executor_, [h = std::move(w.handler), result] { h(result); });
  }
}

void HbonePool::OpenStream(const std::shared_ptr<Conn>& c, ConnectRequest r, ConnectHandler h,
                           bool reused) {
  c->idle.cancel();
  h2::Headers headers;
  headers.reserve(r.headers.size() + 2);
  headers.push_back({":method", "CONNECT"});
  headers.push_back({":authority", FormatAuthority(r.target)});
  for (auto& hd : r.headers) headers.push_back(std::move(hd));
  std::weak_ptr<HbonePool> wp = weak_from_this();
  auto st = c->session->SubmitRequest(
      headers, /*end_stream=*/false, [wp, h, reused](error_code e, std::shared_ptr<h2::Stream> st) {
        auto self = wp.lock();
        ConnectResult res;
        res.reused = reused;
        if (e) {
          res.status = absl::UnavailableError("hbone: CONNECT stream failed: " + e.message());
        } else if (st->status() != kOk) {
          res.http_status = st->status();
          res.status =
              absl::UnavailableError("hbone: CONNECT answered " + std::to_string(st->status()));
          st->Reset(NGHTTP2_CANCEL);
        } else {
          res.http_status = kOk;
          res.tunnel = std::make_shared<TunnelStream>(st);
        }
        if (self) ++(res.ok() ? self->stats_.tunnels_established : self->stats_.tunnels_refused);
        h(std::move(res));
      });
  if (!st) {
    // The connection stopped taking streams (GOAWAY): take another.
    Remove(c);
    --stats_.tunnels_requested;
    Connect(std::move(r), std::move(h));
    return;
  }
  if (reused) ++stats_.reused;
}

void HbonePool::OnStreamsChanged(const std::shared_ptr<Conn>& c) {
  if (c->dead || !c->session || c->in_use() > 0) return;
  std::weak_ptr<HbonePool> wp = weak_from_this();
  std::weak_ptr<Conn> wc = c;
  c->idle.expires_after(settings_.idle_timeout);
  c->idle.async_wait([wp, wc](error_code e) {
    auto self = wp.lock();
    auto c = wc.lock();
    if (e || !self || !c || c->dead || c->in_use() > 0) return;
    ++self->stats_.idle_closed;
    self->Remove(c);
    c->session->Shutdown();
  });
}

void HbonePool::Remove(const std::shared_ptr<Conn>& c) {
  if (c->dead) return;
  c->dead = true;
  auto it = conns_.find(c->key);
  if (it == conns_.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), c), list.end());
  if (list.empty()) conns_.erase(it);
}

void HbonePool::CloseAll() {
  auto conns = std::move(conns_);
  conns_.clear();
  for (auto& [k, list] : conns) {
    for (auto& c : list) {
      c->dead = true;
      c->idle.cancel();
      c->connect_timer.cancel();
      if (c->transport) c->transport->Close();
      if (c->session) c->session->Close();
      for (auto& w : c->waiters) {
        ConnectResult r;
        r.status = absl::CancelledError("hbone: pool closed");
        asio::post(executor_, [h = std::move(w.handler), r] { h(r); });
      }
      c->waiters.clear();
    }
  }
}

}  // namespace weft::hbone
