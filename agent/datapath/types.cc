#include "agent/datapath/types.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace weft::agent::datapath {

IpAddr IpAddr::FromV4(in_addr a) {
  IpAddr ip;
  ip.bytes[10] = 0xff;
  ip.bytes[11] = 0xff;
  memcpy(&ip.bytes[12], &a.s_addr, 4);
  return ip;
}

IpAddr IpAddr::FromV6(const in6_addr& a) {
  IpAddr ip;
  memcpy(ip.bytes.data(), a.s6_addr, 16);
  return ip;
}

absl::StatusOr<IpAddr> IpAddr::Parse(std::string_view text) {
  std::string s(text);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return FromV4(v4);
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) return FromV6(v6);
  return absl::InvalidArgumentError(absl::StrCat("not an IP address: \"", std::string(text), "\""));
}

absl::StatusOr<IpAddr> IpAddr::FromSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa != nullptr && sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    return FromV4(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
  }
  if (sa != nullptr && sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    return FromV6(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
  }
  return absl::InvalidArgumentError("not an AF_INET or AF_INET6 address");
}

bool IpAddr::is_v4() const {
  for (int i = 0; i < 10; ++i) {
    if (bytes[i] != 0) return false;
  }
  return bytes[10] == 0xff && bytes[11] == 0xff;
}

in_addr IpAddr::v4() const {
  in_addr a{};
  memcpy(&a.s_addr, &bytes[12], 4);
  return a;
}

std::string IpAddr::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    in_addr a = v4();
    inet_ntop(AF_INET, &a, text, sizeof(text));
  } else {
    in6_addr a{};
    memcpy(a.s6_addr, bytes.data(), 16);
    inet_ntop(AF_INET6, &a, text, sizeof(text));
  }
  return text;
}

namespace {
std::string HostPort(const IpAddr& addr, const std::string& port) {
  return addr.is_v4() ? absl::StrCat(addr.ToString(), ":", port)
                      : absl::StrCat("[", addr.ToString(), "]:", port);
}
}  // namespace

std::string ServiceKey::ToString() const {
  std::string_view proto_name = proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "";
  return absl::StrCat(HostPort(addr, port == 0 ? std::string("*") : absl::StrCat(port)), "/",
                      proto_name.empty() ? absl::StrCat(proto) : std::string(proto_name));
}

ServiceEntry ServiceEntry::Vip(const IpAddr& addr, uint16_t port, uint32_t service_id) {
  return ServiceEntry{ServiceKey{addr, port, IPPROTO_TCP}, service_id, DestinationKind::kVip};
}

ServiceEntry ServiceEntry::Workload(const IpAddr& addr, uint32_t workload_id) {
  return ServiceEntry{ServiceKey{addr, 0, IPPROTO_TCP}, workload_id, DestinationKind::kWorkload};
}

socklen_t OriginalDestination::ToSockaddr(sockaddr_storage* out) const {
  *out = {};
  if (addr.is_v4()) {
    auto* sa = reinterpret_cast<sockaddr_in*>(out);
    sa->sin_family = AF_INET;
    sa->sin_addr = addr.v4();
    sa->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* sa = reinterpret_cast<sockaddr_in6*>(out);
  sa->sin6_family = AF_INET6;
  memcpy(sa->sin6_addr.s6_addr, addr.bytes.data(), 16);
  sa->sin6_port = htons(port);
  return sizeof(sockaddr_in6);
}

std::string OriginalDestination::ToString() const {
  return HostPort(addr, absl::StrCat(port));
}

}  // namespace weft::agent::datapath
