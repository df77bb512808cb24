#include "waypoint/upstream/cluster.h"

#include <algorithm>

#include "agent/proxy/node_view.h"

namespace weft::waypoint {

std::string_view UpstreamProtocolName(UpstreamProtocol p) {
  switch (p) {
    case UpstreamProtocol::kHttp1:
      return "HTTP/1.1";
    case UpstreamProtocol::kHttp2:
      return "HTTP/2";
    case UpstreamProtocol::kTcp:
      return "TCP";
  }
  return "TCP";
}

std::string ClusterName(uint32_t port, const std::string& subset, const std::string& host) {
  return "outbound|" + std::to_string(port) + "|" + subset + "|" + host;
}

namespace {

std::vector<lb::Target> Targets(const std::vector<ClusterEndpoint>& endpoints) {
  std::vector<lb::Target> out;
  out.reserve(endpoints.size());
  for (const auto& e : endpoints) {
    lb::Target t;
    t.address = e.address;
    t.port = e.port;
    t.locality = e.locality;
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

lb::OutlierConfig OutlierConfigFor(const pb::ClusterPolicy* policy) {
  lb::OutlierConfig c = agent::proxy::OutlierConfigFor(policy);
  c.enabled = policy && policy->has_outlier_detection();
  return c;
}

Cluster::Cluster(std::string name, const pb::Service* service, uint32_t service_port,
                 std::string subset, std::vector<ClusterEndpoint> endpoints,
                 const pb::ClusterPolicy* policy, UpstreamProtocol protocol,
                 std::shared_ptr<resilience::ClusterState> state,
                 std::optional<lb::Locality> client,
                 std::shared_ptr<resilience::RetryBudget> budget)
    : name_(std::move(name)),
      service_(service),
      service_port_(service_port),
      subset_(std::move(subset)),
      endpoints_(std::move(endpoints)),
      policy_(policy),
      protocol_(protocol),
      balancer_(Targets(endpoints_), agent::proxy::BalancerConfigFor(policy),
                lb::StableHash(name_)),
      state_(state ? std::move(state)
                   : std::make_shared<resilience::ClusterState>(resilience::SteadyNow())),
      client_(std::move(client)),
      budget_(std::move(budget)),
      stats_(new EndpointStats[endpoints_.size() ? endpoints_.size() : 1]) {
  state_->breaker.SetLimits(resilience::PoolLimits::From(policy_));
  state_->outlier.SetConfig(OutlierConfigFor(policy_));
  for (const auto& e : endpoints_) keys_.push_back(e.address + ":" + std::to_string(e.port));
  if (policy_ && policy_->has_load_balancer() &&
      (policy_->load_balancer().policy() == pb::LoadBalancer::RING_HASH ||
       policy_->load_balancer().policy() == pb::LoadBalancer::MAGLEV)) {
    consistent_hash_ = &policy_->load_balancer().consistent_hash();
  }
  if (policy_ && policy_->connection_pool().connect_timeout_ms()) {
    connect_timeout_ms_ = policy_->connection_pool().connect_timeout_ms();
  }
  if (policy_ && protocol_ != UpstreamProtocol::kTcp) {
    const pb::ConnectionPool& cp = policy_->connection_pool();
    use_client_protocol_ = cp.use_client_protocol();
    if (!use_client_protocol_ && protocol_ == UpstreamProtocol::kHttp1 &&
        cp.h2_upgrade_policy() == pb::ConnectionPool::H2_UPGRADE_UPGRADE) {
      protocol_ = UpstreamProtocol::kHttp2;
      h2_upgraded_ = true;
    }
  }
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (!endpoints_[i].ready) unhealthy_.push_back(i);
  }
}

std::string_view Cluster::HealthOf(size_t i) const {
  if (std::binary_search(unhealthy_.begin(), unhealthy_.end(), i)) return "unready";
  if (state_->outlier.IsEjected(keys_[i])) return "ejected";
  return "healthy";
}

UpstreamProtocol Cluster::ProtocolFor(bool client_h2, bool upgrade) const {
  if (protocol_ == UpstreamProtocol::kTcp) return protocol_;
  if (use_client_protocol_) return client_h2 ? UpstreamProtocol::kHttp2 : UpstreamProtocol::kHttp1;
  if (h2_upgraded_ && upgrade) return UpstreamProtocol::kHttp1;
  return protocol_;
}

std::optional<size_t> Cluster::Pick(uint64_t hash, const std::vector<size_t>* exclude) {
  lb::PickContext ctx;
  ctx.hash = hash;
  if (client_) ctx.client = &*client_;
  std::vector<size_t> ejected;
  state_->outlier.AppendEjected(balancer_.targets(), ejected);
  std::vector<size_t> merged;
  if (!unhealthy_.empty() || !ejected.empty()) {
    merged = unhealthy_;
    merged.insert(merged.end(), ejected.begin(), ejected.end());
    if (exclude) merged.insert(merged.end(), exclude->begin(), exclude->end());
    ctx.exclude = &merged;
  } else {
    ctx.exclude = exclude;
  }
  std::optional<size_t> pick = balancer_.Pick(ctx);
  // Every endpoint not yet tried is out: a retry may go back to one tried before (Envoy's
  // previous-hosts predicate gives up after a few attempts the same way).
  if (!pick && exclude && !exclude->empty()) {
    merged = unhealthy_;
    merged.insert(merged.end(), ejected.begin(), ejected.end());
    ctx.exclude = merged.empty() ? nullptr : &merged;
    pick = balancer_.Pick(ctx);
  }
  return pick;
}

void Cluster::Started(size_t i) {
  balancer_.Started(i);
  stats_[i].requests.fetch_add(1, std::memory_order_relaxed);
  stats_[i].active.fetch_add(1, std::memory_order_relaxed);
}

void Cluster::Finished(size_t i) {
  balancer_.Finished(i);
  stats_[i].active.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace weft::waypoint
