#pragma once

// Compact IPv4/IPv6 addresses and CIDR blocks for the connection path: 17 bytes of state, no
// allocation, a prefix match is two masked 64-bit compares. IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d, as a dual-stack socket reports an IPv4 peer) are normalised to IPv4, so an
// IPv4 block matches them; otherwise an IPv4 block never matches an IPv6 address and vice versa.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;

namespace weft::authz {

class IpAddress {
 public:
  enum class Family : uint8_t { kNone = 0, kV4 = 4, kV6 = 6 };

  // The unset address: matches no block.
  IpAddress() = default;

  // Dotted quad or RFC 4291 text ("10.1.2.3", "fd00::1", "::ffff:10.1.2.3"); no brackets,
  // ports or zone ids.
  static std::optional<IpAddress> Parse(std::string_view text);
  // From a socket address (AF_INET or AF_INET6); nullopt for any other family.
  static std::optional<IpAddress> FromSockaddr(const sockaddr* sa);
  // host_order: e.g. 0x0a000001 for 10.0.0.1.
  static IpAddress V4(uint32_t host_order);
  static IpAddress V6(const uint8_t bytes[16]);

  Family family() const { return family_; }
  bool valid() const { return family_ != Family::kNone; }
  bool is_v4() const { return family_ == Family::kV4; }
  std::string ToString() const;

  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.family_ == b.family_ && a.hi_ == b.hi_ && a.lo_ == b.lo_;
  }

 private:
  friend class Cidr;
  // The address as 128 bits, network order split in two halves; IPv4 in the low 32 bits of lo_.
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
  Family family_ = Family::kNone;
};

class Cidr {
 public:
  // "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128). Host bits are cleared
  // ("10.1.2.3/8" is 10.0.0.0/8), as Go's netip.Prefix.Masked and ztunnel's IpNet match.
  static std::optional<Cidr> Parse(std::string_view text);

  bool Contains(const IpAddress& ip) const {
    return ip.family_ == family_ && (ip.hi_ & mask_hi_) == hi_ && (ip.lo_ & mask_lo_) == lo_;
  }
  IpAddress::Family family() const { return family_; }
  int prefix_length() const { return prefix_; }
  std::string ToString() const;

 private:
  uint64_t hi_ = 0, lo_ = 0;
  uint64_t mask_hi_ = 0, mask_lo_ = 0;
  IpAddress::Family family_ = IpAddress::Family::kNone;
  uint8_t prefix_ = 0;
};

}  // namespace weft::authz
