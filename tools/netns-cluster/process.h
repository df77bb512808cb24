#pragma once

// Starting a workload inside a netns and a cgroup, the way a container runtime would, and
// stopping it again.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::cluster {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH of `env`
  std::vector<std::string> env;   // the complete environment, "K=V"
  std::string netns;              // netns file to enter; empty = the caller's
  std::string cgroup;             // cgroup dir to join before exec; empty = the caller's
  std::string log;                // stdout and stderr are appended here
  std::string cwd = "/";
};

// Forks and execs in a new session (so the process group can be signalled as one). Fails
// with the reason when the child could not join the netns or cgroup or exec; the child never
// runs a command outside its netns or cgroup.
absl::StatusOr<pid_t> Spawn(const SpawnOptions& options);

// SIGTERM to the process group `pid` leads, then SIGKILL after `grace_ms`; reaps `pid`.
// Returns the wait status of `pid` (-1 if it was not our child).
int StopProcessGroup(pid_t pid, int grace_ms);

}  // namespace weft::cluster
