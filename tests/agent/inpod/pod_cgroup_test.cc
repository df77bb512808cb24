#include "agent/inpod/pod_cgroup.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace weft::agent::inpod {
namespace {

constexpr char kUid[] = "0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f";

TEST(CgroupPathIsPod, KubeletDriversAndTheNodeStandIn) {
  // cgroupfs driver
  EXPECT_TRUE(
      CgroupPathIsPod("/kubepods/burstable/pod0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f/4b1e0f", kUid));
  // systemd driver: '-' in the uid become '_'
  EXPECT_TRUE(CgroupPathIsPod(
      "/kubepods.slice/kubepods-besteffort.slice/"
      "kubepods-besteffort-pod0c3f6e9a_51b2_4d0e_9a55_7b1f3c2d4e5f.slice/cri-containerd-ab.scope",
      kUid));
  // tools/cluster's node stand-in, the pod's own directory
  EXPECT_TRUE(CgroupPathIsPod("/weft/node1/pod0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f", kUid));
  // Not a prefix of another uid, not another pod, not without a uid.
  EXPECT_FALSE(CgroupPathIsPod("/kubepods/pod0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f0/x", kUid));
  EXPECT_FALSE(CgroupPathIsPod("/kubepods/pod11111111-51b2-4d0e-9a55-7b1f3c2d4e5f", kUid));
  EXPECT_FALSE(CgroupPathIsPod("/kubepods/pod", ""));
}

TEST(FindPodNetnsPath, TheFirstProcessInThePodsCgroupOutsideTheHostsNetns) {
  char tmpl[] = "/tmp/weft-proc.XXXXXX";
  std::string proc = mkdtemp(tmpl);
  // Each fake process's ns/net is a file of its own (its own inode: its own netns), or a
  // link to another's (the same netns).
  auto proc_with = [&](const std::string& pid, const std::string& cgroup,
                       const std::string& netns_of = "") {
    std::filesystem::create_directories(proc + "/" + pid + "/ns");
    std::ofstream(proc + "/" + pid + "/cgroup") << cgroup;
    if (netns_of.empty()) {
      std::ofstream(proc + "/" + pid + "/ns/net") << pid;
    } else {
      std::filesystem::create_symlink(proc + "/" + netns_of + "/ns/net",
                                      proc + "/" + pid + "/ns/net");
    }
  };
  proc_with("1", "0::/init.scope\n");                                  // the host's netns
  proc_with("self", "0::/pod0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f\n");  // not a pid: skipped
  // An exec that joined the pod's cgroup while still in the host's netns: never the pod's.
  proc_with("3000", "0::/weft/node1/pod0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f\n", "1");
  proc_with("4242", "12:cpu:/x\n0::/weft/node1/pod0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f\n");
  auto p = FindPodNetnsPath(proc, kUid);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, proc + "/4242/ns/net");
  EXPECT_EQ(FindPodNetnsPath(proc, "ffffffff-0000-0000-0000-000000000000").status().code(),
            absl::StatusCode::kNotFound);
  // A pod whose only process is in the host's netns: not found, and said so.
  proc_with("5000", "0::/weft/node1/pod22222222-51b2-4d0e-9a55-7b1f3c2d4e5f\n", "1");
  auto host_only = FindPodNetnsPath(proc, "22222222-51b2-4d0e-9a55-7b1f3c2d4e5f");
  EXPECT_EQ(host_only.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(host_only.status().message().find("host's network namespace"), std::string::npos)
      << host_only.status();
  std::filesystem::remove_all(proc);
}

TEST(FindPodNetnsPath, KthreaddsNetnsWhenInitsIsUnreadable) {
  char tmpl[] = "/tmp/weft-proc.XXXXXX";
  std::string proc = mkdtemp(tmpl);
  auto proc_with = [&](const std::string& pid, const std::string& cgroup,
                       const std::string& netns_of = "") {
    std::filesystem::create_directories(proc + "/" + pid + "/ns");
    std::ofstream(proc + "/" + pid + "/cgroup") << cgroup;
    if (netns_of.empty()) {
      std::ofstream(proc + "/" + pid + "/ns/net") << pid;
    } else {
      std::filesystem::create_symlink(proc + "/" + netns_of + "/ns/net",
                                      proc + "/" + pid + "/ns/net");
    }
  };
  std::filesystem::create_directories(proc + "/1");  // init: its ns/net cannot be read
  proc_with("2", "0::/\n");
  proc_with("3000", "0::/weft/node1/pod0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f\n", "2");
  proc_with("4242", "0::/weft/node1/pod0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f\n");
  auto p = FindPodNetnsPath(proc, kUid);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, proc + "/4242/ns/net");
  std::filesystem::remove_all(proc);
}

}  // namespace
}  // namespace weft::agent::inpod
