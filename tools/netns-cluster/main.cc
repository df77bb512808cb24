// weft-cluster (run it as tools/cluster): a cluster of network namespaces made from
// Kubernetes YAML, for local mode, the end-to-end tests and the benchmark. docs/local-mode.md
// is the guide.

#include <CLI/CLI.hpp>
#include <iostream>

#include "tools/netns-cluster/commands.h"
#include "tools/netns-cluster/launch.h"

namespace {

using namespace weft::cluster;

constexpr char kDescription[] =
    R"(weft-cluster: a Kubernetes-shaped cluster of network namespaces on one host.

Each Node in DIR becomes a netns joined to the host bridge weft-br0 (the underlay,
10.250.0.0/24, host .1); each Pod a netns + cgroup v2 + veth on its node's bridge, running
its weft.dev/run annotation; one weft-agent per node in local mode; a weft-waypoint pod per
waypoint Gateway. A supervisor daemon watches DIR and applies changes live. Guide:
docs/local-mode.md.

With `up --kubernetes`, the real Kubernetes control plane runs on the bridge's host address,
the nodes register as Nodes and act as kubelets for the pods the scheduler binds to them
(no agents: install weft with kubectl). Guide: docs/kubernetes.md)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "tools/cluster"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string cluster;
  app.add_option("--cluster", cluster,
                 "Name of a separate cluster (1-5 of a-z0-9; default: $WEFT_CLUSTER or the "
                 "default cluster). Its objects are named weft-NAME-*; its state is "
                 "/run/weft/cluster-NAME/state.json unless $WEFT_CLUSTER_STATE is set");

  UpOptions up;
  auto* c_up = app.add_subcommand("up",
                                  "Make the cluster described by the YAML in DIR and "
                                  "start its supervisor");
  c_up->add_option("-f,--filename", up.dir,
                   "Directory of Kubernetes YAML (Nodes, Pods, Gateways, ...); with "
                   "--kubernetes only its Nodes, and optional (default: node1, node2)");
  c_up->add_flag("--kubernetes", up.kubernetes,
                 "Run the real control plane (etcd, kube-apiserver, controller manager, "
                 "scheduler) and let each node act as its kubelet: pods come from the API "
                 "server (docs/kubernetes.md)");
  c_up->add_flag("--no-agents", up.no_agents, "Do not start weft-agent on the nodes");
  c_up->add_option("--agent-arg", up.agent_args,
                   "Extra argument for every agent (repeatable; write --agent-arg=--flag=value)")
      ->allow_extra_args(false);
  c_up->add_option("--agent-bin", up.agent_bin,
                   "The agent binary (default: weft-agent next to weft-cluster)");
  c_up->add_option("--waypoint-bin", up.waypoint_bin,
                   "The waypoints' binary (default: weft-waypoint next to weft-cluster)");
  c_up->add_option("--waypoint-arg", up.waypoint_args,
                   "Extra argument for every waypoint (repeatable; write --waypoint-arg=--flag=v)")
      ->allow_extra_args(false);
  c_up->add_option("--underlay", up.underlay,
                   "IPv4 network of the underlay bridge (default 10.250.0.0/24; a named "
                   "cluster picks a free 10.250.K.0/24)");

  bool keep_logs = false;
  auto* c_down = app.add_subcommand(
      "down", "Remove everything the cluster made (also after a crash); idempotent");
  c_down->add_flag("--keep-logs", keep_logs, "Keep the pod, agent and supervisor logs");

  bool json = false;
  auto* c_status = app.add_subcommand("status", "Nodes, pods, processes and agents");
  c_status->add_flag("--json", json, "The state file, plus supervisor_running");

  std::string pod;
  std::vector<std::string> command;
  auto* c_exec = app.add_subcommand(
      "exec", "Run a command inside a pod's netns and cgroup: exec NS/POD -- CMD [ARGS...]");
  c_exec->add_option("pod", pod, "NAMESPACE/POD (or POD in namespace default)")->required();
  c_exec->add_option("command", command, "The command and its arguments (after --)")->required();
  c_exec->prefix_command();

  std::string logs_pod, logs_agent;
  bool logs_supervisor = false, follow = false;
  auto* c_logs = app.add_subcommand("logs",
                                    "Print a pod's output (or an agent's, or the "
                                    "supervisor's log)");
  c_logs->add_option("pod", logs_pod, "NAMESPACE/POD");
  c_logs->add_option("--agent", logs_agent, "The agent log of this node instead");
  c_logs->add_flag("--supervisor", logs_supervisor, "The supervisor's log instead");
  c_logs->add_flag("-f,--follow", follow, "Keep printing what is appended (until Ctrl-C)");

  std::string node;
  auto* c_restart = app.add_subcommand(
      "restart-agent", "Kill a node's agent with SIGKILL and start it again at once");
  c_restart->add_option("node", node, "Node name")->required();

  auto* c_reload = app.add_subcommand(
      "reload", "Read DIR now (the supervisor also does on every inotify event)");

  auto* c_kubeconfig = app.add_subcommand(
      "kubeconfig", "Print the path of the admin kubeconfig (a cluster made with --kubernetes)");

  std::string launch_spec;
  auto* c_launch = app.add_subcommand(
      "launch", "(internal) Run a pod of weft's image from its launch spec (Kubernetes mode)");
  c_launch->add_option("--spec", launch_spec, "The launch spec")->required();
  c_launch->group("");
  auto* c_pause = app.add_subcommand("pause", "(internal) A pod's sandbox process: sleeps");
  c_pause->group("");

  std::string state_path;
  int ready_fd = -1;
  auto* c_supervise =
      app.add_subcommand("supervise", "(internal) The supervisor daemon; `up` starts it detached");
  c_supervise->add_option("--state", state_path, "State file written by up")->required();
  c_supervise->add_option("--ready-fd", ready_fd, "Progress pipe to up");
  c_supervise->group("");

  CLI11_PARSE(app, argc, argv);

  if (c_supervise->parsed()) return CmdSupervise(state_path, ready_fd);
  if (c_launch->parsed()) return CmdLaunch(launch_spec);
  if (c_pause->parsed()) return CmdPause();
  auto ctx = ResolveContext(cluster);
  if (!ctx.ok()) return Fail(std::string(ctx.status().message()));
  if (c_up->parsed()) return CmdUp(*ctx, up);
  if (c_down->parsed()) return CmdDown(*ctx, keep_logs);
  if (c_status->parsed()) return CmdStatus(*ctx, json);
  if (c_exec->parsed()) {
    if (!command.empty() && command.front() == "--") command.erase(command.begin());
    return CmdExec(*ctx, pod, command);
  }
  if (c_logs->parsed()) {
    int picked = !logs_pod.empty() + !logs_agent.empty() + logs_supervisor;
    if (picked != 1) return Fail("logs: give one of NS/POD, --agent NODE, --supervisor");
    return CmdLogs(*ctx, logs_pod, logs_agent, logs_supervisor, follow);
  }
  if (c_restart->parsed()) return CmdRestartAgent(*ctx, node);
  if (c_reload->parsed()) return CmdReload(*ctx);
  if (c_kubeconfig->parsed()) return CmdKubeconfig(*ctx);
  return 1;
}
