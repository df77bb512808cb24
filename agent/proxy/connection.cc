#include "agent/proxy/connection.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include "agent/inpod/netns.h"
#include "agent/proxy/credentials.h"
#include "core/authz/l4_authorizer.h"
#include "core/hbone/hbone.h"
#include "core/log/log.h"

namespace weft::agent::proxy {

Connection::Connection(Proxy::Impl& proxy, asio::io_context& io, std::shared_ptr<Pod> pod,
                       Kind kind)
    : proxy_(proxy),
      io_(io),
      pod_(std::move(pod)),
      kind_(kind),
      idle_(io),
      started_(std::chrono::steady_clock::now()) {
  size_t n = proxy_.inputs_.settings.buffer_size;
  buf_up_.resize(n);
  buf_down_.resize(n);
  buffer_bytes_ = 2 * n;
  proxy_.counters_.active.fetch_add(1);
}

Connection::~Connection() {
  WEFT_LOG(kDebug, "weft-agent proxy") << [&] {
    ConnectionInfo i = Info();
    std::string line = i.direction + " " + i.pod + " " + i.client.address + ":" +
                       std::to_string(i.client.port) + " -> " + i.original_destination.address +
                       ":" + std::to_string(i.original_destination.port);
    if (!i.cluster.empty()) line += " (" + i.cluster + ")";
    if (!i.upstream.address.empty()) {
      line += " via " + i.upstream.address + ":" + std::to_string(i.upstream.port);
    }
    if (!i.peer_identity.empty()) line += " peer " + i.peer_identity;
    line += std::string(i.mtls ? " mTLS" : " plaintext") + ", sent " +
            std::to_string(i.bytes_sent) + " B, received " + std::to_string(i.bytes_received) +
            " B, " + std::to_string(i.age_ms) + " ms";
    if (fail_reason_) line += ", failed: " + std::string(fail_reason_);
    return line;
  }();
  if (tracked_) {
    std::lock_guard<std::mutex> l(proxy_.conns_mu_);
    proxy_.conns_.erase(*tracked_);
  }
  if (balancer_ && picked_) balancer_->Finished(*picked_);
  if (counted_) cluster_state_->Release();
  proxy_.counters_.active.fetch_sub(1);
  proxy_.counters_.completed.fetch_add(1);
}

void Connection::Start(tcp::socket accepted) {
  error_code ec;
  auto peer = accepted.remote_endpoint(ec);
  auto local = accepted.local_endpoint(ec);
  accepted.set_option(tcp::no_delay(true), ec);
  down_ = std::make_shared<hbone::TcpByteStream>(std::move(accepted));
  {
    std::lock_guard<std::mutex> l(info_mu_);
    client_ = ToAddress(peer);
  }
  view_ = proxy_.View();
  if (kind_ == Kind::kOutbound) {
    std::optional<SocketAddress> orig;
    if (proxy_.inputs_.original_destination) {
      orig = proxy_.inputs_.original_destination(pod_->info.netns_cookie, client_);
    }
    if (!orig) {
      proxy_.counters_.no_original_destination.fetch_add(1);
      return Fail("no original destination");
    }
    {
      std::lock_guard<std::mutex> l(info_mu_);
      original_ = *orig;
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    if (view_) route_ = view_->Resolve(original_.address, original_.port, rng(), pod_->info.uid);
    if (!route_) {
      // Not (or no longer) a mesh destination: deliver where the application meant.
      proxy_.counters_.passthrough.fetch_add(1);
      route_ = Route{};
      route_->direct = {original_.address, original_.port, "", ""};
    }
    if (route_->waypoint) {
      const WaypointRoute& w = *route_->waypoint;
      {
        std::lock_guard<std::mutex> l(info_mu_);
        waypoint_ = w.name;
      }
      if (!w.available()) {
        // Fail closed, as ztunnel: going direct would skip the waypoint's L7 policy.
        proxy_.counters_.waypoint_unavailable.fetch_add(1);
        if (proxy_.inputs_.log) {
          proxy_.inputs_.log("refused " + pod_->info.uid + " -> " + original_.address + ":" +
                             std::to_string(original_.port) + " (" + route_->service->hostname() +
                             "): waypoint " + w.name + " unavailable: " + w.unavailable);
        }
        return Fail("waypoint unavailable");
      }
    }
  } else {
    // sk_lookup kept the destination address: the accepted socket's local end is it.
    {
      std::lock_guard<std::mutex> l(info_mu_);
      original_ = ToAddress(local);
    }
    if (!Admit(pod_->info.uid, client_, "", original_.port, false)) return Fail("denied");
    route_ = Route{};
    route_->direct = {original_.address, original_.port, pod_->info.uid, ""};
  }
  balancer_ = route_->balancer;
  {
    std::lock_guard<std::mutex> l(info_mu_);
    cluster_ = route_->cluster;
  }
  if (kind_ == Kind::kOutbound && !AdmitToCluster()) return Fail("maxConnections");
  ArmIdle();
  ConnectNext();
}

bool Connection::AdmitToCluster() {
  // Only a Service's own endpoints: not a waypoint (it applies the policy), not a workload.
  if (!route_->service || route_->waypoint || !balancer_ || !route_->outlier) return true;
  cluster_state_ = proxy_.clusters_.Get(route_->cluster);
  cluster_state_->outlier().SetConfig(*route_->outlier);
  if (cluster_state_->TryAcquire(route_->max_connections)) {
    counted_ = true;
    return true;
  }
  // As Envoy's TCP proxy (upstream_cx_overflow): closed at once, nothing waits.
  proxy_.counters_.upstream_cx_overflow.fetch_add(1);
  if (proxy_.inputs_.log && cluster_state_->ShouldLogOverflow()) {
    proxy_.inputs_.log("overflow " + pod_->info.uid + " -> " + original_.address + ":" +
                       std::to_string(original_.port) + " (" + route_->cluster +
                       "): maxConnections " + std::to_string(route_->max_connections) +
                       " reached; " + std::to_string(cluster_state_->overflow()) +
                       " refused so far");
  }
  return false;
}

bool Connection::Admit(const std::string& destination_uid, const SocketAddress& source,
                       const std::string& principal, uint32_t port, bool mtls) {
  // PeerAuthentication (STRICT refuses plaintext), then AuthorizationPolicy, as decided by
  // the authorizer of the snapshot this connection started with.
  if (!view_) return true;  // no snapshot yet: no policy exists
  authz::ConnectionAttributes a;
  a.destination = view_->Workload(destination_uid);
  a.destination_port = port;
  if (auto ip = authz::IpAddress::Parse(original_.address)) a.destination_ip = *ip;
  if (auto ip = authz::IpAddress::Parse(source.address)) a.source_ip = *ip;
  a.transport = mtls ? authz::Transport::kHbone : authz::Transport::kPlaintext;
  a.source_principal = principal;
  authz::Decision d = view_->authorizer().Authorize(a);
  if (d.allowed) return true;
  switch (d.reason) {
    case authz::Reason::kMtlsStrict:
      proxy_.counters_.denied_mtls_strict.fetch_add(1);
      break;
    case authz::Reason::kNoAllowMatch:
      proxy_.counters_.denied_no_allow_match.fetch_add(1);
      break;
    case authz::Reason::kUnknownDestination:
      proxy_.counters_.denied_unknown_destination.fetch_add(1);
      break;
    default:
      proxy_.counters_.denied_policy.fetch_add(1);
  }
  if (proxy_.inputs_.log) {
    std::string line = "denied " + (principal.empty() ? source.address : principal) + " -> " +
                       destination_uid + ":" + std::to_string(port) + " (" +
                       (mtls ? "mTLS" : "plaintext") +
                       "): " + std::string(authz::ReasonName(d.reason));
    if (!d.policy.empty()) {
      line += " by " + std::string(d.policy);
      if (d.rule_index >= 0) line += " rule " + std::to_string(d.rule_index);
    }
    proxy_.inputs_.log(line);
  }
  return false;
}

void Connection::StartHbone(const hbone::InboundRequest& req, hbone::Respond respond) {
  view_ = proxy_.View();
  down_is_tcp_ = false;
  {
    std::lock_guard<std::mutex> l(info_mu_);
    client_ = ToAddress(req.peer_address);
    original_ = ToAddress(req.target);
    peer_identity_ = req.peer.str();
    mtls_ = true;
  }
  proxy_.counters_.hbone_inbound.fetch_add(1);
  // The target must be this pod (ztunnel's validate_destination): 400 otherwise.
  const pb::Workload* self = view_ ? view_->Workload(pod_->info.uid) : nullptr;
  bool ours = false;
  if (self != nullptr) {
    for (const auto& a : self->addresses()) {
      error_code ec;
      if (asio::ip::make_address(a, ec) == req.target.address() && !ec) ours = true;
    }
  }
  if (!ours) {
    proxy_.counters_.hbone_bad_target.fetch_add(1);
    return respond(hbone::Decision::Refuse(hbone::kBadRequest));
  }
  if (!Admit(pod_->info.uid, client_, req.peer.Principal(), req.target.port(), true)) {
    return respond(hbone::Decision::Refuse(hbone::kUnauthorized));
  }
  auto self_ptr = shared_from_this();
  ConnectTcp(req.target, std::chrono::milliseconds(10'000),
             [self_ptr, this, respond = std::move(respond)](bool ok) {
               if (!ok) {
                 proxy_.counters_.hbone_app_unreachable.fetch_add(1);
                 respond(hbone::Decision::Refuse(hbone::kServiceUnavailable));
                 return CloseAll();
               }
               hbone::Decision d;
               d.take_tunnel = [self_ptr, this](std::shared_ptr<hbone::TunnelStream> tunnel) {
                 if (closed_ || !connecting_) {  // the proxy is stopping
                   tunnel->Close();
                   return;
                 }
                 down_ = std::move(tunnel);
                 ArmIdle();
                 auto up = std::make_shared<hbone::TcpByteStream>(std::move(*connecting_));
                 connecting_.reset();
                 OnUpstream(std::move(up), true);
               };
               respond(std::move(d));
             });
}

void Connection::Fail(const char* why) {
  if (!fail_reason_) fail_reason_ = why;
  CloseAll();
}

void Connection::ConnectNext() {
  if (attempts_ >= proxy_.inputs_.settings.max_connect_attempts) return Fail("connect attempts");
  SocketAddress target;
  if (balancer_) {
    lb::PickContext ctx;
    // Endpoints this connection tried, and those ejected for failing connects.
    std::vector<size_t> exclude = tried_;
    if (cluster_state_) cluster_state_->outlier().AppendEjected(balancer_->targets(), exclude);
    ctx.exclude = &exclude;
    ctx.hash = lb::StableHash(client_.address);
    lb::Locality client_locality;
    if (view_) {
      if (const pb::Workload* w = view_->Workload(pod_->info.uid)) {
        client_locality = {w->locality().region(), w->locality().zone(), w->locality().subzone()};
        ctx.client = &client_locality;
      }
    }
    picked_ = balancer_->Pick(ctx);
    if (!picked_) {
      if (attempts_ == 0) proxy_.counters_.no_endpoint.fetch_add(1);
      return Fail("no endpoint");
    }
    tried_.push_back(*picked_);
    const auto& t = balancer_->targets()[*picked_];
    target = {t.address, static_cast<uint16_t>(t.port)};
    balancer_->Started(*picked_);
  } else {
    if (attempts_ > 0) return Fail("direct connect failed");
    target = {route_->direct.address, static_cast<uint16_t>(route_->direct.port)};
  }
  if (attempts_ > 0) proxy_.counters_.connect_retries.fetch_add(1);
  ++attempts_;
  {
    std::lock_guard<std::mutex> l(info_mu_);
    upstream_ = target;
  }
  error_code ec;
  auto addr = asio::ip::make_address(target.address, ec);
  if (ec) return Fail("bad upstream address");
  tcp::endpoint endpoint(addr, target.port);

  // A Service bound to a waypoint: HBONE to the waypoint (balancer_ picked one of its pods).
  if (kind_ == Kind::kOutbound && route_->waypoint) return ConnectWaypoint(endpoint);
  // Outbound to a mesh workload (enrolled, with an identity) goes over HBONE when the proxy
  // has credentials; inbound delivery to the app and everything else is plain TCP.
  if (kind_ == Kind::kOutbound && proxy_.inputs_.credentials && view_) {
    const pb::Workload* dst = view_->WorkloadByAddress(target.address);
    if (dst != nullptr && dst->dataplane_mode() == pb::DATAPLANE_MODE_AMBIENT &&
        !dst->identity().empty()) {
      return ConnectMesh(endpoint, *dst);
    }
  }
  auto self = shared_from_this();
  ConnectTcp(endpoint, std::chrono::milliseconds(route_->connect_timeout_ms),
             [self, this](bool ok) {
               if (!ok) return OnConnectFailed();
               auto up = std::make_shared<hbone::TcpByteStream>(std::move(*connecting_));
               connecting_.reset();
               OnUpstream(std::move(up), true);
             });
}

bool Connection::AwaitSourceCertificate(std::function<void()> retry) {
  if (HasSourceCertificate()) return false;
  // A pod's first connections may come before its certificate: wait for it (bounded, as
  // ztunnel does) rather than fail them. Past the wait, the caller's path fails and counts.
  auto wait = proxy_.inputs_.settings.source_certificate_wait;
  auto now = std::chrono::steady_clock::now();
  if (!cert_wait_since_) cert_wait_since_ = now;
  if (now - *cert_wait_since_ >= wait) return false;
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
  auto self = shared_from_this();
  timer->async_wait([self, timer, retry = std::move(retry)](error_code e) {
    if (!e) retry();
  });
  return true;
}

void Connection::ConnectMesh(const tcp::endpoint& target, const pb::Workload& destination) {
  if (closed_) return;
  if (AwaitSourceCertificate([this, target, d = destination] { ConnectMesh(target, d); })) return;
  // Same node: this proxy serves the destination too and holds both identities, so it skips
  // TLS but runs the destination's inbound checks (docs/security.md, "HBONE").
  if (auto local = proxy_.FindPod(destination.uid())) {
    return DeliverLocally(target, destination, local);
  }
  ConnectHbone(tcp::endpoint(target.address(), proxy_.inputs_.settings.hbone_port), target,
               destination.identity(), /*via_waypoint=*/false);
}

void Connection::ConnectWaypoint(const tcp::endpoint& waypoint) {
  if (closed_) return;
  if (!proxy_.inputs_.credentials) {
    // A waypoint takes HBONE only, and without credentials there is no certificate to
    // present: refused, never plaintext.
    proxy_.counters_.no_source_certificate.fetch_add(1);
    return Fail("no credentials for HBONE to the waypoint");
  }
  if (AwaitSourceCertificate([this, waypoint] { ConnectWaypoint(waypoint); })) return;
  // Not DeliverLocally, even when the waypoint's pod is on this node: it is a separate proxy
  // in its own pod (not captured, no listener of ours), reached over HBONE like any other.
  const WaypointRoute& w = *route_->waypoint;
  error_code ec;
  auto service_address = asio::ip::make_address(w.authority_address, ec);
  if (ec) return Fail("bad service address");
  ConnectHbone(waypoint, tcp::endpoint(service_address, static_cast<uint16_t>(w.authority_port)),
               w.identity, /*via_waypoint=*/true);
}

bool Connection::HasSourceCertificate() const {
  const pb::Workload* source = view_ ? view_->Workload(pod_->info.uid) : nullptr;
  if (source == nullptr) return false;
  auto id = identity::SpiffeId::Parse(source->identity());
  return id.ok() && proxy_.inputs_.credentials->Source(*id) != nullptr;
}

void Connection::DeliverLocally(const tcp::endpoint& target, const pb::Workload& destination,
                                std::shared_ptr<Pod> local) {
  const pb::Workload* source = view_->Workload(pod_->info.uid);
  auto source_id = source ? identity::SpiffeId::Parse(source->identity())
                          : absl::StatusOr<identity::SpiffeId>(absl::NotFoundError("source"));
  if (!source_id.ok() || !proxy_.inputs_.credentials->Source(*source_id)) {
    // Same rule as across nodes: no usable certificate for the source, no connection.
    proxy_.counters_.no_source_certificate.fetch_add(1);
    return Fail("no certificate for the source identity");
  }
  {
    std::lock_guard<std::mutex> l(info_mu_);
    peer_identity_ = destination.identity();
    mtls_ = true;  // the identities are the proxy's own on both ends; no wire in between
  }
  SocketAddress source_address = client_;
  if (source && source->addresses_size() > 0) source_address = {source->addresses(0), 0};
  if (!Admit(destination.uid(), source_address, source_id->Principal(), target.port(), true)) {
    return Fail("denied");
  }
  proxy_.counters_.local_deliveries.fetch_add(1);
  delivered_to_ = local;  // the destination pod stays open while this connection is
  auto self = shared_from_this();
  ConnectTcp(
      target, std::chrono::milliseconds(route_->connect_timeout_ms),
      [self, this](bool ok) {
        if (!ok) return OnConnectFailed();
        auto up = std::make_shared<hbone::TcpByteStream>(std::move(*connecting_));
        connecting_.reset();
        OnUpstream(std::move(up), true);
      },
      local.get());
}

void Connection::OnConnectFailed() {
  proxy_.counters_.connect_failures.fetch_add(1);
  if (cluster_state_ && picked_ &&
      cluster_state_->outlier().Failure(balancer_->targets(), *picked_)) {
    proxy_.counters_.outlier_ejections.fetch_add(1);
    if (proxy_.inputs_.log) {
      const auto& t = balancer_->targets()[*picked_];
      std::string endpoint = lb::OutlierDetector::Key(t);
      int64_t ms = 0;
      for (const auto& e : cluster_state_->outlier().States()) {
        if (e.endpoint == endpoint) ms = e.ejected_remaining_ms;
      }
      proxy_.inputs_.log("ejected " + endpoint + " of " + route_->cluster + " for " +
                         std::to_string(ms) + " ms after " +
                         std::to_string(cluster_state_->outlier().config().LocalOriginThreshold()) +
                         " consecutive connect failures");
    }
  }
  if (balancer_ && picked_) {
    balancer_->Finished(*picked_);
    picked_.reset();
  }
  ConnectNext();
}

void Connection::ConnectTcp(const tcp::endpoint& target, std::chrono::milliseconds timeout,
                            std::function<void(bool ok)> done, const Pod* in_pod) {
  // The socket lives in the pod's namespace (source address = the pod's; the destination
  // pod's for a same-node delivery) and carries the proxy mark so the connect hooks leave it
  // alone.
  auto s = ProxySocketIn(in_pod ? *in_pod : *pod_, io_.get_executor(), target.address().is_v6(),
                         proxy_.inputs_.settings.mark);
  if (!s.ok()) return done(false);
  connecting_.emplace(std::move(*s));
  auto timer = std::make_shared<asio::steady_timer>(io_);
  timer->expires_after(timeout);
  auto self = shared_from_this();
  timer->async_wait([self, this](error_code e) {
    if (!e && connecting_) {
      error_code ignored;
      connecting_->cancel(ignored);
    }
  });
  connecting_->async_connect(target, [self, this, timer, done = std::move(done)](error_code e) {
    timer->cancel();
    if (closed_) return;
    if (e) {
      error_code ignored;
      if (connecting_) connecting_->close(ignored);
      connecting_.reset();
      return done(false);
    }
    done(true);
  });
}

void Connection::ConnectHbone(const tcp::endpoint& destination, const tcp::endpoint& target,
                              const std::string& peer_identity, bool via_waypoint) {
  const pb::Workload* source = view_->Workload(pod_->info.uid);
  auto source_id = source ? identity::SpiffeId::Parse(source->identity())
                          : absl::StatusOr<identity::SpiffeId>(absl::NotFoundError("source"));
  auto dest_id = identity::SpiffeId::Parse(peer_identity);
  std::shared_ptr<const hbone::SourceIdentity> cert;
  if (source_id.ok()) cert = proxy_.inputs_.credentials->Source(*source_id);
  if (!cert || !dest_id.ok()) {
    // No usable certificate for the source: never fall back to plaintext.
    proxy_.counters_.no_source_certificate.fetch_add(1);
    return Fail("no certificate for the source identity");
  }
  Worker* worker = nullptr;
  for (auto& w : proxy_.workers_) {
    if (&w->io == &io_) worker = w.get();
  }
  hbone::HbonePool* pool = worker ? proxy_.PoolFor(*worker) : nullptr;
  if (pool == nullptr) {
    proxy_.counters_.no_source_certificate.fetch_add(1);  // no trust bundle yet
    return Fail("no HBONE pool");
  }
  hbone::ConnectRequest req;
  req.source = std::move(cert);
  req.destination = destination;
  req.expected_peers = {*dest_id};
  req.target = target;  // :authority: the workload's IP:port, or the Service's via a waypoint
  error_code ec;
  auto src_ip = asio::ip::make_address(
      source && source->addresses_size() > 0 ? source->addresses(0) : std::string("0.0.0.0"), ec);
  req.headers = {{std::string(hbone::kForwardedHeader), hbone::ForwardedFor(src_ip)},
                 {std::string(hbone::kTraceparentHeader), hbone::NewTraceparent()}};
  req.pool_tag = pod_->info.uid;
  {
    std::lock_guard<std::mutex> l(info_mu_);
    peer_identity_ = dest_id->str();
    mtls_ = true;
  }
  proxy_.counters_.hbone_outbound.fetch_add(1);
  // Once per connection (retries go to another of the waypoint's endpoints).
  if (via_waypoint && attempts_ == 1) proxy_.counters_.waypoint_outbound.fetch_add(1);
  auto self = shared_from_this();
  // connectionPool.tcp.connectTimeout covers the whole attempt: TCP and TLS to the peer's
  // :15008 (or a pooled connection) and the CONNECT's answer, which waits for the peer's
  // connect to the app.
  uint64_t attempt = ++attempt_;
  auto timer = std::make_shared<asio::steady_timer>(io_);
  timer->expires_after(std::chrono::milliseconds(route_->connect_timeout_ms));
  std::string peer = hbone::FormatAuthority(destination);
  timer->async_wait([self, this, attempt, peer, pool](error_code e) {
    if (e || closed_ || attempt != attempt_) return;
    ++attempt_;  // the late answer, if any, is dropped
    proxy_.counters_.hbone_connect_failures.fetch_add(1);
    if (proxy_.inputs_.log) {
      hbone::PoolStats ps = pool->stats();
      proxy_.inputs_.log("hbone connect to " + peer + " for " + pod_->info.uid +
                         " timed out after " + std::to_string(route_->connect_timeout_ms) +
                         " ms (this worker's pool: " + std::to_string(ps.connections_open) +
                         " connections open, " + std::to_string(ps.connections_opened) +
                         " dialed, " + std::to_string(ps.handshakes) + " handshakes, " +
                         std::to_string(ps.handshake_failures) + " failed)");
    }
    OnConnectFailed();
  });
  pool->Connect(std::move(req), [self, this, attempt, timer, peer](hbone::ConnectResult r) {
    if (closed_ || attempt != attempt_) {
      if (r.tunnel) r.tunnel->Close();
      return;
    }
    ++attempt_;
    timer->cancel();
    if (!r.ok()) {
      proxy_.counters_.hbone_connect_failures.fetch_add(1);
      if (proxy_.inputs_.log) {
        proxy_.inputs_.log("hbone connect to " + peer + " for " + pod_->info.uid + " failed" +
                           (r.reused ? " (pooled connection): " : ": ") +
                           std::string(r.status.message()));
      }
      return OnConnectFailed();
    }
    OnUpstream(std::move(r.tunnel), false);
  });
}

void Connection::OnUpstream(std::shared_ptr<hbone::ByteStream> up, bool up_is_tcp) {
  if (closed_) {
    up->Close();
    return;
  }
  if (cluster_state_ && picked_) cluster_state_->outlier().Success(balancer_->targets(), *picked_);
  up_ = std::move(up);
  up_is_tcp_ = up_is_tcp;
  Touch();
  Pump(true);
  Pump(false);
}

void Connection::Pump(bool up_dir) {
  hbone::ByteStream& from = up_dir ? *down_ : *up_;
  std::vector<char>& buf = up_dir ? buf_up_ : buf_down_;
  auto self = shared_from_this();
  from.AsyncReadSome(asio::buffer(buf), [self, this, up_dir](error_code e, size_t n) {
    if (closed_) return;
    hbone::ByteStream& to = up_dir ? *up_ : *down_;
    std::vector<char>& buf = up_dir ? buf_up_ : buf_down_;
    if (e) {
      // EOF (or reset) from this side: finish the other side's sending half, keep the other
      // direction flowing until it ends too.
      if (e == asio::error::eof) {
        bool to_is_tcp = up_dir ? up_is_tcp_ : down_is_tcp_;
        if (--open_directions_ == 0) {
          // The last direction to end: close() sends a TCP FIN itself (both receive queues
          // were read to EOF, so no reset); a tunnel needs its END_STREAM first.
          if (!to_is_tcp) to.ShutdownSend();
          return CloseAll();
        }
        to.ShutdownSend();
      } else {
        CloseAll();
      }
      return;
    }
    Touch();
    // Backpressure: the next read starts only when this write is done.
    const bool full = n == buf.size();
    to.AsyncWrite(asio::buffer(buf.data(), n), [self, this, up_dir, full](error_code we,
                                                                          size_t written) {
      if (closed_) return;
      if (we) return CloseAll();
      (up_dir ? sent_ : received_).fetch_add(written);
      (up_dir ? proxy_.counters_.bytes_sent : proxy_.counters_.bytes_received).fetch_add(written);
      Touch();
      // A read that filled the buffer: a bulk transfer; read more per system call.
      std::vector<char>& buf = up_dir ? buf_up_ : buf_down_;
      if (full && buf.size() < proxy_.inputs_.settings.max_buffer_size) {
        buf.resize(std::min(buf.size() * 4, proxy_.inputs_.settings.max_buffer_size));
        buffer_bytes_ = buf_up_.size() + buf_down_.size();
      }
      Pump(up_dir);
    });
  });
}

void Connection::Touch() {
  last_activity_ = std::chrono::steady_clock::now();
}

void Connection::ArmIdle() {
  auto timeout = proxy_.inputs_.settings.idle_timeout;
  idle_.expires_at(last_activity_ + timeout);
  auto self = shared_from_this();
  idle_.async_wait([self, this, timeout](error_code e) {
    if (e || closed_) return;
    if (std::chrono::steady_clock::now() - last_activity_ >= timeout) {
      proxy_.counters_.idle_timeouts.fetch_add(1);
      return CloseAll();
    }
    ArmIdle();
  });
}

void Connection::CloseAll() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  idle_.cancel();
  if (connecting_) connecting_->close(ignored);
  if (down_) down_->Close();
  if (up_) up_->Close();
}

ConnectionInfo Connection::Info() const {
  std::lock_guard<std::mutex> l(info_mu_);
  ConnectionInfo i;
  i.pod = pod_->info.uid;
  i.direction = kind_ == Kind::kOutbound ? "outbound" : "inbound";
  i.client = client_;
  i.original_destination = original_;
  i.upstream = upstream_;
  i.cluster = cluster_;
  i.peer_identity = peer_identity_;
  i.mtls = mtls_;
  i.waypoint = waypoint_;
  if (!waypoint_.empty()) i.waypoint_address = upstream_;
  i.bytes_sent = sent_.load();
  i.bytes_received = received_.load();
  i.buffer_bytes = buffer_bytes_.load();
  i.age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - started_)
                 .count();
  return i;
}

}  // namespace weft::agent::proxy
