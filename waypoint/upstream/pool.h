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
//     draining session makes the next request open another); a session without a stream for
//     idle_timeout (the DestinationRule's http/tcp idleTimeout, else the pool's) is shut
//     down with GOAWAY.
//   - HTTP/1.1 upstreams: keep-alive connections per endpoint, one request at a time each;
//     idle ones are reused (most recently used first) and closed after idle_timeout.
//   - Circuit breaking (docs/waypoint.md, "Circuit breaking"): with a cluster's state, a new
//     connection (HTTP/1.1 connection or HTTP/2 session) is opened only under its
//     maxConnections; otherwise the request waits for one of this worker's connections to the
//     endpoint (at most http1MaxPendingRequests wait, cluster-wide) or is refused at once
//     (kOverflow: 503 UO). As Envoy, a worker with no connection to the endpoint may always
//     open one, so that a waiting request cannot wait forever. maxRequestsPerConnection closes
//     an HTTP/1.1 connection (GOAWAY for an HTTP/2 session) after that many requests.

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/h2/session.h"
#include "core/hbone/pool.h"
#include "waypoint/http/stream.h"
#include "waypoint/resilience/cluster_state.h"
#include "waypoint/upstream/cluster.h"

namespace weft::waypoint {

class H1ClientConnection;

struct UpstreamSettings {
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(1)};
  // HTTP/1.1 keep-alive connections kept idle per endpoint; 0: all of them, as Envoy (a burst's
  // connections stay until idle_timeout; maxConnections is the bound, not this).
  size_t max_idle_per_endpoint = 0;
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
  uint64_t h2_idle_closed = 0;  // sessions shut down after idle_timeout without a stream
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
  // `state`: the cluster's circuit breaker (null: no limits).
  void Open(const ClusterEndpoint& ep, UpstreamProtocol protocol, std::chrono::milliseconds timeout,
            RequestHandler handler, std::shared_ptr<resilience::ClusterState> state = nullptr);

  // Closes every pooled connection (shutdown).
  void CloseAll();
  const UpstreamStats& stats() const { return stats_; }
  boost::asio::any_io_executor executor() const { return executor_; }
  const UpstreamSettings& settings() const { return settings_; }

  // HTTP/1.1: a connection whose exchange finished cleanly comes back here.
  void ReturnIdle(const std::string& key, std::shared_ptr<H1ClientConnection> conn);
  void ForgetIdle(const std::string& key, H1ClientConnection* conn);
  // An HTTP/1.1 connection to `key` closed: a waiting request may open another.
  void ConnectionClosed(const std::string& key);

 private:
  struct H2Entry {
    std::shared_ptr<h2::Session> session;  // null while connecting
    bool connecting = false;
    std::vector<RequestHandler> waiters;
    std::shared_ptr<resilience::ClusterState> state;  // counts this session as a connection
    uint64_t streams = 0;                             // requests opened on it
    // Idle timeout: the timer runs while idle_since is set; when it fires the session is
    // shut down if it has had no stream since then (re-armed for the rest otherwise), so a
    // busy session arms it at most once per idle_after, not on every stream.
    std::unique_ptr<boost::asio::steady_timer> idle;
    std::chrono::milliseconds idle_after{0};
    std::optional<std::chrono::steady_clock::time_point> idle_since;  // no stream open since
    bool idle_armed = false;
  };
  // A request waiting for a connection (circuit breaking).
  struct Waiter {
    ClusterEndpoint ep;
    UpstreamProtocol protocol;
    std::chrono::milliseconds timeout;
    RequestHandler handler;
    std::shared_ptr<resilience::ClusterState> state;
  };

  UpstreamPool(boost::asio::any_io_executor executor, std::shared_ptr<hbone::HbonePool> hbone,
               IdentityProvider identity, UpstreamSettings settings);
  void OpenH2(const std::string& key, const ClusterEndpoint& ep, std::chrono::milliseconds timeout,
              RequestHandler handler, std::shared_ptr<resilience::ClusterState> state);
  void OpenH1(const std::string& key, const ClusterEndpoint& ep, std::chrono::milliseconds timeout,
              RequestHandler handler, std::shared_ptr<resilience::ClusterState> state);
  // Whether a new connection to `key` may be opened now (counted when true).
  bool MayConnect(const std::string& key, resilience::ClusterState* state, bool h2);
  // Queues a request for a connection, or refuses it (kOverflow) when the queue is full.
  void Wait(const std::string& key, Waiter w);
  // Serves the first waiter of `key`, if any, by a new connection or a freed stream.
  void ServeWaiter(const std::string& key);
  // Runs an HTTP/2 session's idle timer for `after`.
  void ArmH2Idle(const std::shared_ptr<H2Entry>& entry, std::chrono::steady_clock::duration after);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<hbone::HbonePool> hbone_;
  IdentityProvider identity_;
  UpstreamSettings settings_;
  UpstreamStats stats_;
  std::map<std::string, std::vector<std::shared_ptr<H2Entry>>> h2_;
  std::map<std::string, std::vector<std::shared_ptr<H1ClientConnection>>> idle_;
  std::map<std::string, size_t> h1_open_;  // open (or connecting) HTTP/1.1 connections per key
  std::map<std::string, std::deque<Waiter>> waiters_;
};

// "<address>|<port>|<hbone>": the pool key of an endpoint.
std::string EndpointKey(const ClusterEndpoint& ep);

}  // namespace weft::waypoint
