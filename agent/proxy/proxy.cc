#include "agent/proxy/proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <set>

#include "absl/status/status.h"
#include "agent/inpod/netns.h"
#include "agent/proxy/connection.h"
#include "agent/proxy/credentials.h"
#include "agent/proxy/proxy_internal.h"

namespace weft::agent::proxy {

Pod::~Pod() {
  if (info.netns_fd >= 0) close(info.netns_fd);
}

absl::StatusOr<tcp::socket> ProxySocketIn(const Pod& pod, asio::any_io_executor ex, bool v6,
                                          uint32_t mark) {
  auto fd = inpod::SocketIn(pod.info.netns_fd, v6 ? AF_INET6 : AF_INET, SOCK_STREAM);
  if (!fd.ok()) return fd.status();
  setsockopt(*fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
  int one = 1;
  setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  tcp::socket s(ex);
  error_code ec;
  s.assign(v6 ? tcp::v6() : tcp::v4(), *fd, ec);
  if (ec) {
    close(*fd);
    return absl::InternalError("assign socket: " + ec.message());
  }
  return s;
}

void Proxy::Impl::Track(const std::shared_ptr<Connection>& c) {
  std::lock_guard<std::mutex> l(conns_mu_);
  c->tracked_ = conns_.insert(conns_.end(), c);
}

void Proxy::Impl::Accept(std::shared_ptr<Pod> pod, size_t w, tcp::acceptor* acceptor,
                         bool outbound) {
  acceptor->async_accept([this, pod, w, outbound, acceptor](error_code e, tcp::socket s) {
    if (e == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (!e) {
      (outbound ? counters_.accepted_outbound : counters_.accepted_inbound).fetch_add(1);
      auto c = std::make_shared<Connection>(
          *this, workers_[w]->io, pod,
          outbound ? Connection::Kind::kOutbound : Connection::Kind::kInbound);
      Track(c);
      c->Start(std::move(s));
    }
    Accept(pod, w, acceptor, outbound);
  });
}

absl::Status Proxy::Impl::Start() {
  int n = inputs_.settings.workers > 0 ? inputs_.settings.workers
                                       : static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->guard.emplace(asio::make_work_guard(w->io));
    Worker* raw = w.get();
    w->thread = std::thread([raw] { raw->io.run(); });
    workers_.push_back(std::move(w));
  }
  return absl::OkStatus();
}

void Proxy::Impl::Stop() {
  for (auto& w : workers_) {
    w->guard.reset();
    w->io.stop();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  // Everything that holds sockets or timers of an io_context goes while the io_contexts are
  // whole: close listeners, servers, pools and connections, run the handlers that completes
  // (they hold Pods and Connections), then drop the pods. Only then the io_contexts.
  {
    std::lock_guard<std::mutex> l(pods_mu_);
    for (auto& [uid, pod] : pods_) {
      for (auto& pl : pod->per_worker) {
        error_code ignored;
        if (pl.outbound) pl.outbound->close(ignored);
        if (pl.outbound6) pl.outbound6->close(ignored);
        if (pl.inbound) pl.inbound->close(ignored);
        if (pl.hbone) pl.hbone->Stop();
      }
    }
  }
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard<std::mutex> l(conns_mu_);
    for (auto& w : conns_) {
      if (auto c = w.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->Shutdown();
  live.clear();
  for (auto& w : workers_) {
    if (w->pool) w->pool->CloseAll();
    w->io.restart();
    w->io.poll();
  }
  {
    std::lock_guard<std::mutex> l(pods_mu_);
    for (auto& [uid, pod] : pods_) {
      for (auto& pl : pod->per_worker) pl.hbone.reset();
    }
    pods_.clear();
  }
  for (auto& w : workers_) {
    w->pool.reset();
    w->io.restart();
    w->io.poll();
  }
  workers_.clear();
}

namespace {

// A listening socket inside a pod's namespace, SO_REUSEPORT so each worker has its own.
absl::StatusOr<int> ListenIn(int netns_fd, const char* address, uint16_t port) {
  bool v6 = strchr(address, ':') != nullptr;
  auto fd = inpod::SocketIn(netns_fd, v6 ? AF_INET6 : AF_INET, SOCK_STREAM);
  if (!fd.ok()) return fd.status();
  int one = 1;
  setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(*fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    setsockopt(*fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    inet_pton(AF_INET6, address, &sa->sin6_addr);
    len = sizeof(*sa);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    inet_pton(AF_INET, address, &sa->sin_addr);
    len = sizeof(*sa);
  }
  if (bind(*fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(*fd, 1024) != 0) {
    absl::Status st = absl::ErrnoToStatus(errno, std::string("listen on ") + address + ":" +
                                                     std::to_string(port) + " in pod namespace");
    close(*fd);
    return st;
  }
  return *fd;
}

}  // namespace

Proxy::Proxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Proxy::~Proxy() = default;

absl::StatusOr<std::unique_ptr<Proxy>> Proxy::Create(ProxyInputs inputs) {
  auto impl = std::make_unique<Impl>(std::move(inputs));
  if (auto st = impl->Start(); !st.ok()) return st;
  return std::unique_ptr<Proxy>(new Proxy(std::move(impl)));
}

void Proxy::SetView(std::shared_ptr<const NodeView> view) {
  // Clusters of Services the new snapshot no longer has are forgotten once idle.
  if (view) {
    std::set<std::string> hosts;
    for (const auto& svc : view->snapshot().services()) hosts.insert(svc.hostname());
    impl_->clusters_.Prune([&hosts](const std::string& name) {
      size_t bar = 0;
      for (int i = 0; i < 3 && bar != std::string::npos; ++i) bar = name.find('|', bar + 1);
      return bar != std::string::npos && hosts.count(name.substr(bar + 1)) > 0;
    });
  }
  {
    std::lock_guard<std::mutex> l(impl_->view_mu_);
    impl_->view_ = std::move(view);
  }
  impl_->SyncIdentities();
}

void Proxy::Impl::SyncIdentities() {
  if (!inputs_.credentials) return;
  auto view = View();
  std::vector<identity::SpiffeId> ids;
  {
    std::lock_guard<std::mutex> l(pods_mu_);
    for (const auto& [uid, pod] : pods_) {
      const pb::Workload* w = view ? view->Workload(uid) : nullptr;
      if (w == nullptr) continue;
      if (auto id = identity::SpiffeId::Parse(w->identity()); id.ok()) ids.push_back(*id);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  inputs_.credentials->SetIdentities(ids);
}

std::shared_ptr<const NodeView> Proxy::view() const {
  return impl_->View();
}

int Proxy::workers() const {
  return static_cast<int>(impl_->workers_.size());
}

absl::Status Proxy::AddPod(const PodInfo& info) {
  auto pod = std::make_shared<Pod>();
  pod->info = info;
  pod->info.netns_fd = dup(info.netns_fd);
  if (pod->info.netns_fd < 0) return absl::ErrnoToStatus(errno, "dup netns fd");
  // Open every socket first so a failure leaves nothing half-done.
  std::vector<std::pair<int, int>> fds;  // outbound, inbound per worker
  const auto& s = impl_->inputs_.settings;
  for (size_t w = 0; w < impl_->workers_.size(); ++w) {
    auto out = ListenIn(pod->info.netns_fd, "127.0.0.1", s.outbound_port);
    auto in = out.ok() ? ListenIn(pod->info.netns_fd, "0.0.0.0", s.inbound_port)
                       : absl::StatusOr<int>(out.status());
    if (!out.ok() || !in.ok()) {
      if (out.ok()) close(*out);
      for (auto [a, b] : fds) {
        close(a);
        close(b);
      }
      return out.ok() ? in.status() : out.status();  // ~Pod closes the netns fd
    }
    fds.push_back({*out, *in});
  }
  // HBONE: the pod's :15008 on every worker, when the proxy has credentials.
  std::vector<int> hbone_fds;
  if (impl_->inputs_.credentials) {
    for (size_t w = 0; w < fds.size(); ++w) {
      auto h = ListenIn(pod->info.netns_fd, "0.0.0.0", s.hbone_port);
      if (!h.ok()) {
        for (int fd : hbone_fds) close(fd);
        for (auto [a, b] : fds) {
          close(a);
          close(b);
        }
        return h.status();
      }
      hbone_fds.push_back(*h);
    }
  }
  pod->per_worker.resize(fds.size());
  pod->inbound_fd = fds.empty() ? -1 : fds[0].second;
  for (size_t w = 0; w < fds.size(); ++w) {
    auto& io = impl_->workers_[w]->io;
    pod->per_worker[w].outbound = std::make_unique<tcp::acceptor>(io, tcp::v4(), fds[w].first);
    pod->per_worker[w].inbound = std::make_unique<tcp::acceptor>(io, tcp::v4(), fds[w].second);
    // connect6 sends IPv6 destinations to [::1]:15001; a pod without IPv6 has none to send.
    if (auto v6 = ListenIn(pod->info.netns_fd, "::1", s.outbound_port); v6.ok()) {
      pod->per_worker[w].outbound6 = std::make_unique<tcp::acceptor>(io, tcp::v6(), *v6);
    }
    if (w < hbone_fds.size()) {
      pod->per_worker[w].hbone =
          impl_->MakeHboneServer(pod, w, tcp::acceptor(io, tcp::v4(), hbone_fds[w]));
    }
  }
  {
    std::lock_guard<std::mutex> l(impl_->pods_mu_);
    if (impl_->pods_.count(info.uid)) {
      return absl::AlreadyExistsError("pod " + info.uid + " already has listeners");
    }
    impl_->pods_[info.uid] = pod;
  }
  for (size_t w = 0; w < fds.size(); ++w) {
    asio::post(impl_->workers_[w]->io, [this, pod, w] {
      PodListeners& l = pod->per_worker[w];
      impl_->Accept(pod, w, l.outbound.get(), true);
      if (l.outbound6) impl_->Accept(pod, w, l.outbound6.get(), true);
      impl_->Accept(pod, w, l.inbound.get(), false);
      if (l.hbone) l.hbone->Start();
    });
  }
  impl_->SyncIdentities();
  return absl::OkStatus();
}

void Proxy::RemovePod(const std::string& uid) {
  std::shared_ptr<Pod> pod;
  {
    std::lock_guard<std::mutex> l(impl_->pods_mu_);
    auto it = impl_->pods_.find(uid);
    if (it == impl_->pods_.end()) return;
    pod = it->second;
    impl_->pods_.erase(it);
  }
  for (size_t w = 0; w < pod->per_worker.size(); ++w) {
    asio::post(impl_->workers_[w]->io, [pod, w] {
      error_code ignored;
      pod->per_worker[w].outbound->close(ignored);
      if (pod->per_worker[w].outbound6) pod->per_worker[w].outbound6->close(ignored);
      pod->per_worker[w].inbound->close(ignored);
      // Stops accepting; established HBONE connections and their tunnels continue.
      if (pod->per_worker[w].hbone) pod->per_worker[w].hbone->StopAccepting();
    });
  }
  // The netns descriptor stays open while connections hold the Pod.
  impl_->SyncIdentities();
}

std::vector<std::string> Proxy::Pods() const {
  std::lock_guard<std::mutex> l(impl_->pods_mu_);
  std::vector<std::string> out;
  for (const auto& [uid, p] : impl_->pods_) out.push_back(uid);
  return out;
}

int Proxy::InboundListenerFd(const std::string& uid) const {
  std::lock_guard<std::mutex> l(impl_->pods_mu_);
  auto it = impl_->pods_.find(uid);
  return it == impl_->pods_.end() ? -1 : it->second->inbound_fd;
}

std::vector<ConnectionInfo> Proxy::Connections() const {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard<std::mutex> l(impl_->conns_mu_);
    for (auto& w : impl_->conns_) {
      if (auto c = w.lock()) live.push_back(std::move(c));
    }
  }
  std::vector<ConnectionInfo> out;
  for (auto& c : live) out.push_back(c->Info());
  return out;
}

ProxyStats Proxy::Stats() const {
  const Counters& c = impl_->counters_;
  ProxyStats s;
  s.accepted_outbound = c.accepted_outbound;
  s.accepted_inbound = c.accepted_inbound;
  s.completed = c.completed;
  s.active = c.active;
  s.no_original_destination = c.no_original_destination;
  s.passthrough = c.passthrough;
  s.no_endpoint = c.no_endpoint;
  s.connect_failures = c.connect_failures;
  s.connect_retries = c.connect_retries;
  s.idle_timeouts = c.idle_timeouts;
  s.bytes_sent = c.bytes_sent;
  s.bytes_received = c.bytes_received;
  s.hbone_outbound = c.hbone_outbound;
  s.hbone_inbound = c.hbone_inbound;
  s.no_source_certificate = c.no_source_certificate;
  s.hbone_connect_failures = c.hbone_connect_failures;
  s.hbone_bad_target = c.hbone_bad_target;
  s.hbone_app_unreachable = c.hbone_app_unreachable;
  s.local_deliveries = c.local_deliveries;
  s.waypoint_outbound = c.waypoint_outbound;
  s.waypoint_unavailable = c.waypoint_unavailable;
  s.denied_policy = c.denied_policy;
  s.denied_no_allow_match = c.denied_no_allow_match;
  s.denied_mtls_strict = c.denied_mtls_strict;
  s.denied_unknown_destination = c.denied_unknown_destination;
  s.upstream_cx_overflow = c.upstream_cx_overflow;
  s.outlier_ejections = c.outlier_ejections;
  s.clusters = impl_->clusters_.Stats();
  // Inbound handshakes from the pods' servers (thread-safe stats), outbound from the
  // workers' pools (read on their threads).
  std::vector<std::shared_ptr<Pod>> pods;
  {
    std::lock_guard<std::mutex> l(impl_->pods_mu_);
    for (const auto& [uid, p] : impl_->pods_) pods.push_back(p);
  }
  for (const auto& p : pods) {
    for (const auto& l : p->per_worker) {
      if (!l.hbone) continue;
      hbone::ServerStats st = l.hbone->stats();
      s.tls_handshakes += st.handshakes;
      for (const auto& [reason, n] : st.handshake_failures_by_reason) {
        s.tls_handshake_failures[reason] += n;
      }
    }
  }
  for (auto& w : impl_->workers_) {
    auto done = std::make_shared<std::promise<uint64_t>>();
    auto f = done->get_future();
    Worker* worker = w.get();
    asio::post(w->io, [worker, done] {
      done->set_value(worker->pool ? worker->pool->stats().handshakes : 0);
    });
    if (f.wait_for(std::chrono::seconds(1)) == std::future_status::ready) {
      s.tls_handshakes += f.get();
    }
  }
  return s;
}

}  // namespace weft::agent::proxy
