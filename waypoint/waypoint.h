#pragma once

// Waypoint: the weft-waypoint process (docs/waypoint.md). Workers (one io_context and thread
// each) accept HBONE on :15008 with SO_REUSEPORT; each connection's CONNECT names the service
// (VIP:port) the client dialed; HTTP ports are served by the HTTP codecs and the exchange,
// TCP ports by TCP routes spliced to an upstream tunnel. The control loop reads the same
// inputs as the agent (local mode: the watched directory and tools/cluster's state file),
// compiles them, and swaps the WaypointView all workers read.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/identity/cert_manager_options.h"
#include "agent/proxy/credentials.h"
#include "agent/source/config_store.h"
#include "core/hbone/server.h"
#include "waypoint/config/view.h"
#include "waypoint/http/connection.h"
#include "waypoint/http/exchange.h"
#include "waypoint/upstream/pool.h"

namespace weft::waypoint {

struct WaypointSettings {
  // The Gateway this waypoint serves.
  std::string ns;
  std::string name;

  // Inputs (local mode): the watched directory of manifests and tools/cluster's state file.
  // Empty local_dir and not kubernetes: snapshots come from SetSnapshot (tests).
  std::string local_dir;
  // Kubernetes mode: the same kinds as the agent's (agent/source/kube_source.h), listed and
  // watched with `kubeconfig` (empty: $KUBECONFIG, else in-cluster); no route table until every
  // kind is listed once.
  bool kubernetes = false;
  std::string kubeconfig;
  std::string cluster_state;
  agent::ConfigStoreOptions config;

  std::string listen_address = "0.0.0.0";
  uint16_t port = 15008;  // 0: any (tests; see hbone_endpoint())
  std::string admin_address = "127.0.0.1";
  uint16_t admin_port = 15000;  // 0: any
  bool admin_enabled = true;
  size_t workers = 1;

  // Certificates: from the CA (identity.enabled()), else `credentials` (tests).
  agent::CertManagerOptions identity;
  std::shared_ptr<agent::proxy::WorkloadCredentials> credentials;

  hbone::ServerSettings hbone_server;
  hbone::PoolSettings hbone_pool;
  HttpConnectionSettings http;
  UpstreamSettings upstream;
};

// A snapshot of the waypoint's counters (admin /stats).
struct WaypointStatsSnapshot {
  uint64_t connections = 0;          // HBONE CONNECT streams accepted
  uint64_t connections_refused = 0;  // CONNECT for a service not bound here (400)
  uint64_t http1_connections = 0, http2_connections = 0, tcp_connections = 0;
  uint64_t snapshot_generation = 0;
};

class Waypoint {
 public:
  static absl::StatusOr<std::unique_ptr<Waypoint>> Create(WaypointSettings settings);
  ~Waypoint();

  // The control loop (local mode): follows the directory until `stop`.
  void Run(const std::atomic<bool>& stop);
  // One step of it: applies pending file changes, waiting up to `timeout_ms` for one.
  void Step(int timeout_ms);
  // Replaces the view (tests, and the control loop).
  void SetSnapshot(std::shared_ptr<const pb::MeshSnapshot> snapshot);

  std::shared_ptr<const WaypointView> view() const;
  const identity::SpiffeId& identity() const;
  // The HBONE listener's address (the port chosen when settings.port was 0).
  boost::asio::ip::tcp::endpoint hbone_endpoint() const;
  uint16_t admin_port() const;

  // Admin documents (JSON): /stats, /config_dump, /routes, /clusters, /listeners.
  std::string StatsJson() const;
  std::string ConfigDumpJson() const;
  std::string RoutesJson() const;
  std::string ClustersJson() const;
  HttpStats& http_stats();
  WaypointStatsSnapshot stats() const;

  class Impl;

 private:
  explicit Waypoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::waypoint
