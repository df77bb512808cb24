#pragma once

// The node proxy's insides, shared by proxy.cc (pods, listeners, the public API),
// connection.cc (one proxied connection) and hbone_inbound.cc (a pod's :15008). Not part of
// the library's interface.

#include <utility>  // before Boost.Asio 1.74 (awaitable.hpp uses std::exchange)

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

#include "agent/proxy/proxy.h"
#include "core/hbone/pool.h"
#include "core/hbone/server.h"

namespace weft::agent::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

inline SocketAddress ToAddress(const tcp::endpoint& e) {
  return {e.address().to_string(), e.port()};
}

// Shared by all workers.
struct Counters {
  std::atomic<uint64_t> accepted_outbound{0}, accepted_inbound{0}, completed{0}, active{0},
      no_original_destination{0}, passthrough{0}, no_endpoint{0}, connect_failures{0},
      connect_retries{0}, idle_timeouts{0}, bytes_sent{0}, bytes_received{0};
  // mTLS.
  std::atomic<uint64_t> hbone_outbound{0}, hbone_inbound{0}, no_source_certificate{0},
      hbone_connect_failures{0}, hbone_bad_target{0}, hbone_app_unreachable{0}, local_deliveries{0};
  // Waypoints.
  std::atomic<uint64_t> waypoint_outbound{0}, waypoint_unavailable{0};
  // Connection limits and ejection.
  std::atomic<uint64_t> upstream_cx_overflow{0}, outlier_ejections{0};
  // Authorization and PeerAuthentication (by reason).
  std::atomic<uint64_t> denied_policy{0}, denied_no_allow_match{0}, denied_mtls_strict{0},
      denied_unknown_destination{0};
};

struct Worker {
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
  // Outbound HBONE (with credentials): made on first use, on this worker's thread only.
  std::shared_ptr<hbone::HbonePool> pool;
  std::shared_ptr<asio::ssl::context> pool_tls;  // the client context the pool was given
};

class Connection;

// One pod's listening sockets on one worker.
struct PodListeners {
  std::unique_ptr<tcp::acceptor> outbound;
  std::unique_ptr<tcp::acceptor> outbound6;  // [::1], when the pod has IPv6 loopback
  std::unique_ptr<tcp::acceptor> inbound;
  std::shared_ptr<hbone::HboneServer> hbone;  // :15008 (with credentials)
};

struct Pod {
  ~Pod();
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
  // Per cluster, across snapshots: connection counts and the outlier detectors.
  ClusterRegistry clusters_;
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
  std::shared_ptr<Pod> FindPod(const std::string& uid) const {
    std::lock_guard<std::mutex> l(pods_mu_);
    auto it = pods_.find(uid);
    return it == pods_.end() ? nullptr : it->second;
  }
  void Accept(std::shared_ptr<Pod> pod, size_t worker, tcp::acceptor* acceptor, bool outbound);
  void Track(const std::shared_ptr<Connection>& c);
  // Tells the credentials which identities the served pods have (pods or snapshot changed).
  void SyncIdentities();
  // The HBONE server of a pod's :15008 on one worker (hbone_inbound.cc).
  std::shared_ptr<hbone::HboneServer> MakeHboneServer(std::shared_ptr<Pod> pod, size_t worker,
                                                      tcp::acceptor acceptor);
  // The worker's outbound HBONE pool, up to date with the credentials' client context; null
  // when there is no trust bundle yet. On the worker's thread (hbone_inbound.cc).
  hbone::HbonePool* PoolFor(Worker& worker);
};

// A socket made inside a pod's network namespace, with the proxy's mark (so the connect hooks
// leave it alone) and TCP_NODELAY, wrapped for asio.
absl::StatusOr<tcp::socket> ProxySocketIn(const Pod& pod, asio::any_io_executor ex, bool v6,
                                          uint32_t mark);

}  // namespace weft::agent::proxy
