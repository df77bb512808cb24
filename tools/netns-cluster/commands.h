#pragma once

// The subcommands of weft-cluster (tools/cluster). Each returns the process exit code.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/netns-cluster/control.h"
#include "tools/netns-cluster/naming.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster {

// Which cluster a command is about: --cluster, else $WEFT_CLUSTER, else the cluster named in
// the state file ($WEFT_CLUSTER_STATE or the cluster's default path), else the default one.
struct Context {
  Naming naming;
  StatePaths paths;
};
absl::StatusOr<Context> ResolveContext(const std::string& cluster_flag);

struct UpOptions {
  std::string dir;  // required unless kubernetes (then: the default topology)
  // The real control plane; the nodes act as kubelets, pods come from the API server
  // (docs/kubernetes.md). No agents, no CA: weft is installed with kubectl.
  bool kubernetes = false;
  bool no_agents = false;
  std::vector<std::string> agent_args;
  std::string agent_bin;  // default: weft-agent next to this binary
  std::vector<std::string> waypoint_args;
  std::string waypoint_bin;  // default: weft-waypoint next to this binary
  std::string underlay;  // default: 10.250.0.0/24, or a free 10.250.<k>.0/24 for a named cluster
};

int CmdUp(const Context& ctx, const UpOptions& o);
int CmdDown(const Context& ctx, bool keep_logs);
int CmdStatus(const Context& ctx, bool json);
int CmdExec(const Context& ctx, const std::string& pod, const std::vector<std::string>& command);
int CmdLogs(const Context& ctx, const std::string& pod, const std::string& agent_node,
            bool supervisor, bool follow);
int CmdRestartAgent(const Context& ctx, const std::string& node);
int CmdReload(const Context& ctx);
int CmdKubeconfig(const Context& ctx);
int CmdSupervise(const std::string& state_path, int ready_fd);

// "ns/name" or "name" (namespace default).
bool ParsePodRef(const std::string& ref, std::string& ns, std::string& name);
int Fail(const std::string& message);  // prints "error: message" to stderr, returns 1
bool RequireRoot(const char* what);

}  // namespace weft::cluster
