#pragma once

// Endpoint selection for the node proxy: the DestinationRule load-balancing policies as Istio
// defines them (ROUND_ROBIN, LEAST_REQUEST, RANDOM, consistent hash by ring hash or Maglev),
// with subsets applied by the caller and locality preference applied here.
//
// A Balancer is built once per snapshot and cluster (hostname, subset, port) and shared by all
// proxy workers: its mutable state (round-robin cursor, active-request counts) is atomic.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace weft::lb {

struct Locality {
  std::string region;
  std::string zone;
  std::string subzone;
};

struct Target {
  std::string address;  // IP text
  uint32_t port = 0;
  Locality locality;
  uint32_t weight = 1;
};

enum class Policy { kRoundRobin, kLeastRequest, kRandom, kRingHash, kMaglev };

// Istio's localityLbSetting.distribute[]: a client whose locality matches `from` sends each
// `to` locality its weight (percent) of the traffic; localities no `to` matches get none.
// Localities are "region/zone/subzone"; a part may be "*", missing trailing parts match all.
struct LocalityDistribute {
  std::string from;
  std::vector<std::pair<std::string, uint32_t>> to;
};

// Istio's localityLbSetting.failover[]: with no healthy endpoint in the client's region
// (`from`), go to region `to` before any other.
struct LocalityFailover {
  std::string from;
  std::string to;
};

struct BalancerConfig {
  Policy policy = Policy::kLeastRequest;  // Istio's default
  // Priority tiers by locality (Istio's locality failover): the client's region+zone+subzone,
  // then region+zone, then region, then the `failover` regions in order, then anywhere; or,
  // with `failover_priority`, tiers by how many of those labels match. The first tier with an
  // endpoint left (not excluded) wins. Off: all endpoints are equal (`distribute` still applies).
  bool locality_aware = false;
  uint64_t ring_size = 1024;                     // ring hash: minimum entries
  uint64_t maglev_table = 65537;                 // Maglev: prime table size
  std::vector<LocalityDistribute> distribute{};  // the first rule whose `from` matches applies
  std::vector<LocalityFailover> failover{};
  // Istio's failoverPriority: label keys ("key", compared with the client's value) or
  // "key=value" (compared with the value). Supported keys: topology.kubernetes.io/region,
  // topology.kubernetes.io/zone, topology.istio.io/subzone; any other label counts as matching
  // (one cluster, one network: topology.istio.io/network and /cluster always match).
  std::vector<std::string> failover_priority{};
};

// Whether a locality matches a pattern "region[/zone[/subzone]]" ("*" matches any part; a
// missing zone or subzone matches any), as Istio's LocalityMatch.
bool LocalityMatches(const Locality& locality, std::string_view pattern);

// What a pick may depend on.
struct PickContext {
  uint64_t hash = 0;                 // consistent hash key (e.g. of the source IP)
  const Locality* client = nullptr;  // the client's locality, for locality preference
  // Indexes already tried for this connection (a failed connect): never picked again.
  const std::vector<size_t>* exclude = nullptr;
};

class Balancer {
 public:
  Balancer(std::vector<Target> targets, BalancerConfig config, uint64_t seed = 0);

  const std::vector<Target>& targets() const { return targets_; }
  const BalancerConfig& config() const { return config_; }

  // Index of the chosen target, or nullopt when none is left.
  std::optional<size_t> Pick(const PickContext& ctx);

  // Active-request accounting for LEAST_REQUEST (a connection counts while it is open).
  void Started(size_t index) { active_[index].fetch_add(1, std::memory_order_relaxed); }
  void Finished(size_t index) { active_[index].fetch_sub(1, std::memory_order_relaxed); }
  int Active(size_t index) const { return active_[index].load(std::memory_order_relaxed); }

  // The locality tier (priority) of a target for a client when locality_aware: lower is
  // preferred (what Envoy calls the priority level).
  uint32_t Tier(const Locality& client, const Locality& target) const;
  // Whether a `distribute` rule applies to the client (then weights, not tiers, choose).
  bool Distributes(const Locality& client) const;

 private:
  std::vector<size_t> Candidates(const PickContext& ctx);
  // `distribute`: the candidates of the locality chosen by weight; empty when no rule
  // applies or no weighted locality has a candidate.
  std::vector<size_t> Distribute(const LocalityDistribute& rule, const std::vector<size_t>& all,
                                 const PickContext& ctx);
  std::optional<size_t> PickHashed(const PickContext& ctx, const std::vector<size_t>& allowed);
  uint64_t Random();

  std::vector<Target> targets_;
  BalancerConfig config_;
  std::unique_ptr<std::atomic<int>[]> active_;
  std::atomic<uint64_t> cursor_{0};
  std::atomic<uint64_t> rng_state_;
  // Consistent hashing tables, built once.
  std::vector<std::pair<uint64_t, size_t>> ring_;  // sorted by hash
  std::vector<size_t> maglev_;                     // table -> target index
};

// 64-bit hash of bytes (FNV-1a then a finalizer): stable across runs and hosts, so every
// agent maps the same source to the same endpoint.
uint64_t StableHash(std::string_view bytes);

}  // namespace weft::lb
