#include "waypoint/upstream/pool.h"

#include <algorithm>
#include <iostream>

#include "core/hbone/stream_transport.h"
#include "core/identity/spiffe_id.h"
#include "waypoint/upstream/h1_client.h"
#include "waypoint/upstream/h2_client.h"

namespace weft::waypoint {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string EndpointKey(const ClusterEndpoint& ep) {
  return ep.address + "|" + std::to_string(ep.port) + (ep.hbone ? "|hbone" : "|tcp");
}

std::shared_ptr<UpstreamPool> UpstreamPool::Create(asio::any_io_executor executor,
                                                   std::shared_ptr<hbone::HbonePool> hbone,
                                                   IdentityProvider identity,
                                                   UpstreamSettings settings) {
  return std::shared_ptr<UpstreamPool>(
      new UpstreamPool(std::move(executor), std::move(hbone), std::move(identity), settings));
}

UpstreamPool::UpstreamPool(asio::any_io_executor executor, std::shared_ptr<hbone::HbonePool> hbone,
                           IdentityProvider identity, UpstreamSettings settings)
    : executor_(std::move(executor)),
      hbone_(std::move(hbone)),
      identity_(std::move(identity)),
      settings_(settings) {}

UpstreamPool::~UpstreamPool() {
  CloseAll();
}

void UpstreamPool::CloseAll() {
  for (auto& [key, entries] : h2_) {
    for (auto& e : entries) {
      if (e->session) e->session->Close();
    }
  }
  h2_.clear();
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [key, list] : waiters) {
    for (auto& w : list) {
      w.state->breaker.RemovePending();
      asio::post(executor_, [h = std::move(w.handler)] { h(ResetReason::kLocalReset, nullptr); });
    }
  }
  auto idle = std::move(idle_);
  idle_.clear();
  for (auto& [key, conns] : idle) {
    for (auto& c : conns) c->Close();
  }
}

void UpstreamPool::ConnectStream(const ClusterEndpoint& ep, std::chrono::milliseconds timeout,
                                 StreamHandler handler) {
  auto self = shared_from_this();
  if (ep.hbone) {
    auto source = identity_ ? identity_() : nullptr;
    if (!source || !hbone_) {
      ++stats_.connect_failures;
      asio::post(executor_, [h = std::move(handler)] { h(ResetReason::kConnectFailure, nullptr); });
      return;
    }
    error_code ec;
    auto addr = asio::ip::make_address(ep.address, ec);
    if (ec) {
      ++stats_.connect_failures;
      asio::post(executor_, [h = std::move(handler)] { h(ResetReason::kConnectFailure, nullptr); });
      return;
    }
    hbone::ConnectRequest r;
    r.source = std::move(source);
    r.destination = tcp::endpoint(addr, hbone::kPort);
    if (auto id = identity::SpiffeId::Parse(ep.identity); id.ok()) {
      r.expected_peers.push_back(*id);
    }
    r.target = tcp::endpoint(addr, static_cast<uint16_t>(ep.port));
    r.headers.push_back({std::string(hbone::kTraceparentHeader), hbone::NewTraceparent()});
    hbone_->Connect(std::move(r), [self, handler = std::move(handler)](hbone::ConnectResult res) {
      if (!res.ok()) {
        ++self->stats_.connect_failures;
        handler(ResetReason::kConnectFailure, nullptr);
        return;
      }
      ++self->stats_.streams_connected;
      handler(ResetReason::kNone, std::move(res.tunnel));
    });
    return;
  }
  // An endpoint outside the mesh: plain TCP, bounded by the connect timeout.
  error_code ec;
  auto addr = asio::ip::make_address(ep.address, ec);
  if (ec) {
    ++stats_.connect_failures;
    asio::post(executor_, [h = std::move(handler)] { h(ResetReason::kConnectFailure, nullptr); });
    return;
  }
  auto socket = std::make_shared<tcp::socket>(executor_);
  auto timer = std::make_shared<asio::steady_timer>(executor_, timeout);
  auto done = std::make_shared<bool>(false);
  timer->async_wait([socket, done](error_code e) {
    if (!e && !*done) {
      error_code ignored;
      socket->close(ignored);
    }
  });
  socket->async_connect(tcp::endpoint(addr, static_cast<uint16_t>(ep.port)),
                        [self, socket, timer, done, handler = std::move(handler)](error_code e) {
                          *done = true;
                          timer->cancel();
                          if (e) {
                            ++self->stats_.connect_failures;
                            handler(ResetReason::kConnectFailure, nullptr);
                            return;
                          }
                          socket->set_option(tcp::no_delay(true), e);
                          ++self->stats_.streams_connected;
                          handler(ResetReason::kNone,
                                  std::make_shared<hbone::TcpByteStream>(std::move(*socket)));
                        });
}

void UpstreamPool::Open(const ClusterEndpoint& ep, UpstreamProtocol protocol,
                        std::chrono::milliseconds timeout, RequestHandler handler,
                        std::shared_ptr<resilience::ClusterState> state) {
  std::string key = EndpointKey(ep);
  if (protocol == UpstreamProtocol::kHttp2) {
    OpenH2(key, ep, timeout, std::move(handler), std::move(state));
  } else {
    OpenH1(key, ep, timeout, std::move(handler), std::move(state));
  }
}

bool UpstreamPool::MayConnect(const std::string& key, resilience::ClusterState* state, bool h2) {
  if (!state) return true;
  if (state->breaker.TryOpenConnection()) return true;
  // As Envoy: a worker without any connection to this endpoint may always open one, so that
  // its waiting requests can make progress.
  bool none = h2 ? h2_[key].empty() : h1_open_[key] == 0;
  if (none) {
    state->breaker.ForceOpenConnection();
    return true;
  }
  return false;
}

void UpstreamPool::Wait(const std::string& key, Waiter w) {
  if (!w.state || !w.state->breaker.TryAddPending()) {
    asio::post(executor_, [h = std::move(w.handler)] { h(ResetReason::kOverflow, nullptr); });
    return;
  }
  waiters_[key].push_back(std::move(w));
}

void UpstreamPool::ArmH2Idle(const std::shared_ptr<H2Entry>& entry,
                             std::chrono::steady_clock::duration after) {
  entry->idle_armed = true;
  entry->idle->expires_after(after);
  std::weak_ptr<UpstreamPool> weak = weak_from_this();
  std::weak_ptr<H2Entry> weak_entry = entry;
  entry->idle->async_wait([weak, weak_entry](error_code ec) {
    auto e = weak_entry.lock();
    if (!e) return;
    e->idle_armed = false;
    auto pool = weak.lock();
    if (ec || !pool || !e->session || !e->idle_since) return;  // a stream is open
    auto idle_for = std::chrono::steady_clock::now() - *e->idle_since;
    if (idle_for < e->idle_after) return pool->ArmH2Idle(e, e->idle_after - idle_for);
    ++pool->stats_.h2_idle_closed;
    e->session->Shutdown();
  });
}

void UpstreamPool::ServeWaiter(const std::string& key) {
  auto it = waiters_.find(key);
  if (it == waiters_.end() || it->second.empty()) return;
  Waiter w = std::move(it->second.front());
  it->second.pop_front();
  if (it->second.empty()) waiters_.erase(it);
  w.state->breaker.RemovePending();
  // Opened again: an idle connection or a free stream is found first; a new connection
  // only under the limit (else it waits again, at the back).
  Open(w.ep, w.protocol, w.timeout, std::move(w.handler), std::move(w.state));
}

void UpstreamPool::OpenH2(const std::string& key, const ClusterEndpoint& ep,
                          std::chrono::milliseconds timeout, RequestHandler handler,
                          std::shared_ptr<resilience::ClusterState> state) {
  auto& entries = h2_[key];
  // Drop sessions that ended; use the first that takes another stream.
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const std::shared_ptr<H2Entry>& e) {
                                 return !e->connecting &&
                                        (!e->session || !e->session->accepting_streams());
                               }),
                entries.end());
  const uint32_t per_connection = state ? state->breaker.limits().max_requests_per_connection : 0;
  for (auto& e : entries) {
    if (e->connecting) {
      e->waiters.push_back(std::move(handler));
      return;
    }
    if (e->session->open_streams() < e->session->remote_max_concurrent_streams()) {
      ++stats_.h2_streams;
      e->idle_since.reset();  // busy from now: its stream opens once the request is posted
      auto req = std::make_shared<H2UpstreamRequest>(e->session, settings_.read_chunk);
      // maxRequestsPerConnection: the last request it may carry sends GOAWAY after it.
      if (per_connection && ++e->streams >= per_connection) e->session->Shutdown();
      asio::post(executor_, [req, h = std::move(handler)] { h(ResetReason::kNone, req); });
      return;
    }
  }
  if (!MayConnect(key, state.get(), true)) {
    return Wait(key, Waiter{ep, UpstreamProtocol::kHttp2, timeout, std::move(handler), state});
  }
  auto entry = std::make_shared<H2Entry>();
  entry->connecting = true;
  entry->state = state;
  entry->waiters.push_back(std::move(handler));
  entries.push_back(entry);
  auto self = shared_from_this();
  ConnectStream(
      ep, timeout,
      [self, entry, key, per_connection](ResetReason reason, std::shared_ptr<hbone::ByteStream> s) {
        entry->connecting = false;
        auto waiters = std::move(entry->waiters);
        entry->waiters.clear();
        if (!s) {
          if (entry->state) entry->state->breaker.ConnectionClosed();
          entry->state.reset();
          auto it = self->h2_.find(key);
          if (it != self->h2_.end()) {
            auto& v = it->second;
            v.erase(std::remove(v.begin(), v.end(), entry), v.end());
          }
          for (auto& w : waiters) w(reason, nullptr);
          self->ServeWaiter(key);
          return;
        }
        ++self->stats_.h2_sessions;
        std::weak_ptr<UpstreamPool> weak = self;
        h2::Session::Callbacks cbs;
        // Weak: the session keeps its callbacks, and the entry keeps the session.
        std::weak_ptr<H2Entry> weak_entry = entry;
        cbs.on_close = [weak, weak_entry, key](error_code) {
          auto pool = weak.lock();
          auto entry = weak_entry.lock();
          if (entry && entry->state) {
            entry->state->breaker.ConnectionClosed();
            entry->state.reset();
          }
          if (!pool || !entry) return;
          auto it = pool->h2_.find(key);
          if (it != pool->h2_.end()) {
            auto& v = it->second;
            v.erase(std::remove(v.begin(), v.end(), entry), v.end());
          }
          pool->ServeWaiter(key);
        };
        // The DestinationRule's http/tcp idleTimeout, else the pool's.
        entry->idle_after = self->settings_.idle_timeout;
        if (entry->state) {
          if (uint64_t ms = entry->state->breaker.limits().idle_timeout_ms) {
            entry->idle_after = std::chrono::milliseconds(ms);
          }
        }
        entry->idle = std::make_unique<asio::steady_timer>(self->executor_);
        // A stream ended: a request waiting for a stream may take it. No stream left: the
        // session is idle from now (its timer runs unless it already does).
        cbs.on_streams_changed = [weak, weak_entry, key](size_t open) {
          auto pool = weak.lock();
          if (!pool) return;
          if (auto e = weak_entry.lock(); e && e->idle) {
            if (open > 0) {
              e->idle_since.reset();
            } else {
              e->idle_since = std::chrono::steady_clock::now();
              if (!e->idle_armed) pool->ArmH2Idle(e, e->idle_after);
            }
          }
          auto it = pool->waiters_.find(key);
          if (it == pool->waiters_.end() || it->second.empty()) return;
          asio::post(pool->executor_, [weak, key] {
            if (auto p = weak.lock()) p->ServeWaiter(key);
          });
        };
        entry->session = h2::Session::Create(
            h2::Session::kClient, std::make_unique<hbone::ByteStreamTransport>(std::move(s)),
            self->settings_.h2, std::move(cbs));
        entry->session->Start();
        for (auto& w : waiters) {
          ++self->stats_.h2_streams;
          w(ResetReason::kNone,
            std::make_shared<H2UpstreamRequest>(entry->session, self->settings_.read_chunk));
          if (per_connection && ++entry->streams >= per_connection) {
            entry->session->Shutdown();
          }
        }
      });
}

void UpstreamPool::OpenH1(const std::string& key, const ClusterEndpoint& ep,
                          std::chrono::milliseconds timeout, RequestHandler handler,
                          std::shared_ptr<resilience::ClusterState> state) {
  auto it = idle_.find(key);
  while (it != idle_.end() && !it->second.empty()) {
    // Most recently used first: the one least likely to have been closed by the server.
    std::shared_ptr<H1ClientConnection> conn = std::move(it->second.back());
    it->second.pop_back();
    if (conn->closed()) continue;
    conn->TakeFromIdle();
    ++stats_.h1_reused;
    auto req = std::make_shared<H1UpstreamRequest>(conn, true);
    asio::post(executor_, [req, h = std::move(handler)] { h(ResetReason::kNone, req); });
    return;
  }
  if (!MayConnect(key, state.get(), false)) {
    return Wait(key, Waiter{ep, UpstreamProtocol::kHttp1, timeout, std::move(handler), state});
  }
  ++h1_open_[key];
  auto self = shared_from_this();
  ConnectStream(ep, timeout,
                [self, key, state, handler = std::move(handler)](
                    ResetReason reason, std::shared_ptr<hbone::ByteStream> s) {
                  if (!s) {
                    if (state) state->breaker.ConnectionClosed();
                    self->ConnectionClosed(key);
                    return handler(reason, nullptr);
                  }
                  ++self->stats_.h1_connections;
                  auto conn = std::make_shared<H1ClientConnection>(std::move(s), self, key,
                                                                   self->settings_, state);
                  handler(ResetReason::kNone, std::make_shared<H1UpstreamRequest>(conn, false));
                });
}

void UpstreamPool::ConnectionClosed(const std::string& key) {
  auto it = h1_open_.find(key);
  if (it != h1_open_.end() && it->second > 0 && --it->second == 0) h1_open_.erase(it);
  if (waiters_.count(key)) {
    std::weak_ptr<UpstreamPool> weak = weak_from_this();
    asio::post(executor_, [weak, key] {
      if (auto p = weak.lock()) p->ServeWaiter(key);
    });
  }
}

void UpstreamPool::ReturnIdle(const std::string& key, std::shared_ptr<H1ClientConnection> conn) {
  // A request waiting for a connection to this endpoint takes it at once.
  if (auto w = waiters_.find(key); w != waiters_.end() && !w->second.empty()) {
    Waiter waiter = std::move(w->second.front());
    w->second.pop_front();
    if (w->second.empty()) waiters_.erase(w);
    waiter.state->breaker.RemovePending();
    ++stats_.h1_reused;
    auto req = std::make_shared<H1UpstreamRequest>(conn, true);
    asio::post(executor_, [req, h = std::move(waiter.handler)] { h(ResetReason::kNone, req); });
    return;
  }
  auto& v = idle_[key];
  if (settings_.max_idle_per_endpoint != 0 && v.size() >= settings_.max_idle_per_endpoint) {
    conn->Close();
    return;
  }
  // The DestinationRule's http/tcp idleTimeout, else the pool's.
  std::chrono::milliseconds idle = settings_.idle_timeout;
  if (conn->state()) {
    if (uint64_t ms = conn->state()->breaker.limits().idle_timeout_ms) {
      idle = std::chrono::milliseconds(ms);
    }
  }
  conn->BecomeIdle(idle);
  v.push_back(std::move(conn));
}

void UpstreamPool::ForgetIdle(const std::string& key, H1ClientConnection* conn) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return;
  auto& v = it->second;
  v.erase(std::remove_if(v.begin(), v.end(), [conn](const auto& c) { return c.get() == conn; }),
          v.end());
}

}  // namespace weft::waypoint
