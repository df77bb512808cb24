#include "tools/netns-cluster/ipv4.h"

#include <arpa/inet.h>

namespace weft::cluster {

std::optional<uint32_t> ParseIpv4(std::string_view s) {
  std::string str(s);
  in_addr a{};
  if (inet_pton(AF_INET, str.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string FormatIpv4(uint32_t ip) {
  in_addr a{htonl(ip)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::optional<Cidr> Cidr::Parse(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = ParseIpv4(s.substr(0, slash));
  auto len_text = s.substr(slash + 1);
  if (!ip || len_text.empty() || len_text.size() > 2) return std::nullopt;
  int len = 0;
  for (char c : len_text) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + (c - '0');
  }
  if (len > 32) return std::nullopt;
  Cidr c{*ip, len};
  if ((*ip & c.mask()) != *ip) return std::nullopt;
  return c;
}

std::string Cidr::ToString() const {
  return FormatIpv4(network) + "/" + std::to_string(len);
}

}  // namespace weft::cluster
