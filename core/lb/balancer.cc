#include "core/lb/balancer.h"

#include <algorithm>

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
    uint64_t per_weight =
        std::max<uint64_t>(1, (config_.ring_size + total_weight - 1) / total_weight);
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

std::vector<size_t> Balancer::Candidates(const PickContext& ctx) const {
  auto excluded = [&](size_t i) {
    return ctx.exclude &&
           std::find(ctx.exclude->begin(), ctx.exclude->end(), i) != ctx.exclude->end();
  };
  std::vector<size_t> all;
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (!excluded(i)) all.push_back(i);
  }
  if (!config_.locality_aware || !ctx.client || all.empty()) return all;
  // Zone, then region, then anything: the first non-empty tier wins.
  const Locality& c = *ctx.client;
  std::vector<size_t> zone, region;
  for (size_t i : all) {
    const Locality& l = targets_[i].locality;
    if (!c.region.empty() && l.region == c.region) {
      region.push_back(i);
      if (l.zone == c.zone) zone.push_back(i);
    } else if (c.region.empty() && !c.zone.empty() && l.zone == c.zone) {
      zone.push_back(i);
    }
  }
  if (!zone.empty()) return zone;
  if (!region.empty()) return region;
  return all;
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
