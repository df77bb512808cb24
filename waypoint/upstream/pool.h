#pragma once

// UpstreamPool: the waypoint's connections to endpoints, one pool per worker (no locks).
//
//   - A byte stream to an endpoint: an HBONE tunnel to <endpoint IP>:15008 with
//     :authority <endpoint IP>:<target port>, the waypoint's own certificate and the
//     endpoint's identity expected (an ambient workload), or plain TCP to
//     <endpoint IP>:<target port> (an endpoint outside the mesh). HBONE connections are
//     pooled by core/hbone (many tunnels per TLS connection).
//   - HTTP/2 upstreams: one h2c session per endpoint on one such stream, shared by every
//     request to that endpoint (up to the peer's SETTINGS_MAX_CONCURRENT_STREAMS; a full or
//     draining session makes the next request open another).
//   - HTTP/1.1 upstreams: keep-alive connections per endpoint, one request at a time each;
//     idle ones are reused (most recently used first) and closed after idle_timeout.

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/h2/session.h"
#include "core/hbone/pool.h"
#include "waypoint/http/stream.h"
#include "waypoint/upstream/cluster.h"

namespace weft::waypoint {

class H1ClientConnection;

struct UpstreamSettings {
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(1)};
  size_t max_idle_per_endpoint = 128;  // HTTP/1.1 keep-alive connections kept per endpoint
  h2::SessionSettings h2;
  size_t read_chunk = 64 * 1024;
  size_t max_response_head_bytes = 60 * 1024;
};

struct UpstreamStats {
  uint64_t streams_connected = 0;  // byte streams opened (HBONE tunnels or TCP)
  uint64_t connect_failures = 0;
  uint64_t h1_connections = 0;  // HTTP/1.1 connections opened
  uint64_t h1_reused = 0;       // requests on a kept-alive connection
  uint64_t h2_sessions = 0;     // HTTP/2 sessions opened
  uint64_t h2_streams = 0;      // requests on them
};

class UpstreamPool : public std::enable_shared_from_this<UpstreamPool> {
 public:
  using IdentityProvider = std::function<std::shared_ptr<const hbone::SourceIdentity>()>;
  using StreamHandler = std::function<void(ResetReason, std::shared_ptr<hbone::ByteStream>)>;
  using RequestHandler = std::function<void(ResetReason, std::shared_ptr<UpstreamRequest>)>;

  static std::shared_ptr<UpstreamPool> Create(boost::asio::any_io_executor executor,
                                              std::shared_ptr<hbone::HbonePool> hbone,
                                              IdentityProvider identity, UpstreamSettings settings);
  ~UpstreamPool();

  // A new byte stream to `ep` (TCP routes, HTTP/1.1 connections, upgrades).
  void ConnectStream(const ClusterEndpoint& ep, std::chrono::milliseconds timeout,
                     StreamHandler handler);
  // A request stream to `ep` in `protocol` (HTTP/1.1 or HTTP/2), over a pooled connection
  // when one is free.
  void Open(const ClusterEndpoint& ep, UpstreamProtocol protocol, std::chrono::milliseconds timeout,
            RequestHandler handler);

  // Closes every pooled connection (shutdown).
  void CloseAll();
  const UpstreamStats& stats() const { return stats_; }
  boost::asio::any_io_executor executor() const { return executor_; }
  const UpstreamSettings& settings() const { return settings_; }

  // HTTP/1.1: a connection whose exchange finished cleanly comes back here.
  void ReturnIdle(const std::string& key, std::shared_ptr<H1ClientConnection> conn);
  void ForgetIdle(const std::string& key, H1ClientConnection* conn);

 private:
  struct H2Entry {
    std::shared_ptr<h2::Session> session;  // null while connecting
    bool connecting = false;
    std::vector<RequestHandler> waiters;
  };

  UpstreamPool(boost::asio::any_io_executor executor, std::shared_ptr<hbone::HbonePool> hbone,
               IdentityProvider identity, UpstreamSettings settings);
  void OpenH2(const std::string& key, const ClusterEndpoint& ep, std::chrono::milliseconds timeout,
              RequestHandler handler);
  void OpenH1(const std::string& key, const ClusterEndpoint& ep, std::chrono::milliseconds timeout,
              RequestHandler handler);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<hbone::HbonePool> hbone_;
  IdentityProvider identity_;
  UpstreamSettings settings_;
  UpstreamStats stats_;
  std::map<std::string, std::vector<std::shared_ptr<H2Entry>>> h2_;
  std::map<std::string, std::vector<std::shared_ptr<H1ClientConnection>>> idle_;
};

// "<address>|<port>|<hbone>": the pool key of an endpoint.
std::string EndpointKey(const ClusterEndpoint& ep);

}  // namespace weft::waypoint
