#include "agent/proxy/proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <boost/asio.hpp>
#include <list>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "agent/inpod/netns.h"
#include "core/lb/balancer.h"

namespace weft::agent::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

SocketAddress ToAddress(const tcp::endpoint& e) {
  return {e.address().to_string(), e.port()};
}

}  // namespace

// Shared by all workers.
struct Counters {
  std::atomic<uint64_t> accepted_outbound{0}, accepted_inbound{0}, completed{0}, active{0},
      no_original_destination{0}, passthrough{0}, no_endpoint{0}, connect_failures{0},
      connect_retries{0}, idle_timeouts{0}, bytes_sent{0}, bytes_received{0};
};

struct Worker {
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
};

class Connection;

// One pod's listening sockets on one worker.
struct PodListeners {
  std::unique_ptr<tcp::acceptor> outbound;
  std::unique_ptr<tcp::acceptor> outbound6;  // [::1], when the pod has IPv6 loopback
  std::unique_ptr<tcp::acceptor> inbound;
};

struct Pod {
  ~Pod() {
    if (info.netns_fd >= 0) close(info.netns_fd);
  }
  PodInfo info;
  std::vector<PodListeners> per_worker;
  int inbound_fd = -1;
};

class Proxy::Impl {
 public:
  explicit Impl(ProxyInputs inputs) : inputs_(std::move(inputs)) {}
  ~Impl() { Stop(); }

  absl::Status Start();
  void Stop();

  ProxyInputs inputs_;
  Counters counters_;
  std::vector<std::unique_ptr<Worker>> workers_;

  mutable std::mutex view_mu_;
  std::shared_ptr<const NodeView> view_;

  mutable std::mutex pods_mu_;
  std::map<std::string, std::shared_ptr<Pod>> pods_;

  // Live connections, for the admin view. A connection adds itself when accepted and removes
  // its entry when destroyed: O(1) either way, whatever the number of open connections.
  mutable std::mutex conns_mu_;
  std::list<std::weak_ptr<Connection>> conns_;

  std::shared_ptr<const NodeView> View() const {
    std::lock_guard<std::mutex> l(view_mu_);
    return view_;
  }
  void Accept(std::shared_ptr<Pod> pod, size_t worker, tcp::acceptor* acceptor, bool outbound);
  void Track(const std::shared_ptr<Connection>& c);
};

// One proxied connection: the accepted (downstream) socket, the upstream socket, and the
// bytes in between. Lives on one worker; every handler runs there.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Proxy::Impl& proxy, asio::io_context& io, tcp::socket downstream,
             std::shared_ptr<Pod> pod, bool outbound)
      : proxy_(proxy),
        io_(io),
        down_(std::move(downstream)),
        up_(io),
        idle_(io),
        pod_(std::move(pod)),
        outbound_(outbound),
        started_(std::chrono::steady_clock::now()) {
    size_t n = proxy_.inputs_.settings.buffer_size;
    buf_up_.resize(n);
    buf_down_.resize(n);
    buffer_bytes_ = 2 * n;
  }

  ~Connection() {
    if (tracked_) {
      std::lock_guard<std::mutex> l(proxy_.conns_mu_);
      proxy_.conns_.erase(*tracked_);
    }
    if (balancer_ && picked_) balancer_->Finished(*picked_);
    proxy_.counters_.active.fetch_sub(1);
    proxy_.counters_.completed.fetch_add(1);
  }

  void Start();
  ConnectionInfo Info() const;
  // Set once by Proxy::Impl::Track (under conns_mu_): this connection's entry in conns_.
  std::optional<std::list<std::weak_ptr<Connection>>::iterator> tracked_;

 private:
  void Fail(const char* why);
  void ConnectNext();
  void OnConnected();
  void Pump(tcp::socket& from, tcp::socket& to, std::vector<char>& buf, bool upstream_dir);
  void Touch();
  void ArmIdle();
  void CloseAll();

  Proxy::Impl& proxy_;
  asio::io_context& io_;
  tcp::socket down_;
  tcp::socket up_;
  asio::steady_timer idle_;
  std::shared_ptr<Pod> pod_;
  bool outbound_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();

  std::shared_ptr<const NodeView> view_;
  std::optional<Route> route_;
  std::shared_ptr<lb::Balancer> balancer_;
  std::optional<size_t> picked_;
  std::vector<size_t> tried_;
  int attempts_ = 0;

  mutable std::mutex info_mu_;  // client_, original_, upstream_, cluster_ (read by admin)
  SocketAddress client_, original_, upstream_;
  std::string cluster_;
  std::vector<char> buf_up_, buf_down_;
  std::atomic<uint64_t> sent_{0}, received_{0}, buffer_bytes_{0};
  int open_directions_ = 2;
  bool closed_ = false;
};

void Connection::Start() {
  error_code ec;
  {
    std::lock_guard<std::mutex> l(info_mu_);
    client_ = ToAddress(down_.remote_endpoint(ec));
  }
  down_.set_option(tcp::no_delay(true), ec);
  view_ = proxy_.View();
  if (outbound_) {
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
    if (view_) route_ = view_->Resolve(original_.address, original_.port, rng());
    if (!route_) {
      // Not (or no longer) a mesh destination: deliver where the application meant.
      proxy_.counters_.passthrough.fetch_add(1);
      route_ = Route{};
      route_->direct = {original_.address, original_.port, "", ""};
    }
  } else {
    // sk_lookup kept the destination address: the accepted socket's local end is it.
    {
      std::lock_guard<std::mutex> l(info_mu_);
      original_ = ToAddress(down_.local_endpoint(ec));
    }
    route_ = Route{};
    route_->direct = {original_.address, original_.port, pod_->info.uid, ""};
  }
  balancer_ = route_->balancer;
  {
    std::lock_guard<std::mutex> l(info_mu_);
    cluster_ = route_->cluster;
  }
  ArmIdle();
  ConnectNext();
}

void Connection::Fail(const char* why) {
  (void)why;
  CloseAll();
}

void Connection::ConnectNext() {
  if (attempts_ >= proxy_.inputs_.settings.max_connect_attempts) return Fail("connect attempts");
  SocketAddress target;
  if (balancer_) {
    lb::PickContext ctx;
    ctx.exclude = &tried_;
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
  // The upstream socket lives in the pod's namespace (source address = the pod's) and carries
  // the proxy mark so the connect hooks leave it alone.
  auto fd = inpod::SocketIn(pod_->info.netns_fd, addr.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM);
  if (!fd.ok()) return Fail("socket");
  uint32_t mark = proxy_.inputs_.settings.mark;
  setsockopt(*fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
  int one = 1;
  setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  up_ = tcp::socket(io_);
  up_.assign(addr.is_v4() ? tcp::v4() : tcp::v6(), *fd, ec);
  if (ec) {
    close(*fd);
    return Fail("assign");
  }
  auto timer = std::make_shared<asio::steady_timer>(io_);
  timer->expires_after(std::chrono::milliseconds(route_->connect_timeout_ms));
  auto self = shared_from_this();
  timer->async_wait([self, this](error_code e) {
    if (!e) {
      error_code ignored;
      up_.cancel(ignored);
    }
  });
  up_.async_connect(tcp::endpoint(addr, target.port), [self, this, timer](error_code e) {
    timer->cancel();
    if (closed_) return;
    if (e) {
      proxy_.counters_.connect_failures.fetch_add(1);
      if (balancer_ && picked_) {
        balancer_->Finished(*picked_);
        picked_.reset();
      }
      error_code ignored;
      up_.close(ignored);
      return ConnectNext();
    }
    OnConnected();
  });
}

void Connection::OnConnected() {
  Touch();
  Pump(down_, up_, buf_up_, true);
  Pump(up_, down_, buf_down_, false);
}

void Connection::Pump(tcp::socket& from, tcp::socket& to, std::vector<char>& buf,
                      bool upstream_dir) {
  auto self = shared_from_this();
  from.async_read_some(
      asio::buffer(buf), [self, this, &from, &to, &buf, upstream_dir](error_code e, size_t n) {
        if (closed_) return;
        if (e) {
          // EOF (or reset) from this side: finish the other side's sending half, keep the other
          // direction flowing until it ends too.
          error_code ignored;
          if (e == asio::error::eof) {
            // The last direction to end: close() sends the FIN itself (both receive queues
            // were read to EOF, so no reset), one system call fewer per connection.
            if (--open_directions_ == 0) return CloseAll();
            to.shutdown(tcp::socket::shutdown_send, ignored);
          } else {
            CloseAll();
          }
          return;
        }
        Touch();
        // Backpressure: the next read starts only when this write is done.
        const bool full = n == buf.size();
        asio::async_write(
            to, asio::buffer(buf.data(), n),
            [self, this, &from, &to, &buf, upstream_dir, full](error_code we, size_t written) {
              if (closed_) return;
              if (we) return CloseAll();
              (upstream_dir ? sent_ : received_).fetch_add(written);
              (upstream_dir ? proxy_.counters_.bytes_sent : proxy_.counters_.bytes_received)
                  .fetch_add(written);
              Touch();
              // A read that filled the buffer: a bulk transfer; read more per system call.
              if (full && buf.size() < proxy_.inputs_.settings.max_buffer_size) {
                buf.resize(std::min(buf.size() * 4, proxy_.inputs_.settings.max_buffer_size));
                buffer_bytes_ = buf_up_.size() + buf_down_.size();
              }
              Pump(from, to, buf, upstream_dir);
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
  down_.close(ignored);
  up_.close(ignored);
}

ConnectionInfo Connection::Info() const {
  std::lock_guard<std::mutex> l(info_mu_);
  ConnectionInfo i;
  i.pod = pod_->info.uid;
  i.direction = outbound_ ? "outbound" : "inbound";
  i.client = client_;
  i.original_destination = original_;
  i.upstream = upstream_;
  i.cluster = cluster_;
  i.bytes_sent = sent_.load();
  i.bytes_received = received_.load();
  i.buffer_bytes = buffer_bytes_.load();
  i.age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - started_)
                 .count();
  return i;
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
      counters_.active.fetch_add(1);
      auto c = std::make_shared<Connection>(*this, workers_[w]->io, std::move(s), pod, outbound);
      Track(c);
      c->Start();
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
  // Listeners and connections go before the io_contexts they were made on.
  {
    std::lock_guard<std::mutex> l(pods_mu_);
    pods_.clear();
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
  std::lock_guard<std::mutex> l(impl_->view_mu_);
  impl_->view_ = std::move(view);
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
      close(pod->info.netns_fd);
      return out.ok() ? in.status() : out.status();
    }
    fds.push_back({*out, *in});
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
  }
  {
    std::lock_guard<std::mutex> l(impl_->pods_mu_);
    if (impl_->pods_.count(info.uid)) {
      close(pod->info.netns_fd);
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
    });
  }
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
    });
  }
  // The netns descriptor stays open while connections hold the Pod.
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
  return s;
}

}  // namespace weft::agent::proxy
