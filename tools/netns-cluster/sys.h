#pragma once

// The host-facing helpers of the netns cluster: running `ip`, files, /proc, cgroups, netns.
// Everything that touches the system goes through here or network.h, so the rest reads as
// plain logic.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::cluster::sys {

// Runs argv[0] (absolute path) with stdin from /dev/null, capturing stdout; fails with the
// command line and its stderr when it exits non-zero or runs longer than `timeout_ms`.
absl::StatusOr<std::string> Run(const std::vector<std::string>& argv, int timeout_ms = 30000);

// The `ip` binary of iproute2 (searched in the usual sbin dirs, then PATH).
const std::string& IpBin();
// Run({IpBin(), args...}).
absl::Status Ip(const std::vector<std::string>& args);

// The cgroup2 mount point from /proc/mounts (/sys/fs/cgroup when it is cgroup2, else the
// first cgroup2 mount, e.g. /sys/fs/cgroup/unified on hybrid hosts).
absl::StatusOr<std::string> Cgroup2Mount();

int64_t MonotonicMs();
int64_t WallMs();
std::string Rfc3339Now();

bool Exists(const std::string& path);
absl::StatusOr<std::string> ReadFile(const std::string& path);
absl::Status WriteFile(const std::string& path, const std::string& text);   // no O_CREAT
absl::Status AppendFile(const std::string& path, const std::string& text);  // creates
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);
// The directory of the running executable (/proc/self/exe).
std::string SelfDir();

// Names in /run/netns.
std::vector<std::string> ListNetns();
// Processes whose network namespace is the one bind-mounted at `netns_path`.
std::vector<pid_t> PidsInNetns(const std::string& netns_path);
// Processes of a cgroup and all cgroups below it.
std::vector<pid_t> PidsInCgroupTree(const std::string& dir);
// SIGKILLs every process of the cgroup tree (cgroup.kill where the kernel has it).
void KillCgroupTree(const std::string& dir);
// Removes a cgroup tree bottom-up, retrying while killed processes finish exiting.
absl::Status RemoveCgroupTree(const std::string& dir, int timeout_ms = 5000);
// Removes a directory tree (used for per-node bpffs pin dirs).
absl::Status RemoveTree(const std::string& path);
bool ProcessAlive(pid_t pid);
// SIGKILL each, then wait (bounded) until none is alive.
void KillAndWait(const std::vector<pid_t>& pids, int timeout_ms = 3000);

// Interface names of the calling network namespace (/sys/class/net).
std::vector<std::string> ListLinks();
// IPv4 addresses configured on the calling namespace's interfaces.
std::vector<uint32_t> LocalIpv4Addresses();

// Moves the calling process into the netns at `netns_path` (setns).
absl::Status EnterNetns(const std::string& netns_path);
// Moves the calling process into the cgroup dir (cgroup.procs).
absl::Status JoinCgroup(const std::string& dir);
// Writes net sysctls (paths below /proc/sys; "?path" = skip if absent) inside a netns, from a
// short-lived child.
absl::Status WriteSysctlsInNetns(const std::string& netns_path,
                                 const std::vector<std::pair<std::string, std::string>>& values);

// "exit 3" / "signal 9" for a wait status.
std::string DescribeWaitStatus(int status);
// The environment of this process with `overrides` ("K=V") replacing or adding entries.
std::vector<std::string> EnvWith(const std::vector<std::string>& overrides);
// Resets the signal mask and dispositions (for a child about to exec).
void ResetSignals();

}  // namespace weft::cluster::sys
