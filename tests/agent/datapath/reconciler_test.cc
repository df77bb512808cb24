// Reconciler against an in-memory MapWriter: only the difference is written, a restarted
// reconciler diffs against what the map holds, bad input writes nothing, and a failed write
// is retried by the next Apply.

#include "agent/datapath/reconciler.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace weft::agent::datapath {
namespace {

class FakeMapWriter final : public MapWriter {
 public:
  std::map<ServiceKey, ServiceEntry> services;
  int upserts = 0, deletes = 0;
  int fail_upserts_after = -1;  // >= 0: that many upserts succeed, then ResourceExhausted

  absl::Status UpsertService(const ServiceEntry& e) override {
    if (fail_upserts_after >= 0 && upserts >= fail_upserts_after) {
      return absl::ResourceExhaustedError("full");
    }
    ++upserts;
    services[e.key] = e;
    return absl::OkStatus();
  }
  absl::Status DeleteService(const ServiceKey& k) override {
    ++deletes;
    services.erase(k);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<ServiceEntry>> ListServices() override {
    std::vector<ServiceEntry> out;
    for (const auto& [k, e] : services) out.push_back(e);
    return out;
  }
  absl::Status Enroll(uint64_t, uint32_t) override { return absl::OkStatus(); }
  absl::Status Unenroll(uint64_t) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<EnrolledNetns>> ListEnrolled() override {
    return std::vector<EnrolledNetns>{};
  }
  absl::Status RegisterInboundListener(const IpAddr&, int) override { return absl::OkStatus(); }
  absl::Status UnregisterInboundListener(const IpAddr&) override { return absl::OkStatus(); }
  absl::Status AttachInbound(int, uint64_t) override { return absl::OkStatus(); }
  absl::Status DetachInbound(uint64_t) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<InboundLink>> ListInboundLinks() override {
    return std::vector<InboundLink>{};
  }
  absl::StatusOr<OriginalDestination> TakeOriginalDestination(uint64_t, const sockaddr*,
                                                              socklen_t) override {
    return absl::NotFoundError("fake");
  }
  absl::StatusOr<std::vector<CounterValue>> ReadCounters() override {
    return std::vector<CounterValue>{};
  }
  absl::StatusOr<std::vector<MapUsageEntry>> MapUsage() override {
    return std::vector<MapUsageEntry>{};
  }
  absl::StatusOr<BpfDump> DumpMaps() override { return BpfDump{}; }
};

IpAddr Ip(const char* text) {
  return *IpAddr::Parse(text);
}

std::vector<ServiceEntry> Desired() {
  return {ServiceEntry::Vip(Ip("10.96.0.10"), 80, 1), ServiceEntry::Vip(Ip("10.96.0.10"), 443, 1),
          ServiceEntry::Vip(Ip("fd00::10"), 80, 2), ServiceEntry::Workload(Ip("10.0.1.5"), 100)};
}

TEST(ReconcilerTest, FirstApplyWritesEverythingSecondWritesNothing) {
  FakeMapWriter map;
  Reconciler r(&map);
  auto first = r.Apply(Desired());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, (Reconciler::Result{4, 0, 0}));
  auto second = r.Apply(Desired());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, (Reconciler::Result{0, 0, 4}));
  EXPECT_EQ(second->writes(), 0u);
  EXPECT_EQ(map.upserts, 4);
  EXPECT_EQ(map.deletes, 0);
}

TEST(ReconcilerTest, WritesOnlyChangedAddedAndRemovedKeys) {
  FakeMapWriter map;
  Reconciler r(&map);
  ASSERT_TRUE(r.Apply(Desired()).ok());
  std::vector<ServiceEntry> next = Desired();
  next[1].service_id = 9;                                       // changed value
  next.erase(next.begin() + 2);                                 // removed
  next.push_back(ServiceEntry::Workload(Ip("10.0.1.6"), 101));  // added
  auto res = r.Apply(next);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(*res, (Reconciler::Result{2, 1, 2}));
  EXPECT_EQ(map.services.size(), 4u);
  EXPECT_EQ(map.services.at(next[1].key).service_id, 9u);
  EXPECT_EQ(map.services.count(Desired()[2].key), 0u);
}

TEST(ReconcilerTest, RestartedReconcilerDiffsAgainstTheMap) {
  FakeMapWriter map;
  ASSERT_TRUE(Reconciler(&map).Apply(Desired()).ok());
  // A stale entry left by the previous agent, and the same desired set.
  map.services[ServiceKey{Ip("10.96.9.9"), 80, IPPROTO_TCP}] =
      ServiceEntry::Vip(Ip("10.96.9.9"), 80, 77);
  map.upserts = 0;
  Reconciler restarted(&map);
  auto res = restarted.Apply(Desired());
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(*res, (Reconciler::Result{0, 1, 4}));
  EXPECT_EQ(map.upserts, 0);
}

TEST(ReconcilerTest, ConflictingDesiredEntriesWriteNothing) {
  FakeMapWriter map;
  Reconciler r(&map);
  std::vector<ServiceEntry> bad = Desired();
  bad.push_back(ServiceEntry::Vip(Ip("10.96.0.10"), 80, 5));  // same key as [0], other id
  auto res = r.Apply(bad);
  EXPECT_EQ(res.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(res.status().message().find("10.96.0.10:80/tcp"), std::string::npos) << res.status();
  EXPECT_EQ(map.upserts, 0);
  // The same entry twice is not a conflict.
  std::vector<ServiceEntry> dup = Desired();
  dup.push_back(dup[0]);
  auto ok = r.Apply(dup);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->upserts, 4u);
}

TEST(ReconcilerTest, FailedWriteIsRetriedByTheNextApply) {
  FakeMapWriter map;
  map.fail_upserts_after = 2;
  Reconciler r(&map);
  auto res = r.Apply(Desired());
  EXPECT_EQ(res.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.view().size(), 2u) << "the view holds what was written";
  map.fail_upserts_after = -1;
  auto retry = r.Apply(Desired());
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(*retry, (Reconciler::Result{2, 0, 2}));
}

TEST(TypesTest, AddressesAndKeysPrint) {
  EXPECT_EQ(Ip("10.96.0.10").ToString(), "10.96.0.10");
  EXPECT_TRUE(Ip("10.96.0.10").is_v4());
  EXPECT_EQ(Ip("::ffff:10.96.0.10"), Ip("10.96.0.10"));
  EXPECT_FALSE(Ip("fd00::a").is_v4());
  EXPECT_EQ(Ip("fd00::a").ToString(), "fd00::a");
  EXPECT_FALSE(IpAddr::Parse("10.96.0").ok());
  EXPECT_EQ(ServiceEntry::Vip(Ip("10.96.0.10"), 80, 1).key.ToString(), "10.96.0.10:80/tcp");
  EXPECT_EQ(ServiceEntry::Vip(Ip("fd00::a"), 80, 1).key.ToString(), "[fd00::a]:80/tcp");
  EXPECT_EQ(ServiceEntry::Workload(Ip("10.0.1.5"), 1).key.ToString(), "10.0.1.5:*/tcp");
  OriginalDestination d{Ip("10.96.0.10"), 80, 1, DestinationKind::kVip};
  sockaddr_storage ss;
  EXPECT_EQ(d.ToSockaddr(&ss), sizeof(sockaddr_in));
  EXPECT_EQ(ss.ss_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in&>(ss).sin_port), 80);
}

}  // namespace
}  // namespace weft::agent::datapath
