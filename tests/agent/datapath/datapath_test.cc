// Datapath with pinning, against a private bpffs directory and cgroup: pins, links that outlive
// the agent, adoption by the next agent (same links, same map contents, new programs),
// uninstall, the Reconciler on the real map, usage, counters, the decoded dump and bpftool's
// view of the pinned maps.

#include "agent/datapath/datapath.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "agent/datapath/dump_json.h"
#include "agent/datapath/reconciler.h"
#include "bpf/abi/inbound_steer.h"
#include "bpf/abi/sock_connect.h"
#include "bpf/abi/sock_ops.h"
#include "tests/bpf/pod_harness.h"
#include "tests/testing/command.h"

namespace weft::agent::datapath {
namespace {

using weft::testing::PodReport;
using weft::testing::RunCommand;

constexpr char kVip[] = "10.96.0.10";

IpAddr Ip(const char* text) {
  return *IpAddr::Parse(text);
}

// Programs attached to the cgroup for one attach type, as the kernel reports them.
uint32_t AttachedCount(const std::string& cgroup, bpf_attach_type type) {
  int fd = open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  uint32_t ids[8], count = 8;
  int rc = bpf_prog_query(fd, type, 0, nullptr, ids, &count);
  close(fd);
  return rc == 0 ? count : 999;
}

class DatapathTest : public weft::testing::BpfFixture {
 protected:
  void SetUp() override {
    BpfFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // bpffs refuses names with a dot.
    root_ = "/sys/fs/bpf/weft-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    if (!root_.empty()) (void)Datapath::UninstallPinned(root_);  // whatever a failure left
    BpfFixture::TearDown();
  }

  Settings MakeSettings() {
    Settings s;
    s.bpf_root = root_;
    s.cgroup_path = cgroup_dir_;
    s.max_services = 100;
    s.max_workloads = 28;
    s.max_pods = 16;
    s.max_connections = 64;
    return s;
  }

  std::unique_ptr<Datapath> OpenOrFail(const Settings& s) {
    auto dp = Datapath::Open(s);
    EXPECT_TRUE(dp.ok()) << dp.status();
    return dp.ok() ? *std::move(dp) : nullptr;
  }

  std::string root_;
};

// A pod that enrolls itself in its first phase (through the writer it inherited) and, in each
// later phase, connects to kVip:80 with a proxy listener up: v[phase] = 1 if the connection
// landed on the listener, 2 if it failed with ENETUNREACH (not captured), 3 otherwise.
std::vector<weft::testing::Pod::Phase> ConnectPhases(MapWriter& w, int n) {
  std::vector<weft::testing::Pod::Phase> phases = {[&w](PodReport& r) {
    if (!w.Enroll(r.netns_cookie, 0).ok()) weft::testing::Fail(r, "enroll");
  }};
  for (int i = 1; i <= n; ++i) {
    phases.push_back([i](PodReport& r) {
      int listener = weft::testing::Listen(r, "127.0.0.1", WEFT_OUTBOUND_PORT);
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in dst = weft::testing::Addr4(kVip, 80);
      int rc = connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));
      int err = rc == 0 ? 0 : errno;
      if (rc == 0 && weft::testing::AcceptWithin(listener, weft::testing::kIoTimeoutMs) >= 0) {
        r.v[i] = 1;
      } else {
        r.v[i] = err == ENETUNREACH ? 2 : 3;
      }
      close(fd);
      close(listener);
    });
  }
  return phases;
}

std::map<std::string, uint32_t> LinkIds(const Datapath& dp) {
  std::map<std::string, uint32_t> ids;
  for (const LinkStatus& l : dp.Links()) ids[l.name] = l.link_id;
  return ids;
}

uint64_t Counter(MapWriter& w, const std::string& program, const std::string& verdict) {
  auto counters = w.ReadCounters();  // kept: a range-for over *temporary would dangle
  EXPECT_TRUE(counters.ok()) << counters.status();
  for (const CounterValue& c : counters.value_or(std::vector<CounterValue>{})) {
    if (c.program == program && c.verdict == verdict) return c.value;
  }
  ADD_FAILURE() << "no counter " << program << "/" << verdict;
  return 0;
}

TEST_F(DatapathTest, PinsLinksThatOutliveTheAgentAndTheNextAgentAdoptsThem) {
  Settings settings = MakeSettings();
  auto first = OpenOrFail(settings);
  ASSERT_NE(first, nullptr);
  EXPECT_FALSE(first->adopted());
  ASSERT_TRUE(first->writer().UpsertService(ServiceEntry::Vip(Ip(kVip), 80, 7)).ok());
  std::map<std::string, uint32_t> first_links = LinkIds(*first);
  EXPECT_EQ(first_links.size(), 5u);  // connect4, connect6, sock_release, sockops, sk_msg
  for (const LinkStatus& l : first->Links()) {
    EXPECT_TRUE(l.pinned) << l.name;
    EXPECT_NE(l.link_id, 0u) << l.name;
  }

  weft::testing::Pod pod(cgroup_dir_, ConnectPhases(first->writer(), 3));
  for (const char* map : {"weft_netns_v1", "weft_svc_v1", "weft_odst_v1", "weft_conndst_v1",
                          "weft_socks_v1", "weft_inbound_v1", "weft_cnt_con_v1", "weft_cnt_ops_v1",
                          "weft_cnt_msg_v2", "weft_cnt_lkp_v1"}) {
    EXPECT_EQ(access((root_ + "/" + map).c_str(), F_OK), 0) << map << " not pinned";
  }
  for (const char* link :
       {"weft_connect4", "weft_connect6", "weft_sock_release", "weft_sockops", "weft_sk_msg"}) {
    EXPECT_EQ(access((root_ + "/links/" + link).c_str(), F_OK), 0) << link << " not pinned";
  }

  // The agent exits: capture goes on.
  ASSERT_TRUE(first->Close(/*unpin=*/false).ok());
  EXPECT_EQ(AttachedCount(cgroup_dir_, BPF_CGROUP_INET4_CONNECT), 1u);
  pod.Next();  // connect while no agent runs

  // The next agent adopts: same links (now running its programs), same map contents.
  auto second = OpenOrFail(settings);
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(second->adopted());
  EXPECT_EQ(LinkIds(*second), first_links);
  EXPECT_EQ(AttachedCount(cgroup_dir_, BPF_CGROUP_INET4_CONNECT), 1u) << "not attached twice";
  auto services = second->writer().ListServices();
  ASSERT_TRUE(services.ok());
  EXPECT_EQ(*services, std::vector<ServiceEntry>{ServiceEntry::Vip(Ip(kVip), 80, 7)});
  auto enrolled = second->writer().ListEnrolled();
  ASSERT_TRUE(enrolled.ok());
  EXPECT_EQ(enrolled->size(), 1u) << "the pod's enrollment survived";
  pod.Next();  // connect with the adopted data path
  EXPECT_EQ(Counter(second->writer(), "connect", "REDIRECTED"), 2u) << "counters survived too";

  // Uninstall: pins gone, programs detached, capture off.
  ASSERT_TRUE(second->Uninstall().ok());
  EXPECT_NE(access(root_.c_str(), F_OK), 0) << root_ << " still exists";
  for (bpf_attach_type t : {BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT,
                            BPF_CGROUP_INET_SOCK_RELEASE, BPF_CGROUP_SOCK_OPS}) {
    EXPECT_EQ(AttachedCount(cgroup_dir_, t), 0u) << "attach type " << t;
  }
  pod.Next();  // connect after uninstall

  PodReport r = pod.Finish();
  ASSERT_STREQ(r.error, "");
  EXPECT_EQ(r.v[1], 1) << "captured while no agent ran";
  EXPECT_EQ(r.v[2], 1) << "captured after adoption";
  EXPECT_EQ(r.v[3], 2) << "not captured after uninstall";
}

TEST_F(DatapathTest, AdoptedMapsKeepTheirCapacityAndAccelerationCanBeTurnedOff) {
  Settings settings = MakeSettings();
  {
    auto first = OpenOrFail(settings);
    ASSERT_NE(first, nullptr);
  }  // destructor: Close(false)
  EXPECT_EQ(access((root_ + "/links/weft_sk_msg").c_str(), F_OK), 0);
  settings.max_services = 1000;  // a different size does not recreate the pinned map
  settings.sockmap_accel = false;
  auto second = OpenOrFail(settings);
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(second->adopted());
  auto usage = second->writer().MapUsage();
  ASSERT_TRUE(usage.ok());
  for (const MapUsageEntry& u : *usage) {
    if (u.map == "weft_svc_v1") {
      EXPECT_EQ(u.capacity, 128u) << "kept the pinned map's capacity";
    }
  }
  EXPECT_NE(access((root_ + "/links/weft_sk_msg").c_str(), F_OK), 0) << "sk_msg link removed";
  EXPECT_EQ(LinkIds(*second).count("weft_sk_msg"), 0u);
  ASSERT_TRUE(second->Uninstall().ok());
}

TEST_F(DatapathTest, RejectsAPinnedLinkOfAnotherCgroup) {
  Settings settings = MakeSettings();
  ASSERT_NE(OpenOrFail(settings), nullptr);
  std::string other = cgroup_dir_ + ".other";
  ASSERT_EQ(mkdir(other.c_str(), 0755), 0);
  settings.cgroup_path = other;
  auto dp = Datapath::Open(settings);
  EXPECT_EQ(dp.status().code(), absl::StatusCode::kFailedPrecondition) << dp.status();
  rmdir(other.c_str());
}

TEST_F(DatapathTest, ReconcilerDiffsAgainstThePinnedMapAfterRestart) {
  Settings settings = MakeSettings();
  std::vector<ServiceEntry> desired = {
      ServiceEntry::Vip(Ip("10.96.0.10"), 80, 1), ServiceEntry::Vip(Ip("10.96.0.11"), 8080, 2),
      ServiceEntry::Vip(Ip("fd00::10"), 80, 3), ServiceEntry::Workload(Ip("10.0.1.5"), 100)};
  {
    auto dp = OpenOrFail(settings);
    ASSERT_NE(dp, nullptr);
    Reconciler r(&dp->writer());
    auto res = r.Apply(desired);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(*res, (Reconciler::Result{4, 0, 0}));
    res = r.Apply(desired);
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->writes(), 0u);
  }
  auto dp = OpenOrFail(settings);
  ASSERT_NE(dp, nullptr);
  Reconciler restarted(&dp->writer());
  desired.pop_back();
  auto res = restarted.Apply(desired);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(*res, (Reconciler::Result{0, 1, 3}));
  auto listed = dp->writer().ListServices();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 3u);
  auto usage = dp->writer().MapUsage();
  ASSERT_TRUE(usage.ok());
  bool seen = false;
  for (const MapUsageEntry& u : *usage) {
    if (u.map != "weft_svc_v1") continue;
    seen = true;
    EXPECT_EQ(u.entries, 3u);
    EXPECT_EQ(u.capacity, 128u);  // max_services + max_workloads
  }
  EXPECT_TRUE(seen);
  ASSERT_TRUE(dp->Uninstall().ok());
}

TEST_F(DatapathTest, BpftoolPrintsNamedFieldsOfPinnedMaps) {
  auto dp = OpenOrFail(MakeSettings());
  ASSERT_NE(dp, nullptr);
  ASSERT_TRUE(dp->writer().UpsertService(ServiceEntry::Vip(Ip(kVip), 80, 7)).ok());
  std::string out = RunCommand("bpftool -j map dump pinned " + root_ + "/weft_svc_v1 2>&1").out;
  auto json = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(json.is_array() && json.size() == 1) << out;
  const auto& f = json[0]["formatted"];
  ASSERT_TRUE(f.is_object()) << "no BTF-formatted entry: " << out;
  EXPECT_EQ(f["key"]["port"], htons(80)) << out;
  EXPECT_EQ(f["key"]["proto"], IPPROTO_TCP) << out;
  ASSERT_TRUE(f["key"]["addr"].is_array()) << out;
  EXPECT_EQ(f["key"]["addr"].size(), 16u);
  EXPECT_EQ(f["key"]["addr"][12], 10) << out;
  EXPECT_EQ(f["value"]["service_id"], 7) << out;
  EXPECT_EQ(f["value"]["flags"], WEFT_SVC_F_VIP) << out;
  // And `bpftool map show` prints the whole name: it fits the kernel's 15 characters.
  std::string show = RunCommand("bpftool map show pinned " + root_ + "/weft_conndst_v1 2>&1").out;
  EXPECT_NE(show.find("name weft_conndst_v1 "), std::string::npos) << show;
  ASSERT_TRUE(dp->Uninstall().ok());
}

TEST_F(DatapathTest, CountersDumpAndUsageNameEverything) {
  auto dp = OpenOrFail(MakeSettings());
  ASSERT_NE(dp, nullptr);
  MapWriter& w = dp->writer();
  ASSERT_TRUE(w.UpsertService(ServiceEntry::Workload(Ip("10.0.1.5"), 100)).ok());
  ASSERT_TRUE(w.Enroll(4242, WEFT_NETNS_F_NO_ACCEL).ok());

  auto counters = w.ReadCounters();
  ASSERT_TRUE(counters.ok());
  constexpr size_t kVerdicts = size_t{WEFT_SOCK_VERDICT_COUNT} + size_t{WEFT_OPS_VERDICT_COUNT} +
                               size_t{WEFT_MSG_VERDICT_COUNT} + size_t{WEFT_LOOKUP_VERDICT_COUNT};
  EXPECT_EQ(counters->size(), kVerdicts);
  std::set<std::string> names;
  for (const CounterValue& c : *counters) {
    names.insert(c.program + "/" + c.verdict);
    EXPECT_EQ(c.value, 0u);
  }
  EXPECT_EQ(names.size(), counters->size()) << "names are unique";
  for (const char* n : {"connect/REDIRECTED_WORKLOAD", "sockops/CONN_DST_RECORDED",
                        "sk_msg/REDIRECTED", "sk_lookup/STEERED"}) {
    EXPECT_EQ(names.count(n), 1u) << n;
  }

  auto dump = w.DumpMaps();
  ASSERT_TRUE(dump.ok()) << dump.status();
  nlohmann::json j = ToJson(*dump);
  bool svc = false, netns = false;
  for (const auto& m : j["maps"]) {
    if (m["map"] == "weft_svc_v1") {
      svc = true;
      ASSERT_EQ(m["rows"].size(), 1u) << m;
      EXPECT_EQ(m["rows"][0]["destination"], "10.0.1.5:*/tcp");
      EXPECT_EQ(m["rows"][0]["kind"], "workload");
      EXPECT_EQ(m["rows"][0]["id"], "100");
    }
    if (m["map"] == "weft_netns_v1") {
      netns = true;
      ASSERT_EQ(m["rows"].size(), 1u) << m;
      EXPECT_EQ(m["rows"][0]["netns_cookie"], "4242");
      EXPECT_EQ(m["rows"][0]["flags"], "1");
    }
  }
  EXPECT_TRUE(svc && netns) << j.dump(2);
  EXPECT_EQ(j["counters"].size(), counters->size());
  ASSERT_TRUE(w.Unenroll(4242).ok());
  EXPECT_TRUE(w.ListEnrolled()->empty());
  ASSERT_TRUE(dp->Uninstall().ok());
}

TEST_F(DatapathTest, InboundLinksArePinnedPerNetnsAndAdopted) {
  Settings settings = MakeSettings();
  auto first = OpenOrFail(settings);
  ASSERT_NE(first, nullptr);
  MapWriter& w = first->writer();
  // The pod attaches its own netns (through the inherited writer) and stays alive.
  weft::testing::Pod pod(cgroup_dir_, {[&w](PodReport& r) {
                                         int ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
                                         auto st = w.AttachInbound(ns, r.netns_cookie);
                                         if (!st.ok()) weft::testing::Fail(r, st.ToString());
                                         close(ns);
                                       },
                                       [](PodReport&) {}});
  // The child attached: the parent's writer did not see it, but the pin is there.
  DIR* d = opendir((root_ + "/links").c_str());
  ASSERT_NE(d, nullptr);
  std::string netns_pin;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name).rfind("netns-", 0) == 0) netns_pin = e->d_name;
  }
  closedir(d);
  ASSERT_FALSE(netns_pin.empty());
  ASSERT_TRUE(first->Close(false).ok());

  auto second = OpenOrFail(settings);
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(second->adopted());
  auto adopted = second->writer().ListInboundLinks();
  ASSERT_TRUE(adopted.ok());
  ASSERT_EQ(adopted->size(), 1u);
  EXPECT_EQ("netns-" + std::to_string((*adopted)[0].netns_cookie), netns_pin);
  EXPECT_NE((*adopted)[0].netns_ino, 0u);
  EXPECT_EQ(second->writer().AttachInbound(-1, (*adopted)[0].netns_cookie).code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(second->writer().DetachInbound((*adopted)[0].netns_cookie).ok());
  EXPECT_NE(access((root_ + "/links/" + netns_pin).c_str(), F_OK), 0);
  EXPECT_TRUE(second->writer().ListInboundLinks()->empty());
  PodReport r = pod.Finish();
  ASSERT_STREQ(r.error, "");
  ASSERT_TRUE(second->Uninstall().ok());
}

TEST_F(DatapathTest, LinksOfNetnsThatAreGoneAreUnpinnedOnAdoption) {
  Settings settings = MakeSettings();
  auto first = OpenOrFail(settings);
  ASSERT_NE(first, nullptr);
  MapWriter& w = first->writer();
  uint64_t cookie = 0;
  {
    weft::testing::Pod pod(cgroup_dir_, {[&w](PodReport& r) {
                             int ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
                             auto st = w.AttachInbound(ns, r.netns_cookie);
                             if (!st.ok()) weft::testing::Fail(r, st.ToString());
                             close(ns);
                           }});
    PodReport r = pod.Finish();  // the pod's netns dies with it
    ASSERT_STREQ(r.error, "");
    cookie = r.netns_cookie;
  }
  ASSERT_TRUE(first->Close(false).ok());
  std::string pin = root_ + "/links/netns-" + std::to_string(cookie);
  ASSERT_EQ(access(pin.c_str(), F_OK), 0);
  // The kernel detaches a netns's links when it tears the netns down, asynchronously.
  ASSERT_TRUE(weft::testing::WaitFor(
      [&] {
        int fd = bpf_obj_get(pin.c_str());
        bpf_link_info info{};
        uint32_t len = sizeof(info);
        bool gone =
            fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.netns.netns_ino == 0;
        if (fd >= 0) close(fd);
        return gone;
      },
      10000))
      << "netns link still attached";

  auto second = OpenOrFail(settings);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(access(pin.c_str(), F_OK), 0) << "defunct link still pinned";
  EXPECT_TRUE(second->writer().ListInboundLinks()->empty());
  ASSERT_TRUE(second->Uninstall().ok());
}

TEST(DatapathSettingsTest, RejectsBadSettingsBeforeLoadingAnything) {
  Settings s;
  s.cgroup_path = "";
  EXPECT_EQ(Datapath::Open(s).status().code(), absl::StatusCode::kInvalidArgument);
  s.cgroup_path = "/nonexistent";
  s.inbound_port = s.outbound_port;
  EXPECT_EQ(Datapath::Open(s).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weft::agent::datapath
