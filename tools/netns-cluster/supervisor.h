#pragma once

// The supervisor daemon (`weft-cluster supervise`, started detached by `up`): it makes the
// nodes and pods of DIR, owns their processes and the agents (restarting them with backoff),
// watches DIR with inotify and applies every change live, and keeps the state file current.
// It never deletes the bridge or anything on exit: `down` does, from the state file, so that
// a crash of the supervisor loses nothing.

#include <sys/types.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/netns-cluster/control.h"
#include "tools/netns-cluster/desired.h"
#include "tools/netns-cluster/kubelet.h"
#include "tools/netns-cluster/naming.h"
#include "tools/netns-cluster/plan.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster {

class Supervisor {
 public:
  // `state_path`: the state `up` wrote (settings, no objects yet). `ready_fd`: progress lines
  // for `up`, then "READY" or "FAILED <reason>"; -1 for none.
  static absl::StatusOr<std::unique_ptr<Supervisor>> Create(const std::string& state_path,
                                                            int ready_fd);
  ~Supervisor();

  // Runs until SIGTERM/SIGINT. Returns the process exit code.
  int Run();

 private:
  struct Runtime {
    pid_t pid = 0;
    int64_t started_mono = 0;
    int consecutive = 0;     // quick exits in a row, for the backoff
    int64_t restart_at = 0;  // monotonic ms; 0 = none scheduled
    int64_t kill_at = 0;     // a terminating pod's SIGKILL (monotonic ms); 0 = none
    bool preparing = false;  // Kubernetes mode: its volumes are being made
  };

  Supervisor() = default;
  absl::Status Init(const std::string& state_path, int ready_fd);

  void Say(const std::string& line);  // to `up` (while starting) and the log
  // Reads DIR and applies it; false if some node or pod could not be made.
  bool Reload(bool initial);

  // ---- Kubernetes mode (docs/kubernetes.md): the node stand-in ----
  // DIR's Nodes plus the API's Pods of those nodes, applied; false as Reload.
  bool SyncKube();
  // The reflector's pods and the volume preparations that finished.
  void HandleKube();
  // Each pod's status, patched when it changed.
  void ReportKube();
  // The pod is deleted in the API: SIGTERM now, SIGKILL after its grace period.
  void BeginTermination(PodState& pod, int grace_seconds);
  // Its processes are gone: remove it, then delete the API object.
  void FinishTermination(const std::string& key);
  void EnsureSandbox(PodState& pod);
  void KillSandbox(PodState& pod);
  k8s::LaunchContext LaunchContextFor(const PodState& pod) const;
  std::vector<std::string> KubeEnv() const;  // KUBERNETES_SERVICE_HOST/PORT for run pods
  // Waits (bounded) until every node reported Ready once.
  void WaitNodesReady();
  // Makes the world match `plan`; returns false if a node or pod could not be made.
  bool Apply(const Plan& plan);
  void RemovePod(const PodState& pod);
  void RemoveNode(const NodeState& node);
  void UpdateRoutes(const std::vector<std::string>& gone);

  void StartPod(PodState& pod);
  void StartAgent(NodeState& node);
  // The CA: root at the first start, then `weft-agent ca` in the host netns (restarted like
  // an agent; its runtime entry is agent_rt_[kCaKey]).
  void SetUpCa();
  void StartCa();
  bool CaEnabled() const;
  void StopPod(PodState& pod);
  void StopAgent(NodeState& node, bool hard);
  void Reap();
  void RunDueTimers();
  void OnExit(pid_t pid, int status);
  void StopEverything();

  void WatchDir();
  void HandleInotify();
  void HandleControl();
  std::string Command(const std::string& request);

  PodState* FindPod(const std::string& key);
  NodeState* FindNode(const std::string& name);
  void SaveState();

  Naming naming_ = *Naming::For("");
  StatePaths paths_;
  State state_;
  Desired last_desired_;
  std::map<std::string, Runtime> pod_rt_;                   // by pod key
  std::map<std::string, Runtime> agent_rt_;                 // by node name
  std::map<pid_t, std::pair<bool, std::string>> children_;  // pid -> (is agent, key)
  bool agent_missing_reported_ = false;
  int ready_fd_ = -1;
  int pid_fd_ = -1, epoll_fd_ = -1, signal_fd_ = -1, inotify_fd_ = -1, control_fd_ = -1;
  std::map<int, std::string> watches_;  // inotify wd -> dir
  int64_t reload_at_ = 0;               // monotonic ms; 0 = none
  bool dirty_ = false;
  bool stop_ = false;
  std::vector<std::string> last_errors_;
  std::string self_exe_;  // this binary: `launch` and `pause` for Kubernetes pods

  // Kubernetes mode.
  std::unique_ptr<Kubelets> kube_;
  std::map<std::string, nlohmann::json> api_pods_;  // ns/name → Pod bound to a node of ours
  std::map<std::string, DesiredPod> kube_desired_;  // what SyncKube made of them
  std::map<std::string, nlohmann::json> reported_;  // ns/name → the last status patch sent
  std::set<std::string> deleting_;                  // uids whose API DELETE was sent
  std::map<pid_t, std::string> sandboxes_;          // sandbox pid → pod key
  std::vector<std::string> kube_errors_;            // about API pods (cannot run here)
};

}  // namespace weft::cluster
