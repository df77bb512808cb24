#pragma once

// IPv4 addresses and prefixes, as the netns cluster allocates them (underlay, pod CIDRs, pod
// IPs). Host byte order throughout.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::cluster {

std::optional<uint32_t> ParseIpv4(std::string_view s);
std::string FormatIpv4(uint32_t ip);

struct Cidr {
  uint32_t network = 0;  // host bits are always zero.
  int len = 0;

  // "a.b.c.d/len"; host bits set in the address are an error (as Kubernetes' podCIDR).
  static std::optional<Cidr> Parse(std::string_view s);

  uint32_t mask() const { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }
  uint32_t broadcast() const { return network | ~mask(); }
  uint64_t size() const { return uint64_t{1} << (32 - len); }
  bool Contains(uint32_t ip) const { return (ip & mask()) == network; }
  bool Overlaps(const Cidr& o) const { return Contains(o.network) || o.Contains(network); }
  // The n-th address of the prefix (n = 1 is the first host address).
  uint32_t At(uint64_t n) const { return network + static_cast<uint32_t>(n); }
  // True for an address a host may use: inside, not the network or broadcast address.
  bool IsHost(uint32_t ip) const {
    return Contains(ip) && (len >= 31 || (ip != network && ip != broadcast()));
  }
  std::string ToString() const;
  bool operator==(const Cidr&) const = default;
};

}  // namespace weft::cluster
