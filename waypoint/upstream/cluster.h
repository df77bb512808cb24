#pragma once

// Cluster: the endpoints of one (host, subset, port) as the waypoint routes to them, named as
// Envoy names clusters ("outbound|<port>|<subset>|<host>"), with the DestinationRule policy
// that applies (load balancing, connect timeout) and per-endpoint health.
//
// The picker is core/lb's Balancer (ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV,
// locality preference), chosen from the ClusterPolicy. Health: an endpoint that is not ready
// is left out when the cluster is built; an endpoint the waypoint failed to reach is
// excluded from the retry of that request; an endpoint the outlier detector (core/lb's, in
// the cluster's state) ejected is left out of Pick() unless the cluster is in panic.
//
// Built lazily per snapshot view and shared by all workers: counters are atomic.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/lb/balancer.h"
#include "waypoint/resilience/cluster_state.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::waypoint {

namespace pb = ::weft::config::v1;

// How the waypoint talks to an endpoint.
enum class UpstreamProtocol { kHttp1, kHttp2, kTcp };
std::string_view UpstreamProtocolName(UpstreamProtocol p);

struct ClusterEndpoint {
  std::string address;   // IP text
  uint32_t port = 0;     // the endpoint (target) port
  std::string identity;  // SPIFFE ID; empty when no workload is known
  std::string workload_uid;
  // In the mesh (an ambient workload): reached over HBONE at <address>:15008. Otherwise plain
  // TCP to <address>:<port>.
  bool hbone = false;
  // Ready in its EndpointSlice (or Pod status). Unready endpoints are listed (admin) but never
  // picked.
  bool ready = true;
  lb::Locality locality;
};

struct EndpointStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> errors{0};  // 5xx answers and resets
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<int64_t> active{0};
};

class Cluster {
 public:
  // `state`: the cluster's circuit breaker and outlier detector, kept across views (null: a
  // private one). `client`: the waypoint's own locality, for locality-aware picks.
  Cluster(std::string name, const pb::Service* service, uint32_t service_port, std::string subset,
          std::vector<ClusterEndpoint> endpoints, const pb::ClusterPolicy* policy,
          UpstreamProtocol protocol, std::shared_ptr<resilience::ClusterState> state = nullptr,
          std::optional<lb::Locality> client = std::nullopt,
          std::shared_ptr<resilience::RetryBudget> budget = nullptr);

  const std::string& name() const { return name_; }
  const pb::Service* service() const { return service_; }
  uint32_t service_port() const { return service_port_; }
  const std::string& subset() const { return subset_; }
  // The protocol the port speaks upstream: `http2`/`grpc` ports HTTP/2, `http` ports HTTP/1.1
  // unless the DestinationRule sets `h2UpgradePolicy: UPGRADE` (then HTTP/2).
  UpstreamProtocol protocol() const { return protocol_; }
  // `connectionPool.http.useClientProtocol`: each request goes upstream in the protocol its
  // client spoke (h2UpgradePolicy is then ignored, as in Istio).
  bool use_client_protocol() const { return use_client_protocol_; }
  // The protocol of one request: `client_h2` when the client spoke HTTP/2; `upgrade` for an
  // HTTP/1.1 Upgrade (WebSocket), which stays HTTP/1.1 on an `http` port even when upgraded.
  UpstreamProtocol ProtocolFor(bool client_h2, bool upgrade) const;
  const pb::ClusterPolicy* policy() const { return policy_; }
  uint64_t connect_timeout_ms() const { return connect_timeout_ms_; }

  size_t size() const { return endpoints_.size(); }
  const ClusterEndpoint& endpoint(size_t i) const { return endpoints_[i]; }
  EndpointStats& stats(size_t i) const { return stats_[i]; }

  // An endpoint for one attempt; `tried`: the endpoints this request's earlier attempts went
  // to, in order (null under consistent hashing): a retry goes to another endpoint when one
  // is left (Envoy's previous-hosts predicate), else back to a tried one. With locality
  // tiers, a retry stays in the tier the first attempt would choose (Envoy's priority load);
  // with `remote_localities` (VirtualService retries.retryRemoteLocalities: Istio's
  // previous-priorities with update frequency 2) attempts 3 and 4 leave out the tiers of
  // attempts 1 and 2, attempts 5 and 6 those of 1 to 4, and so on, until no tier is left.
  // Ejected endpoints are left out (unless in panic).
  // nullopt: no healthy endpoint (503 "no healthy upstream", flag UH).
  std::optional<size_t> Pick(uint64_t hash, const std::vector<size_t>* tried,
                             bool remote_localities = false);
  // Endpoints that are ready (ejected ones included).
  size_t healthy() const { return endpoints_.size() - unhealthy_.size(); }
  // "healthy", "unready", "ejected".
  std::string_view HealthOf(size_t i) const;

  // Resilience (docs/waypoint.md, "Resilience").
  resilience::ClusterState& state() const { return *state_; }
  const std::shared_ptr<resilience::ClusterState>& shared_state() const { return state_; }
  // weft's retry budget of the service (null: none).
  resilience::RetryBudget* budget() const { return budget_.get(); }
  // The outlier detector's key of endpoint i ("address:port").
  const std::string& outlier_key(size_t i) const { return keys_[i]; }
  // One attempt's outcome on endpoint i for the outlier detector; `status` for k5xx.
  void ReportOutlier(size_t i, lb::OutlierResult result, int status = 0) {
    state_->outlier.Report(balancer_.targets(), i, result, status);
  }
  // DestinationRule consistentHash (RING_HASH / MAGLEV): the request's key decides, and
  // retries stay on the same endpoint (Istio drops the previous-hosts predicate).
  const pb::ConsistentHash* consistent_hash() const { return consistent_hash_; }
  // LEAST_REQUEST accounting: one attempt started / finished on endpoint i.
  void Started(size_t i);
  void Finished(size_t i);

 private:
  std::string name_;
  const pb::Service* service_;
  uint32_t service_port_;
  std::string subset_;
  std::vector<ClusterEndpoint> endpoints_;
  const pb::ClusterPolicy* policy_;
  UpstreamProtocol protocol_;
  bool h2_upgraded_ = false;  // an `http` port made HTTP/2 by h2UpgradePolicy
  bool use_client_protocol_ = false;
  uint64_t connect_timeout_ms_ = 10'000;
  lb::Balancer balancer_;
  std::vector<size_t> unhealthy_;  // indexes never picked (sorted)
  std::shared_ptr<resilience::ClusterState> state_;
  std::optional<lb::Locality> client_;
  std::shared_ptr<resilience::RetryBudget> budget_;
  std::vector<std::string> keys_;
  const pb::ConsistentHash* consistent_hash_ = nullptr;
  std::unique_ptr<EndpointStats[]> stats_;
};

// "outbound|<port>|<subset>|<host>".
std::string ClusterName(uint32_t port, const std::string& subset, const std::string& host);

// The waypoint's outlier detection of a cluster: the node proxy's mapping of outlierDetection
// (agent/proxy/node_view.h), enabled only when the policy has one (as Istio).
lb::OutlierConfig OutlierConfigFor(const pb::ClusterPolicy* policy);

}  // namespace weft::waypoint
