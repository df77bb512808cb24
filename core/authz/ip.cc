#include "core/authz/ip.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace weft::authz {

namespace {

uint64_t Load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

bool IsV4Mapped(const uint8_t b[16]) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b, kPrefix, sizeof(kPrefix)) == 0;
}

}  // namespace

IpAddress IpAddress::V4(uint32_t host_order) {
  IpAddress a;
  a.family_ = Family::kV4;
  a.lo_ = host_order;
  return a;
}

IpAddress IpAddress::V6(const uint8_t bytes[16]) {
  if (IsV4Mapped(bytes)) {
    return V4(static_cast<uint32_t>(bytes[12]) << 24 | static_cast<uint32_t>(bytes[13]) << 16 |
              static_cast<uint32_t>(bytes[14]) << 8 | bytes[15]);
  }
  IpAddress a;
  a.family_ = Family::kV6;
  a.hi_ = Load64(bytes);
  a.lo_ = Load64(bytes + 8);
  return a;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; addresses are short.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (text.find(':') == std::string_view::npos) {
    in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) != 1) return std::nullopt;
    return V4(ntohl(a4.s_addr));
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, buf, &a6) != 1) return std::nullopt;
  return V6(a6.s6_addr);
}

std::optional<IpAddress> IpAddress::FromSockaddr(const sockaddr* sa) {
  if (!sa) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof(in));
    return V4(ntohl(in.sin_addr.s_addr));
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof(in6));
    return V6(in6.sin6_addr.s6_addr);
  }
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  if (family_ == Family::kV4) {
    in_addr a4;
    a4.s_addr = htonl(static_cast<uint32_t>(lo_));
    return inet_ntop(AF_INET, &a4, buf, sizeof(buf)) ? buf : "";
  }
  if (family_ == Family::kV6) {
    in6_addr a6;
    for (int i = 0; i < 8; ++i) {
      a6.s6_addr[i] = static_cast<uint8_t>(hi_ >> (56 - 8 * i));
      a6.s6_addr[8 + i] = static_cast<uint8_t>(lo_ >> (56 - 8 * i));
    }
    return inet_ntop(AF_INET6, &a6, buf, sizeof(buf)) ? buf : "";
  }
  return "";
}

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  size_t slash = text.find('/');
  auto ip = IpAddress::Parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  // An IPv4-mapped IPv6 block ("::ffff:10.0.0.0/104") would need its length rebased; Istio
  // users write IPv4 blocks as IPv4, so refuse it rather than guess.
  if (ip->is_v4() && text.substr(0, slash).find(':') != std::string_view::npos) {
    return std::nullopt;
  }
  const int max = ip->is_v4() ? 32 : 128;
  int len = max;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc() || end != digits.data() + digits.size() || len < 0 || len > max) {
      return std::nullopt;
    }
  }
  Cidr c;
  c.family_ = ip->family();
  c.prefix_ = static_cast<uint8_t>(len);
  // Bit position of the prefix within the 128-bit value (IPv4 sits in the low 32 bits).
  const int bits = ip->is_v4() ? 96 + len : len;
  auto mask = [](int n) -> uint64_t {  // the top n bits of 64
    return n <= 0 ? 0 : n >= 64 ? ~uint64_t{0} : ~uint64_t{0} << (64 - n);
  };
  c.mask_hi_ = ip->is_v4() ? 0 : mask(bits);
  c.mask_lo_ = mask(bits - 64);
  c.hi_ = ip->hi_ & c.mask_hi_;
  c.lo_ = ip->lo_ & c.mask_lo_;
  return c;
}

std::string Cidr::ToString() const {
  IpAddress a;
  a.family_ = family_;
  a.hi_ = hi_;
  a.lo_ = lo_;
  return a.ToString() + "/" + std::to_string(prefix_);
}

}  // namespace weft::authz
