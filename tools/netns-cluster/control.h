#pragma once

// Files next to the state file, and how the CLI finds and talks to a running supervisor:
//   state.json       the state (state.h)
//   supervisor.pid   the supervisor's pid; the supervisor holds a flock on it while it lives,
//                    so a stale file after a crash is recognised without trusting the pid
//   supervisor.log   the supervisor's own log
//   control.sock     one request line, one answer line ("ok ..." or "error ...")
//   logs/<ns>_<pod>.log, logs/agent-<node>.log
//   kube/, pods/, topology/, created-paths   Kubernetes mode (below)

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace weft::cluster {

struct StatePaths {
  std::string state;
  std::string dir;

  static StatePaths For(const std::string& state_path);
  std::string pidfile() const { return dir + "/supervisor.pid"; }
  std::string supervisor_log() const { return dir + "/supervisor.log"; }
  std::string control() const { return dir + "/control.sock"; }
  std::string logs() const { return dir + "/logs"; }
  std::string PodLog(const std::string& ns, const std::string& name) const {
    return logs() + "/" + ns + "_" + name + ".log";
  }
  std::string AgentLog(const std::string& node) const { return logs() + "/agent-" + node + ".log"; }
  // Kubernetes mode: the control plane's dir (certificates, etcd's data, the components' logs
  // and kubeconfigs), the pods' runtime dirs (<uid>/launch.json, <uid>/volumes/<name>), the
  // default topology (up --kubernetes without -f), and the mount points made on the host.
  std::string kube_dir() const { return dir + "/kube"; }
  std::string pods_dir() const { return dir + "/pods"; }
  std::string topology_dir() const { return dir + "/topology"; }
  std::string created_paths() const { return dir + "/created-paths"; }
};

// The pid of the live supervisor of this state, or 0.
pid_t LiveSupervisorPid(const StatePaths& paths);

// Sends one request line to the supervisor and returns its answer line ("ok ..." → the text
// after "ok"; "error ..." → an error status with that text).
absl::StatusOr<std::string> ControlRequest(const StatePaths& paths, const std::string& request,
                                           int timeout_ms = 15000);

}  // namespace weft::cluster
