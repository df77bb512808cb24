#include "core/lb/balancer.h"

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <tuple>

namespace weft::lb {

uint64_t StableHash(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // splitmix64 finalizer: FNV alone clusters on similar inputs such as IP addresses.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

namespace {

bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

}  // namespace

Balancer::Balancer(std::vector<Target> targets, BalancerConfig config, uint64_t seed)
    : targets_(std::move(targets)),
      config_(config),
      active_(new std::atomic<int>[targets_.size() ? targets_.size() : 1]),
      rng_state_(seed ? seed : 0x9e3779b97f4a7c15ull) {
  for (size_t i = 0; i < targets_.size(); ++i) active_[i].store(0);
  if (targets_.empty()) return;
  if (config_.policy == Policy::kRingHash) {
    // Each target gets ring entries in proportion to its weight (ketama style).
    uint64_t total_weight = 0;
    for (const auto& t : targets_) total_weight += std::max<uint32_t>(t.weight, 1);
    // Entries per unit of weight. A target's points must not depend on the other targets:
    // then, when one comes or goes, only its own keys move. (With ring_size / total_weight,
    // removing one of ten targets gave each of the others new points and moved 17 % of the
    // keys instead of 10 %: tests/core/lb/hash_stability_test.cc.) So each unit of weight
    // gets ring_size points, as long as the ring stays under kMaxRingEntries; past that
    // (many targets or large weights) the points per weight shrink, by powers of two so
    // that they rarely change.
    constexpr uint64_t kMaxRingEntries = 1 << 16;
    uint64_t per_weight = std::max<uint64_t>(config_.ring_size, 1);
    if (per_weight * total_weight > kMaxRingEntries) {
      uint64_t minimum = (config_.ring_size + total_weight - 1) / total_weight;
      per_weight = std::max(std::bit_floor(std::max<uint64_t>(kMaxRingEntries / total_weight, 1)),
                            std::bit_ceil(std::max<uint64_t>(minimum, 1)));
    }
    for (size_t i = 0; i < targets_.size(); ++i) {
      std::string base = targets_[i].address + ":" + std::to_string(targets_[i].port) + "_";
      uint64_t n = per_weight * std::max<uint32_t>(targets_[i].weight, 1);
      for (uint64_t k = 0; k < n; ++k) ring_.push_back({StableHash(base + std::to_string(k)), i});
    }
    std::sort(ring_.begin(), ring_.end());
  } else if (config_.policy == Policy::kMaglev) {
    uint64_t m = config_.maglev_table;
    while (!IsPrime(m)) ++m;
    size_t n = targets_.size();
    std::vector<uint64_t> offset(n), skip(n), next(n, 0);
    for (size_t i = 0; i < n; ++i) {
      std::string name = targets_[i].address + ":" + std::to_string(targets_[i].port);
      offset[i] = StableHash(name + "#offset") % m;
      skip[i] = StableHash(name + "#skip") % (m - 1) + 1;
    }
    maglev_.assign(m, SIZE_MAX);
    uint64_t filled = 0;
    while (filled < m) {
      for (size_t i = 0; i < n && filled < m; ++i) {
        // Weighted Maglev: a target claims `weight` slots per round.
        for (uint32_t w = 0; w < std::max<uint32_t>(targets_[i].weight, 1) && filled < m; ++w) {
          uint64_t c = (offset[i] + next[i] * skip[i]) % m;
          while (maglev_[c] != SIZE_MAX) {
            ++next[i];
            c = (offset[i] + next[i] * skip[i]) % m;
          }
          maglev_[c] = i;
          ++next[i];
          ++filled;
        }
      }
    }
  }
}

uint64_t Balancer::Random() {
  // xorshift64* on an atomic state: cheap, and good enough to spread load.
  uint64_t x = rng_state_.load(std::memory_order_relaxed), y;
  do {
    y = x;
    y ^= y >> 12;
    y ^= y << 25;
    y ^= y >> 27;
  } while (!rng_state_.compare_exchange_weak(x, y, std::memory_order_relaxed));
  return y * 0x2545F4914F6CDD1Dull;
}

std::vector<size_t> Balancer::Candidates(const PickContext& ctx) {
  auto excluded = [&](size_t i) {
    return ctx.exclude &&
           std::find(ctx.exclude->begin(), ctx.exclude->end(), i) != ctx.exclude->end();
  };
  std::vector<size_t> all;
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (!excluded(i)) all.push_back(i);
  }
  if (!ctx.client || all.empty()) return all;
  const Locality& c = *ctx.client;
  for (const auto& rule : config_.distribute) {
    if (!LocalityMatches(c, rule.from)) continue;
    auto chosen = Distribute(rule, all, ctx);
    if (!chosen.empty()) return chosen;
    break;  // the weighted localities have nothing left: fall through to the tiers
  }
  if (!config_.locality_aware) return all;
  // Priority tiers: the first non-empty one wins.
  std::vector<size_t> best;
  uint32_t best_tier = UINT32_MAX;
  for (size_t i : all) {
    uint32_t t = Tier(c, targets_[i].locality);
    if (t < best_tier) {
      best_tier = t;
      best.clear();
    }
    if (t == best_tier) best.push_back(i);
  }
  return best;
}

namespace {

// The parts of "region/zone/subzone" (missing parts empty).
std::array<std::string_view, 3> SplitLocality(std::string_view s) {
  std::array<std::string_view, 3> parts;
  for (size_t k = 0; k < 3; ++k) {
    size_t slash = s.find('/');
    parts[k] = s.substr(0, slash);
    if (slash == std::string_view::npos) break;
    s.remove_prefix(slash + 1);
  }
  return parts;
}

// More specific patterns first: fewer wildcard or missing parts.
int Specificity(std::string_view pattern) {
  int n = 0;
  for (auto p : SplitLocality(pattern)) n += !p.empty() && p != "*";
  return n;
}

// One failoverPriority label: whether the target matches (the client's value for "key", the
// given value for "key=value"). Unsupported keys always match.
bool LabelMatches(std::string_view label, const Locality& client, const Locality& target) {
  std::string_view key = label.substr(0, label.find('='));
  std::optional<std::string_view> value;
  if (key.size() < label.size()) value = label.substr(key.size() + 1);
  const std::string* c = nullptr;
  const std::string* t = nullptr;
  if (key == "topology.kubernetes.io/region") {
    c = &client.region, t = &target.region;
  } else if (key == "topology.kubernetes.io/zone") {
    c = &client.zone, t = &target.zone;
  } else if (key == "topology.istio.io/subzone") {
    c = &client.subzone, t = &target.subzone;
  } else {
    return true;
  }
  return value ? *t == *value : *t == *c;
}

}  // namespace

bool LocalityMatches(const Locality& l, std::string_view pattern) {
  auto [region, zone, subzone] = SplitLocality(pattern);
  return (region == "*" || l.region == region) && (zone == "*" || zone.empty() || l.zone == zone) &&
         (subzone == "*" || subzone.empty() || l.subzone == subzone);
}

bool Balancer::Distributes(const Locality& client) const {
  for (const auto& rule : config_.distribute) {
    if (LocalityMatches(client, rule.from)) return true;
  }
  return false;
}

uint32_t Balancer::Tier(const Locality& c, const Locality& t) const {
  // Failover regions for this client, in order; other regions come after them.
  uint32_t region_rank = 0;
  if (t.region != c.region) {
    region_rank = 1;
    for (const auto& f : config_.failover) {
      if (!LocalityMatches(c, f.from)) continue;
      if (LocalityMatches(t, f.to)) break;
      ++region_rank;
    }
  }
  if (!config_.failover_priority.empty()) {
    // Istio: all N labels match -> P0, the first N-1 -> P1, ..., none -> PN; a label counts
    // only when the ones before it match. `failover` orders regions within a tier.
    uint32_t matched = 0;
    for (const auto& label : config_.failover_priority) {
      if (!LabelMatches(label, c, t)) break;
      ++matched;
    }
    uint32_t n = static_cast<uint32_t>(config_.failover_priority.size());
    uint32_t within = config_.failover.empty() ? 0 : std::min<uint32_t>(region_rank, 1023);
    return (n - matched) * 1024 + within;
  }
  if (region_rank == 0) {
    if (t.zone != c.zone) return 2;
    return t.subzone == c.subzone ? 0 : 1;
  }
  return 2 + region_rank;  // 3: the first failover region (or any other region)
}

std::vector<size_t> Balancer::Distribute(const LocalityDistribute& rule,
                                         const std::vector<size_t>& all, const PickContext& ctx) {
  // As Istio: each candidate's locality goes to the first `to` pattern that matches it (most
  // specific first); a pattern's weight is shared among its localities in proportion to their
  // endpoints' weights. Localities no pattern matches get nothing.
  std::vector<const std::pair<std::string, uint32_t>*> to;
  for (const auto& t : rule.to) to.push_back(&t);
  std::stable_sort(to.begin(), to.end(),
                   [](auto* a, auto* b) { return Specificity(a->first) > Specificity(b->first); });
  std::vector<int> entry(all.size(), -1);
  std::vector<double> entry_weight(to.size(), 0);
  for (size_t k = 0; k < all.size(); ++k) {
    const Target& t = targets_[all[k]];
    for (size_t e = 0; e < to.size(); ++e) {
      if (LocalityMatches(t.locality, to[e]->first)) {
        entry[k] = static_cast<int>(e);
        entry_weight[e] += std::max<uint32_t>(t.weight, 1);
        break;
      }
    }
  }
  // Weight of each locality with a candidate, in a stable order.
  std::map<std::tuple<std::string, std::string, std::string>, double> localities;
  for (size_t k = 0; k < all.size(); ++k) {
    if (entry[k] < 0 || to[entry[k]]->second == 0) continue;
    const Target& t = targets_[all[k]];
    localities[{t.locality.region, t.locality.zone, t.locality.subzone}] +=
        to[entry[k]]->second * static_cast<double>(std::max<uint32_t>(t.weight, 1)) /
        entry_weight[entry[k]];
  }
  double total = 0;
  for (auto& [l, w] : localities) total += w;
  if (total <= 0) return {};
  // Consistent hashing keeps a key in one locality; other policies draw at random.
  bool hashed = config_.policy == Policy::kRingHash || config_.policy == Policy::kMaglev;
  uint64_t draw = hashed ? StableHash(std::to_string(ctx.hash) + "#locality") : Random();
  double x = static_cast<double>(draw >> 11) / static_cast<double>(1ull << 53) * total;
  const std::tuple<std::string, std::string, std::string>* chosen = nullptr;
  for (auto& [l, w] : localities) {
    chosen = &l;
    if (x < w) break;
    x -= w;
  }
  std::vector<size_t> out;
  for (size_t i : all) {
    const Locality& l = targets_[i].locality;
    if (std::tie(l.region, l.zone, l.subzone) == *chosen) out.push_back(i);
  }
  return out;
}

std::optional<size_t> Balancer::PickHashed(const PickContext& ctx,
                                           const std::vector<size_t>& allowed) {
  auto ok = [&](size_t i) { return std::find(allowed.begin(), allowed.end(), i) != allowed.end(); };
  if (config_.policy == Policy::kRingHash) {
    auto it = std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(ctx.hash, size_t{0}));
    for (size_t step = 0; step < ring_.size(); ++step, ++it) {
      if (it == ring_.end()) it = ring_.begin();
      if (ok(it->second)) return it->second;
    }
    return std::nullopt;
  }
  // Maglev: probe forward from the key's slot until an allowed target.
  size_t m = maglev_.size();
  for (size_t step = 0, c = ctx.hash % m; step < m; ++step, c = (c + 1) % m) {
    if (ok(maglev_[c])) return maglev_[c];
  }
  return std::nullopt;
}

std::optional<size_t> Balancer::Pick(const PickContext& ctx) {
  std::vector<size_t> cand = Candidates(ctx);
  if (cand.empty()) return std::nullopt;
  switch (config_.policy) {
    case Policy::kRoundRobin: {
      uint64_t n = cursor_.fetch_add(1, std::memory_order_relaxed);
      return cand[n % cand.size()];
    }
    case Policy::kRandom:
      return cand[Random() % cand.size()];
    case Policy::kLeastRequest: {
      if (cand.size() == 1) return cand[0];
      // Power of two choices: two distinct random candidates, the less busy wins.
      size_t a = Random() % cand.size();
      size_t b = Random() % (cand.size() - 1);
      if (b >= a) ++b;
      size_t ia = cand[a], ib = cand[b];
      return Active(ib) < Active(ia) ? ib : ia;
    }
    case Policy::kRingHash:
    case Policy::kMaglev:
      return PickHashed(ctx, cand);
  }
  return std::nullopt;
}

}  // namespace weft::lb
