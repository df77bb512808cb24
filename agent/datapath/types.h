#pragma once

// Plain values the data path's maps hold, in C++ terms: addresses, mesh destinations, original
// destinations, counters and map usage. No libbpf here, so users of MapWriter (the agent, its
// tests, weftctl) do not need it.

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::agent::datapath {

// An address as the maps store it: 16 bytes, network order; IPv4 as ::ffff:a.b.c.d.
struct IpAddr {
  std::array<uint8_t, 16> bytes{};

  static IpAddr FromV4(in_addr a);
  static IpAddr FromV6(const in6_addr& a);
  // "10.96.0.10", "fd00::a" or "::ffff:10.96.0.10".
  static absl::StatusOr<IpAddr> Parse(std::string_view text);
  // The address of an AF_INET or AF_INET6 sockaddr; InvalidArgument for another family.
  static absl::StatusOr<IpAddr> FromSockaddr(const sockaddr* sa, socklen_t len);

  bool is_v4() const;  // v4-mapped
  in_addr v4() const;  // meaningful when is_v4()
  // "10.96.0.10" for v4-mapped addresses, RFC 5952 text otherwise.
  std::string ToString() const;

  auto operator<=>(const IpAddr&) const = default;
};

// A key of weft_svc_v1: a Service VIP and port, or a workload IP (port 0 = every port).
struct ServiceKey {
  IpAddr addr;
  uint16_t port = 0;  // host byte order; 0 for a workload entry
  uint8_t proto = IPPROTO_TCP;

  auto operator<=>(const ServiceKey&) const = default;
  std::string ToString() const;  // "10.96.0.10:80/tcp", "[fd00::a]:80/tcp", "10.0.1.5:*/tcp"
};

enum class DestinationKind : uint32_t {
  kVip = 0x1,       // WEFT_SVC_F_VIP
  kWorkload = 0x2,  // WEFT_SVC_F_WORKLOAD
};

// One mesh destination: what the agent computes from a snapshot for weft_svc_v1.
struct ServiceEntry {
  ServiceKey key;
  uint32_t service_id = 0;  // the snapshot's id of the Service (or workload), for telemetry
  DestinationKind kind = DestinationKind::kVip;

  static ServiceEntry Vip(const IpAddr& addr, uint16_t port, uint32_t service_id);
  static ServiceEntry Workload(const IpAddr& addr, uint32_t workload_id);

  bool operator==(const ServiceEntry&) const = default;
};

// The destination an application asked for before connect4/6 sent it to the proxy.
struct OriginalDestination {
  IpAddr addr;
  uint16_t port = 0;  // host byte order
  uint32_t service_id = 0;
  DestinationKind kind = DestinationKind::kVip;

  // AF_INET for v4-mapped addresses, else AF_INET6; returns the length.
  socklen_t ToSockaddr(sockaddr_storage* out) const;
  std::string ToString() const;
  bool operator==(const OriginalDestination&) const = default;
};

// A netns in weft_netns_v1.
struct EnrolledNetns {
  uint64_t netns_cookie = 0;
  uint32_t flags = 0;  // WEFT_NETNS_F_*
  bool operator==(const EnrolledNetns&) const = default;
};

// An sk_lookup link pinned as links/netns-<cookie>.
struct InboundLink {
  uint64_t netns_cookie = 0;
  uint32_t link_id = 0;
  uint64_t netns_ino = 0;  // 0 once the netns is gone (the link is defunct)
};

// One per-CPU verdict counter, summed over CPUs. program: "connect", "sockops", "sk_msg",
// "sk_lookup"; verdict: the enum name without its prefix ("REDIRECTED", "STEERED").
struct CounterValue {
  std::string program;
  std::string verdict;
  uint64_t value = 0;
  bool operator==(const CounterValue&) const = default;
};

// How full one map is (weft_bpf_map_entries / weft_bpf_map_capacity).
struct MapUsageEntry {
  std::string map;
  uint32_t entries = 0;
  uint32_t capacity = 0;
};

// Decoded contents of one map, for `weftctl node bpf`: rows of named, printable fields.
struct MapTable {
  std::string map;
  std::string type;  // "hash", "sockhash", "percpu_array"
  uint32_t capacity = 0;
  std::vector<std::map<std::string, std::string>> rows;
};

struct BpfDump {
  std::string bpf_root;
  std::vector<MapTable> maps;
  std::vector<CounterValue> counters;
};

}  // namespace weft::agent::datapath
