// The proxy's original-destination lookup over a MapWriter (agent/proxy/original_destination.h),
// shared by the in-process proxy and the proxy process: the client address becomes the
// sockaddr the map is keyed by, the entry comes back as the proxy's SocketAddress, and a
// missing entry or a bad address gives nothing.

#include "agent/proxy/original_destination.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

namespace weft::agent::proxy {
namespace {

using datapath::IpAddr;

// Answers TakeOriginalDestination from one entry and records what it was asked.
class FakeMapWriter final : public datapath::MapWriter {
 public:
  std::optional<datapath::OriginalDestination> entry;
  int calls = 0;
  uint64_t cookie = 0;
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  bool* destroyed = nullptr;
  ~FakeMapWriter() override {
    if (destroyed) *destroyed = true;
  }

  absl::StatusOr<datapath::OriginalDestination> TakeOriginalDestination(uint64_t netns_cookie,
                                                                        const sockaddr* sa,
                                                                        socklen_t len) override {
    ++calls;
    cookie = netns_cookie;
    std::memcpy(&peer, sa, len);
    peer_len = len;
    if (!entry) return absl::NotFoundError("no entry");
    auto out = *entry;
    entry.reset();  // taken
    return out;
  }
  absl::Status UpsertService(const datapath::ServiceEntry&) override { return absl::OkStatus(); }
  absl::Status DeleteService(const datapath::ServiceKey&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<datapath::ServiceEntry>> ListServices() override {
    return std::vector<datapath::ServiceEntry>{};
  }
  absl::Status Enroll(uint64_t, uint32_t) override { return absl::OkStatus(); }
  absl::Status Unenroll(uint64_t) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<datapath::EnrolledNetns>> ListEnrolled() override {
    return std::vector<datapath::EnrolledNetns>{};
  }
  absl::Status RegisterInboundListener(const IpAddr&, int) override { return absl::OkStatus(); }
  absl::Status UnregisterInboundListener(const IpAddr&) override { return absl::OkStatus(); }
  absl::Status AttachInbound(int, uint64_t) override { return absl::OkStatus(); }
  absl::Status DetachInbound(uint64_t) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<datapath::InboundLink>> ListInboundLinks() override {
    return std::vector<datapath::InboundLink>{};
  }
  absl::StatusOr<std::vector<datapath::CounterValue>> ReadCounters() override {
    return std::vector<datapath::CounterValue>{};
  }
  absl::StatusOr<std::vector<datapath::MapUsageEntry>> MapUsage() override {
    return std::vector<datapath::MapUsageEntry>{};
  }
  absl::StatusOr<datapath::BpfDump> DumpMaps() override { return datapath::BpfDump{}; }
};

datapath::OriginalDestination Dst(const char* ip, uint16_t port) {
  datapath::OriginalDestination d;
  d.addr = *IpAddr::Parse(ip);
  d.port = port;
  return d;
}

TEST(OriginalDestinationTest, Ipv4ClientIsAskedAsSockaddrInAndTakenOnce) {
  FakeMapWriter map;
  map.entry = Dst("10.96.0.10", 80);
  OriginalDestinationFn fn = OriginalDestinationFrom(map);
  auto d = fn(4242, SocketAddress{"127.0.0.1", 40000});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, (SocketAddress{"10.96.0.10", 80}));
  EXPECT_EQ(map.cookie, 4242u);
  ASSERT_EQ(map.peer_len, sizeof(sockaddr_in));
  const auto* sa = reinterpret_cast<const sockaddr_in*>(&map.peer);
  EXPECT_EQ(sa->sin_family, AF_INET);
  EXPECT_EQ(ntohs(sa->sin_port), 40000);
  EXPECT_EQ(ntohl(sa->sin_addr.s_addr), INADDR_LOOPBACK);
  // Taken: a second accept with the same client finds nothing.
  EXPECT_FALSE(fn(4242, SocketAddress{"127.0.0.1", 40000}).has_value());
}

TEST(OriginalDestinationTest, Ipv6ClientIsAskedAsSockaddrIn6) {
  FakeMapWriter map;
  map.entry = Dst("fd00::10", 8080);
  auto d = TakeOriginalDestination(map, 7, SocketAddress{"::1", 41000});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, (SocketAddress{"fd00::10", 8080}));
  ASSERT_EQ(map.peer_len, sizeof(sockaddr_in6));
  const auto* sa = reinterpret_cast<const sockaddr_in6*>(&map.peer);
  EXPECT_EQ(sa->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sa->sin6_port), 41000);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&sa->sin6_addr));
}

TEST(OriginalDestinationTest, BadClientAddressAsksNothing) {
  FakeMapWriter map;
  map.entry = Dst("10.96.0.10", 80);
  EXPECT_FALSE(TakeOriginalDestination(map, 1, SocketAddress{"not-an-ip", 1}).has_value());
  EXPECT_FALSE(TakeOriginalDestination(map, 1, SocketAddress{"fd00::zz", 1}).has_value());
  EXPECT_EQ(map.calls, 0);
}

TEST(OriginalDestinationTest, SharedWriterLivesAsLongAsTheFunction) {
  bool destroyed = false;
  OriginalDestinationFn fn;
  {
    auto map = std::make_shared<FakeMapWriter>();
    map->destroyed = &destroyed;
    map->entry = Dst("10.96.0.11", 443);
    fn = OriginalDestinationFrom(std::shared_ptr<datapath::MapWriter>(map));
  }
  EXPECT_FALSE(destroyed);
  EXPECT_EQ(fn(1, SocketAddress{"10.244.0.2", 50000}), (SocketAddress{"10.96.0.11", 443}));
  fn = nullptr;
  EXPECT_TRUE(destroyed);
}

}  // namespace
}  // namespace weft::agent::proxy
