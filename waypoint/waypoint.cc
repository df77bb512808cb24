#include "waypoint/waypoint.h"

#include <poll.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "agent/admin/http_server.h"
#include "agent/identity/cert_manager.h"
#include "agent/proxy/cert_manager_credentials.h"
#include "agent/source/cluster_state.h"
#include "agent/source/directory_watcher.h"
#include "agent/source/kube_source.h"
#include "core/kube/config.h"
#include "core/log/log.h"
#include "waypoint/tcp/tcp_proxy.h"

namespace weft::waypoint {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

// "for=10.0.0.1" / for="[fd00::1]" (RFC 7239, as ztunnel writes it): the address, else "".
std::string ForwardedFor(std::string_view v) {
  size_t p = v.find("for=");
  if (p == std::string_view::npos) return {};
  std::string_view rest = v.substr(p + 4);
  size_t end = rest.find_first_of(";,");
  if (end != std::string_view::npos) rest = rest.substr(0, end);
  if (!rest.empty() && rest.front() == '"') rest.remove_prefix(1);
  if (!rest.empty() && rest.back() == '"') rest.remove_suffix(1);
  if (!rest.empty() && rest.front() == '[') {
    rest.remove_prefix(1);
    size_t close = rest.find(']');
    if (close != std::string_view::npos) rest = rest.substr(0, close);
  }
  return std::string(rest);
}

}  // namespace

class Waypoint::Impl {
 public:
  struct Worker {
    asio::io_context io{1};  // run by one thread (posts from others still allowed)
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
    std::thread thread;
    std::shared_ptr<hbone::HboneServer> server;
    std::shared_ptr<hbone::HbonePool> hbone_pool;
    std::shared_ptr<asio::ssl::context> pool_tls;
    std::shared_ptr<UpstreamPool> upstream;
    std::shared_ptr<DeadlineQueue> deadlines;  // the exchanges' timeouts
  };

  WaypointSettings settings;
  std::optional<identity::SpiffeId> id_storage;  // set once in Create
  const identity::SpiffeId& id() const { return *id_storage; }
  std::shared_ptr<agent::proxy::WorkloadCredentials> creds;
  std::unique_ptr<FilterChain> chain = DefaultFilterChain();
  HttpStats http_stats;
  // Circuit breakers, ejections and retry budgets, carried from view to view.
  std::shared_ptr<resilience::ClusterStateRegistry> resilience =
      std::make_shared<resilience::ClusterStateRegistry>();
  TcpStats tcp_stats;
  std::atomic<uint64_t> connections{0}, refused{0}, h1{0}, h2{0};

  mutable std::mutex view_mu;
  std::shared_ptr<const WaypointView> current;

  std::vector<std::unique_ptr<Worker>> workers;
  tcp::endpoint hbone_endpoint;
  std::unique_ptr<agent::admin::HttpServer> admin;

  std::unique_ptr<agent::ConfigStore> store;
  std::unique_ptr<agent::DirectoryWatcher> watcher;
  std::unique_ptr<agent::KubeSource> kube;
  std::unique_ptr<agent::ClusterStateReader> cluster_state;
  uint64_t applied_generation = UINT64_MAX;

  std::shared_ptr<const WaypointView> View() const {
    std::lock_guard<std::mutex> l(view_mu);
    return current;
  }

  absl::Status StartWorkers();
  void OnConnect(Worker& w, const hbone::InboundRequest& req, hbone::Respond respond);
  std::shared_ptr<const hbone::SourceIdentity> SourceFor(Worker& w);
};

std::shared_ptr<const hbone::SourceIdentity> Waypoint::Impl::SourceFor(Worker& w) {
  // New connections use the current trust bundle.
  auto tls = creds->ClientTls();
  if (tls && tls != w.pool_tls) {
    w.pool_tls = tls;
    w.hbone_pool->SetClientTls(tls);
  }
  return creds->Source(id());
}

void Waypoint::Impl::OnConnect(Worker& w, const hbone::InboundRequest& req,
                               hbone::Respond respond) {
  auto view = View();
  std::string vip = req.target.address().to_string();
  uint32_t port = req.target.port();
  const BoundService* bound = view ? view->Lookup(vip, port) : nullptr;
  if (!bound) {
    refused.fetch_add(1, std::memory_order_relaxed);
    respond(hbone::Decision::Refuse(hbone::kBadRequest));
    return;
  }
  connections.fetch_add(1, std::memory_order_relaxed);
  auto info = std::make_shared<ConnectionInfo>();
  info->peer_principal = req.peer.str();
  info->peer_namespace = req.peer.ns();
  std::string source = ForwardedFor(req.header(hbone::kForwardedHeader));
  if (source.empty()) source = req.peer_address.address().to_string();
  info->SetAddresses(std::move(source), vip);
  info->target_port = port;
  PortProtocol protocol = bound->protocol;
  hbone::Decision d;
  d.status = hbone::kOk;
  d.take_tunnel = [this, &w, info, protocol, view](std::shared_ptr<hbone::TunnelStream> tunnel) {
    if (!IsHttp(protocol)) {
      const BoundService* b = view->Lookup(info->target_ip, info->target_port);
      ProxyTcp(std::move(tunnel), view, b, info, w.upstream, &tcp_stats);
      return;
    }
    RequestHandler handler = [this, &w, info](std::shared_ptr<DownstreamRequest> req) {
      // Every request reads the newest view: a route change applies to the next request on a
      // kept-alive connection.
      ExchangeContext ctx;
      ctx.view = View();
      ctx.conn = info;
      ctx.target = ctx.view->Lookup(info->target_ip, info->target_port);
      ctx.pool = w.upstream;
      ctx.deadlines = w.deadlines;
      ctx.chain = chain.get();
      ctx.stats = &http_stats;
      StartExchange(std::move(req), std::move(ctx));
    };
    ServeHttp(
        std::move(tunnel), settings.http, std::move(handler),
        [this](DetectedProtocol p) {
          (p == DetectedProtocol::kHttp2 ? h2 : h1).fetch_add(1, std::memory_order_relaxed);
        },
        nullptr);
  };
  respond(std::move(d));
}

absl::Status Waypoint::Impl::StartWorkers() {
  error_code ec;
  auto addr = asio::ip::make_address(settings.listen_address, ec);
  if (ec) return absl::InvalidArgumentError("bad listen address " + settings.listen_address);
  uint16_t port = settings.port;
  for (size_t i = 0; i < std::max<size_t>(1, settings.workers); ++i) {
    auto w = std::make_unique<Worker>();
    tcp::acceptor acceptor(w->io);
    tcp::endpoint ep(addr, port);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
      acceptor.bind(ep, ec);
    }
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError("cannot listen on " + settings.listen_address + ":" +
                                    std::to_string(port) + ": " + ec.message());
    }
    port = acceptor.local_endpoint().port();
    if (i == 0) hbone_endpoint = acceptor.local_endpoint();
    Worker* wp = w.get();
    w->pool_tls = creds->ClientTls();
    w->hbone_pool =
        hbone::HbonePool::Create(w->io.get_executor(), w->pool_tls, settings.hbone_pool);
    w->upstream = UpstreamPool::Create(
        w->io.get_executor(), w->hbone_pool, [this, wp] { return SourceFor(*wp); },
        settings.upstream);
    w->deadlines = DeadlineQueue::Create(w->io.get_executor());
    auto c = creds;
    auto self_id = id();
    w->server = hbone::HboneServer::Create(
        std::move(acceptor), [c, self_id] { return c->ServerTls(self_id); }, settings.hbone_server,
        [this, wp](const hbone::InboundRequest& req, hbone::Respond respond) {
          OnConnect(*wp, req, std::move(respond));
        });
    w->guard.emplace(w->io.get_executor());
    asio::post(w->io, [s = w->server] { s->Start(); });
    w->thread = std::thread([wp] { wp->io.run(); });
    workers.push_back(std::move(w));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Waypoint>> Waypoint::Create(WaypointSettings settings) {
  auto impl = std::make_unique<Impl>();
  impl->settings = std::move(settings);
  auto& s = impl->settings;
  if (s.ns.empty() || s.name.empty()) {
    return absl::InvalidArgumentError("the waypoint needs its Gateway's namespace and name");
  }
  std::string td = s.identity.enabled() ? s.identity.trust_domain
                                        : (s.credentials ? s.credentials->trust_domain()
                                                         : std::string("cluster.local"));
  auto id = identity::SpiffeId::Workload(td, s.ns, s.name);
  if (!id.ok()) return id.status();
  impl->id_storage = *id;
  if (s.identity.enabled()) {
    auto manager = agent::CertManager::Start(s.identity);
    if (!manager.ok()) return manager.status();
    impl->creds = std::make_shared<agent::proxy::CertManagerCredentials>(std::move(*manager));
  } else if (s.credentials) {
    impl->creds = s.credentials;
  } else {
    return absl::InvalidArgumentError(
        "the waypoint needs certificates: --ca-address (and the node credentials) or test "
        "credentials");
  }
  impl->creds->SetIdentities({impl->id()});

  if (!s.local_dir.empty()) {
    impl->store = std::make_unique<agent::ConfigStore>(s.config);
    auto watcher = agent::DirectoryWatcher::Create(s.local_dir);
    if (!watcher.ok()) return watcher.status();
    impl->watcher = std::move(*watcher);
    impl->cluster_state = std::make_unique<agent::ClusterStateReader>(s.cluster_state);
    if (auto ips = impl->cluster_state->ReadIfChanged()) {
      impl->store->SetAssignedPodIps(std::move(*ips));
    }
    impl->watcher->InitialSync(*impl->store);
  } else if (s.kubernetes) {
    impl->store = std::make_unique<agent::ConfigStore>(s.config);
    auto cfg = kube::LoadConfig(s.kubeconfig);
    if (!cfg.ok()) return cfg.status();
    auto client = kube::Client::Create(*cfg);
    if (!client.ok()) return client.status();
    auto source = agent::KubeSource::Create(*client);
    if (!source.ok()) return source.status();
    impl->kube = std::move(*source);
  }
  std::unique_ptr<Waypoint> wp(new Waypoint(std::move(impl)));
  if (wp->impl_->watcher) wp->Step(0);
  if (auto st = wp->impl_->StartWorkers(); !st.ok()) return st;

  if (s.admin_enabled) {
    auto admin = agent::admin::HttpServer::Create(s.admin_address, s.admin_port);
    if (!admin.ok()) return admin.status();
    Waypoint* self = wp.get();
    auto json_handler = [](std::function<std::string()> f) {
      return [f](const std::string&) {
        agent::admin::Response r;
        r.body = f();
        return r;
      };
    };
    (*admin)->Handle("/stats", json_handler([self] { return self->StatsJson(); }));
    (*admin)->Handle("/config_dump", json_handler([self] { return self->ConfigDumpJson(); }));
    (*admin)->Handle("/routes", json_handler([self] { return self->RoutesJson(); }));
    (*admin)->Handle("/clusters", json_handler([self] { return self->ClustersJson(); }));
    (*admin)->Handle("/ready", [self](const std::string&) {
      agent::admin::Response r;
      r.content_type = "text/plain";
      bool ready = self->view() && self->impl_->creds->Source(self->impl_->id());
      r.status = ready ? 200 : 503;
      r.body = ready ? "ready\n" : "not ready: no configuration or no certificate yet\n";
      return r;
    });
    (*admin)->Start();
    wp->impl_->admin = std::move(*admin);
  }
  return wp;
}

Waypoint::Waypoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Waypoint::~Waypoint() {
  for (auto& w : impl_->workers) {
    asio::post(w->io, [wp = w.get()] {
      if (wp->server) wp->server->Stop();
      if (wp->upstream) wp->upstream->CloseAll();
      if (wp->hbone_pool) wp->hbone_pool->CloseAll();
    });
    w->guard.reset();
  }
  for (auto& w : impl_->workers) {
    w->io.stop();
    if (w->thread.joinable()) w->thread.join();
  }
}

void Waypoint::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) Step(500);
}

void Waypoint::Step(int timeout_ms) {
  if (!impl_->watcher && !impl_->kube) return;
  pollfd p{impl_->watcher ? impl_->watcher->fd() : impl_->kube->fd(), POLLIN, 0};
  poll(&p, 1, timeout_ms);
  std::vector<agent::FileResult> results =
      impl_->watcher ? impl_->watcher->Drain(*impl_->store) : impl_->kube->Drain(*impl_->store);
  for (const auto& r : results) {
    for (const auto& d : r.diagnostics) {
      if (d.severity == policy::Severity::kError) {
        WEFT_LOG(kWarning, "weft-waypoint") << r.file << ": " << d.message << " (left out)";
      }
    }
  }
  if (impl_->cluster_state) {
    if (auto ips = impl_->cluster_state->ReadIfChanged()) {
      impl_->store->SetAssignedPodIps(std::move(*ips));
    }
  }
  // A partial view (some kinds not listed yet) would route and authorize wrongly: none yet.
  if (impl_->kube && !impl_->kube->synced()) return;
  const pb::MeshSnapshot& snap = impl_->store->Snapshot();
  if (snap.generation() == impl_->applied_generation) return;
  impl_->applied_generation = snap.generation();
  SetSnapshot(std::make_shared<const pb::MeshSnapshot>(snap));
}

void Waypoint::SetSnapshot(std::shared_ptr<const pb::MeshSnapshot> snapshot) {
  auto view = std::make_shared<const WaypointView>(
      std::move(snapshot), WaypointIdentity{impl_->settings.ns, impl_->settings.name},
      impl_->resilience);
  for (const auto& e : view->errors()) WEFT_LOG(kWarning, "weft-waypoint") << "route table " << e;
  std::lock_guard<std::mutex> l(impl_->view_mu);
  impl_->current = std::move(view);
}

std::shared_ptr<const WaypointView> Waypoint::view() const {
  return impl_->View();
}

const identity::SpiffeId& Waypoint::identity() const {
  return impl_->id();
}

HttpStats& Waypoint::http_stats() {
  return impl_->http_stats;
}

tcp::endpoint Waypoint::hbone_endpoint() const {
  return impl_->hbone_endpoint;
}

uint16_t Waypoint::admin_port() const {
  return impl_->admin ? impl_->admin->port() : 0;
}

WaypointStatsSnapshot Waypoint::stats() const {
  WaypointStatsSnapshot s;
  s.connections = impl_->connections.load();
  s.connections_refused = impl_->refused.load();
  s.http1_connections = impl_->h1.load();
  s.http2_connections = impl_->h2.load();
  s.tcp_connections = impl_->tcp_stats.connections.load();
  auto v = view();
  s.snapshot_generation = v ? v->snapshot().generation() : 0;
  return s;
}

std::string Waypoint::StatsJson() const {
  const HttpStats& h = impl_->http_stats;
  json j;
  WaypointStatsSnapshot s = stats();
  j["waypoint"] = impl_->settings.ns + "/" + impl_->settings.name;
  j["identity"] = impl_->id().str();
  j["snapshot_generation"] = s.snapshot_generation;
  // The HBONE listener (every worker's): TLS handshakes and the HTTP/2 sessions under them.
  json hb = {{"accepted", 0},
             {"handshakes", 0},
             {"handshake_failures", json::object()},
             {"sessions_open", 0},
             {"streams", 0}};
  for (const auto& w : impl_->workers) {
    if (!w->server) continue;
    hbone::ServerStats st = w->server->stats();
    hb["accepted"] = hb["accepted"].get<uint64_t>() + st.accepted;
    hb["handshakes"] = hb["handshakes"].get<uint64_t>() + st.handshakes;
    hb["sessions_open"] = hb["sessions_open"].get<uint64_t>() + st.connections_open;
    hb["streams"] = hb["streams"].get<uint64_t>() + st.streams;
    for (const auto& [reason, n] : st.handshake_failures_by_reason) {
      hb["handshake_failures"][reason] = hb["handshake_failures"].value(reason, 0ull) + n;
    }
  }
  j["hbone"] = std::move(hb);
  j["downstream"] = {{"connections", s.connections},
                     {"refused", s.connections_refused},
                     {"http1", s.http1_connections},
                     {"http2", s.http2_connections},
                     {"tcp", s.tcp_connections}};
  json flags = json::object();
  {
    std::lock_guard<std::mutex> l(impl_->http_stats.mu);
    for (const auto& [f, n] : impl_->http_stats.by_flag) flags[f] = n;
  }
  j["http"] = {{"requests", h.requests.load()},
               {"responses",
                {{"2xx", h.responses_2xx.load()},
                 {"3xx", h.responses_3xx.load()},
                 {"4xx", h.responses_4xx.load()},
                 {"5xx", h.responses_5xx.load()}}},
               {"local_replies", h.local_replies.load()},
               {"upstream_requests", h.upstream_requests.load()},
               {"upstream_resets", h.upstream_resets.load()},
               {"downstream_resets", h.downstream_resets.load()},
               {"upgrades", h.upgrades.load()},
               {"rbac_denied", h.rbac_denied.load()},
               {"response_flags", flags}};
  // Envoy's names, summed over clusters (per cluster: /clusters).
  j["resilience"] = {{"upstream_rq_retry", h.retries.load()},
                     {"upstream_rq_retry_success", h.retry_success.load()},
                     {"upstream_rq_retry_limit_exceeded", h.retry_limit_exceeded.load()},
                     {"upstream_rq_retry_overflow", h.retry_overflow.load()},
                     {"upstream_rq_retry_budget_exceeded", h.retry_budget_exceeded.load()},
                     {"upstream_rq_timeout", h.timeouts.load()},
                     {"upstream_rq_per_try_timeout", h.per_try_timeouts.load()},
                     {"upstream_rq_pending_overflow", h.pending_overflow.load()},
                     {"fault_delays_injected", h.faults_delayed.load()},
                     {"fault_aborts_injected", h.faults_aborted.load()},
                     {"mirror_requests", h.mirror_requests.load()},
                     {"mirror_failures", h.mirror_failures.load()},
                     {"mirror_skipped_body_too_large", h.mirror_skipped.load()}};
  const TcpStats& t = impl_->tcp_stats;
  j["tcp"] = {{"connections", t.connections.load()},
              {"no_route", t.no_route.load()},
              {"connect_failures", t.connect_failures.load()},
              {"bytes_in", t.bytes_in.load()},
              {"bytes_out", t.bytes_out.load()}};
  return j.dump(2);
}

std::string Waypoint::ConfigDumpJson() const {
  auto v = view();
  json j;
  j["waypoint"] = impl_->settings.ns + "/" + impl_->settings.name;
  j["identity"] = impl_->id().str();
  if (!v) return j.dump(2);
  j["snapshot"] = {{"generation", v->snapshot().generation()},
                   {"content_hash", v->snapshot().content_hash()}};
  json services = json::array();
  for (const pb::Service* svc : v->BoundServices()) {
    json ports = json::array();
    for (const auto& p : svc->ports()) {
      ports.push_back(
          {{"port", p.port()}, {"name", p.name()}, {"protocol", PortProtocolName(ProtocolOf(p))}});
    }
    services.push_back({{"hostname", svc->hostname()}, {"vips", svc->vips()}, {"ports", ports}});
  }
  j["services"] = services;
  return j.dump(2);
}

std::string Waypoint::RoutesJson() const {
  auto v = view();
  json out = json::array();
  if (!v) return out.dump(2);
  for (const pb::Service* svc : v->BoundServices()) {
    for (const auto& p : svc->ports()) {
      json entry = {{"hostname", svc->hostname()},
                    {"port", p.port()},
                    {"protocol", PortProtocolName(ProtocolOf(p))}};
      const route::CompiledRouteTable* t = v->Routes(svc->hostname(), p.port());
      if (!t) {
        entry["routes"] = "default (the service itself)";
      } else {
        json routes = json::array();
        for (const auto& r : t->routes()) {
          json dests = json::array();
          for (const auto& d : r.proto().destinations()) {
            dests.push_back({{"host", d.hostname()},
                             {"subset", d.subset()},
                             {"port", d.port()},
                             {"weight", d.weight()}});
          }
          routes.push_back(
              {{"name", r.proto().name()},
               {"source", r.proto().source().kind() + "/" + r.proto().source().namespace_() + "/" +
                              r.proto().source().name() + " " + r.proto().source().field()},
               {"matches", r.proto().matches_size()},
               {"redirect", r.proto().has_redirect()},
               {"direct_response", r.proto().has_direct_response()},
               {"destinations", dests}});
        }
        entry["routes"] = routes;
        entry["tcp_routes"] = t->proto().tcp_routes_size();
      }
      out.push_back(entry);
    }
  }
  return out.dump(2);
}

std::string Waypoint::ClustersJson() const {
  auto v = view();
  json out = json::array();
  if (!v) return out.dump(2);
  // Every cluster a bound service's routes (or the service itself) lead to.
  std::set<std::tuple<std::string, std::string, uint32_t>> keys;
  for (const pb::Service* svc : v->BoundServices()) {
    for (const auto& p : svc->ports()) {
      keys.insert({svc->hostname(), "", p.port()});
      if (const auto* t = v->Routes(svc->hostname(), p.port())) {
        for (const auto& r : t->routes()) {
          for (const auto& d : r.proto().destinations()) {
            if (d.hostname().empty()) continue;  // an unresolved backend: answered 500
            keys.insert({d.hostname(), d.subset(), d.port() ? d.port() : p.port()});
          }
          for (const auto& m : r.proto().mirrors()) {
            const pb::Service* ms = v->ServiceByHost(m.hostname());
            uint32_t port = m.port()                      ? m.port()
                            : ms && ms->ports_size() == 1 ? ms->ports(0).port()
                                                          : p.port();
            keys.insert({m.hostname(), m.subset(), port});
          }
        }
      }
    }
  }
  for (const auto& [host, subset, port] : keys) {
    auto c = v->ClusterFor(host, subset, port);
    if (!c) continue;
    json eps = json::array();
    resilience::ClusterState& cs = c->state();
    bool outlier_on = cs.outlier.enabled();
    std::map<std::string, lb::OutlierEndpointState> outliers;
    for (auto& o : cs.outlier.States()) outliers[o.endpoint] = o;
    for (size_t i = 0; i < c->size(); ++i) {
      const auto& e = c->endpoint(i);
      const auto& st = c->stats(i);
      json outlier = json::object();
      if (outlier_on) {
        auto it = outliers.find(c->outlier_key(i));
        lb::OutlierEndpointState o = it != outliers.end() ? it->second : lb::OutlierEndpointState{};
        outlier = {{"ejected", o.ejected},
                   {"ejections", o.ejections},
                   {"consecutive_5xx", o.consecutive_5xx},
                   {"consecutive_gateway_errors", o.consecutive_gateway},
                   {"consecutive_local_origin_failures", o.consecutive_local_origin}};
      }
      eps.push_back({{"address", e.address},
                     {"port", e.port},
                     {"identity", e.identity},
                     {"hbone", e.hbone},
                     {"health", std::string(c->HealthOf(i))},
                     {"requests", st.requests.load()},
                     {"active", st.active.load()},
                     {"errors", st.errors.load()},
                     {"connect_failures", st.connect_failures.load()},
                     {"outlier", outlier}});
    }
    auto limit = [](uint32_t v) -> json {
      return v == resilience::PoolLimits::kUnlimited ? json("unlimited") : json(v);
    };
    resilience::PoolLimits l = cs.breaker.limits();
    json breakers = {
        {"max_connections", limit(l.max_connections)},
        {"max_pending_requests", limit(l.max_pending)},
        {"max_requests", limit(l.max_requests)},
        {"max_retries", l.budget ? json("retryBudget " + std::to_string(l.budget_percent) +
                                        "% min " + std::to_string(l.budget_min_concurrency))
                                 : limit(l.max_retries)},
        {"max_requests_per_connection", l.max_requests_per_connection},
        {"connections", cs.breaker.connections()},
        {"pending_requests", cs.breaker.pending()},
        {"active_requests", cs.breaker.requests()},
        {"active_retries", cs.breaker.retries()},
        {"upstream_cx_overflow", cs.breaker.stats().cx_overflow.load()},
        {"upstream_rq_pending_overflow",
         cs.breaker.stats().rq_pending_overflow.load() + cs.breaker.stats().rq_overflow.load()},
        {"upstream_rq_retry_overflow", cs.breaker.stats().rq_retry_overflow.load()}};
    json outlier = {{"enabled", outlier_on},
                    {"ejected_now", cs.outlier.ejected_now()},
                    {"ejections_total", cs.outlier.ejections_total()}};
    json retries = {{"upstream_rq_retry", cs.retries.load()},
                    {"upstream_rq_retry_success", cs.retry_success.load()},
                    {"upstream_rq_retry_limit_exceeded", cs.retry_limit_exceeded.load()},
                    {"upstream_rq_timeout", cs.timeouts.load()},
                    {"upstream_rq_per_try_timeout", cs.per_try_timeouts.load()}};
    if (auto* b = c->budget()) {
      retries["budget"] = {{"available", b->Available()}, {"exceeded", b->exceeded()}};
    }
    out.push_back(
        {{"name", c->name()},
         {"protocol", c->use_client_protocol() ? std::string_view("client (useClientProtocol)")
                                               : UpstreamProtocolName(c->protocol())},
         {"load_balancer",
          c->policy() && c->policy()->has_load_balancer()
              ? pb::LoadBalancer::Policy_Name(c->policy()->load_balancer().policy())
              : std::string("LEAST_REQUEST (default)")},
         {"circuit_breakers", breakers},
         {"outlier_detection", outlier},
         {"retries", retries},
         {"endpoints", eps}});
  }
  return out.dump(2);
}

}  // namespace weft::waypoint
