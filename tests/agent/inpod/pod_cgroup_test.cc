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

TEST(FindPodNetnsPath, TheFirstProcessInThePodsCgroup) {
  char tmpl[] = "/tmp/weft-proc.XXXXXX";
  std::string proc = mkdtemp(tmpl);
  auto proc_with = [&](const std::string& pid, const std::string& cgroup) {
    std::filesystem::create_directories(proc + "/" + pid);
    std::ofstream(proc + "/" + pid + "/cgroup") << cgroup;
  };
  proc_with("1", "0::/init.scope\n");
  proc_with("self", "0::/pod0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f\n");  // not a pid: skipped
  proc_with("4242", "12:cpu:/x\n0::/weft/node1/pod0c3f6e9a-51b2-4d0e-9a55-7b1f3c2d4e5f\n");
  auto p = FindPodNetnsPath(proc, kUid);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, proc + "/4242/ns/net");
  EXPECT_EQ(FindPodNetnsPath(proc, "ffffffff-0000-0000-0000-000000000000").status().code(),
            absl::StatusCode::kNotFound);
  std::filesystem::remove_all(proc);
}

}  // namespace
}  // namespace weft::agent::inpod
