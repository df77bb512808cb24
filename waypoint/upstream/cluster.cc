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

std::optional<size_t> Cluster::Pick(uint64_t hash, const std::vector<size_t>* tried,
                                    bool remote_localities) {
  lb::PickContext ctx;
  ctx.hash = hash;
  if (client_) ctx.client = &*client_;
  // Never picked: endpoints not ready, and ejected ones.
  std::vector<size_t> unavailable = unhealthy_;
  state_->outlier.AppendEjected(balancer_.targets(), unavailable);
  const bool retry = tried && !tried->empty();
  const auto& targets = balancer_.targets();
  std::vector<size_t> exclude;
  if (retry && client_ && balancer_.config().locality_aware && !balancer_.Distributes(*client_)) {
    // The tier: the best one with an endpoint available, leaving out (remote_localities) the
    // tiers of the attempts before the last update, unless that leaves none.
    auto is_unavailable = [&](size_t i) {
      return std::find(unavailable.begin(), unavailable.end(), i) != unavailable.end();
    };
    std::vector<uint32_t> left_out;
    if (remote_localities) {
      for (size_t k = 0; k < tried->size() / 2 * 2; ++k) {
        left_out.push_back(balancer_.Tier(*client_, targets[(*tried)[k]].locality));
      }
    }
    auto best_tier = [&](bool honour_left_out) {
      uint32_t best = UINT32_MAX;
      for (size_t i = 0; i < targets.size(); ++i) {
        if (is_unavailable(i)) continue;
        uint32_t t = balancer_.Tier(*client_, targets[i].locality);
        if (honour_left_out && std::find(left_out.begin(), left_out.end(), t) != left_out.end())
          continue;
        best = std::min(best, t);
      }
      return best;
    };
    uint32_t tier = best_tier(true);
    if (tier == UINT32_MAX) tier = best_tier(false);
    if (tier == UINT32_MAX) return std::nullopt;
    exclude = unavailable;
    for (size_t i = 0; i < targets.size(); ++i) {
      if (balancer_.Tier(*client_, targets[i].locality) != tier) exclude.push_back(i);
    }
    const size_t in_tier = exclude.size();
    exclude.insert(exclude.end(), tried->begin(), tried->end());
    ctx.exclude = &exclude;
    if (auto pick = balancer_.Pick(ctx)) return pick;
    // Every endpoint of the tier was tried: back to one of them.
    exclude.resize(in_tier);
    return balancer_.Pick(ctx);
  }
  exclude = unavailable;
  if (retry) exclude.insert(exclude.end(), tried->begin(), tried->end());
  ctx.exclude = exclude.empty() ? nullptr : &exclude;
  std::optional<size_t> pick = balancer_.Pick(ctx);
  // Every endpoint not yet tried is out: a retry may go back to one tried before (Envoy's
  // previous-hosts predicate gives up after a few attempts the same way).
  if (!pick && retry) {
    exclude = unavailable;
    ctx.exclude = exclude.empty() ? nullptr : &exclude;
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
