#pragma once

// The processes the node stand-in starts in Kubernetes mode besides a pod's own command
// (docs/kubernetes.md), as internal subcommands of weft-cluster:
//
//   weft-cluster launch --spec FILE   a pod of weft's image: runs in the pod's netns and
//       container cgroup (where the supervisor started it), unshares a mount and a UTS
//       namespace, makes / a slave mount (so nothing it mounts reaches the host, and what the
//       host mounts later still shows), bind-mounts the build's bin/ read-only at
//       /usr/local/bin and each volume at its mountPath, sets the hostname, then runs the init
//       containers one by one (each in a mount namespace of its own, to completion) and execs
//       the main container: the pod's process *is* weft's binary.
//   weft-cluster pause                the pod's sandbox: sleeps until a signal ends it, so that
//       the pod's cgroup always holds a process in the pod's netns (what the agent looks for
//       in /proc), also while the workload restarts.

#include <string>

namespace weft::cluster {

int CmdLaunch(const std::string& spec_file);
int CmdPause();

}  // namespace weft::cluster
