// `status`, `exec`, `logs`, `restart-agent`, `reload`: working with a running cluster.

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <fcntl.h>
#include <sched.h>

#include "tools/netns-cluster/commands.h"
#include "tools/netns-cluster/kube_pods.h"
#include "tools/netns-cluster/network.h"
#include "tools/netns-cluster/sys.h"

namespace weft::cluster {

namespace {

absl::StatusOr<State> LoadOrExplain(const Context& ctx) {
  auto st = ReadState(ctx.paths.state);
  if (absl::IsNotFound(st.status())) {
    return absl::NotFoundError(
        "no cluster is up" +
        (ctx.naming.cluster().empty() ? std::string()
                                      : " with the name \"" + ctx.naming.cluster() + "\"") +
        " (no state file " + ctx.paths.state + "); start one with `tools/cluster up -f DIR`");
  }
  return st;
}

// A table whose columns are as wide as their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const {
    std::vector<size_t> w;
    for (const auto& r : rows_) {
      for (size_t i = 0; i < r.size(); ++i) {
        if (w.size() <= i) w.push_back(0);
        w[i] = std::max(w[i], r[i].size());
      }
    }
    for (const auto& r : rows_) {
      std::string line;
      for (size_t i = 0; i < r.size(); ++i) {
        line += r[i];
        if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
      }
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string DescribeProcess(const ProcessState& p, bool supervised) {
  if (p.state == "running") {
    bool alive = sys::ProcessAlive(p.pid);
    if (!alive) return supervised ? "restarting" : "gone (pid " + std::to_string(p.pid) + ")";
    return "running (pid " + std::to_string(p.pid) + ")";
  }
  if (p.state == "backoff") return "restarting (last: " + p.last_exit + ")";
  if (p.state == "none") return "no command";
  if (p.state == "waiting") {
    return "waiting for its volumes" + (p.last_exit.empty() ? "" : " (" + p.last_exit + ")");
  }
  if (p.state == "succeeded" || p.state == "failed") return p.state + " (" + p.last_exit + ")";
  if (p.state == "terminating") return "terminating (pid " + std::to_string(p.pid) + ")";
  return p.state;
}

std::vector<std::string> PodEnv(const State& st, const PodState& p) {
  const char* path = getenv("PATH");
  std::vector<std::string> env{"PATH=" + st.bin_dir + ":" + (path ? path : "/usr/bin:/bin"),
                               "WEFT_BIN=" + st.bin_dir,
                               "WEFT_POD_NAME=" + p.name,
                               "WEFT_POD_NAMESPACE=" + p.ns,
                               "WEFT_POD_IP=" + p.ip,
                               "WEFT_NODE_NAME=" + p.node};
  if (st.kubernetes && !p.uid.empty()) {
    std::string port = std::to_string(st.api_port);
    env.insert(env.end(),
               {"KUBERNETES_SERVICE_HOST=" + st.host_ip, "KUBERNETES_SERVICE_PORT=" + port,
                "KUBERNETES_SERVICE_PORT_HTTPS=" + port,
                "KUBERNETES_PORT=tcp://" + st.host_ip + ":" + port});
  }
  return sys::EnvWith(env);
}

// Enters the namespace `type` of `pid` (mnt, uts); false when it could not.
bool EnterNs(pid_t pid, const char* type, int nstype) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/" + type;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = setns(fd, nstype) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool ParsePodRef(const std::string& ref, std::string& ns, std::string& name) {
  auto slash = ref.find('/');
  if (slash == std::string::npos) {
    ns = "default";
    name = ref;
  } else {
    ns = ref.substr(0, slash);
    name = ref.substr(slash + 1);
  }
  return IsValidObjectName(ns) && IsValidObjectName(name);
}

int CmdStatus(const Context& ctx, bool json) {
  auto st = LoadOrExplain(ctx);
  if (!st.ok()) return Fail(std::string(st.status().message()));
  pid_t sup = LiveSupervisorPid(ctx.paths);
  if (json) {
    auto j = nlohmann::json::parse(ToJson(*st));
    j["supervisor_running"] = sup != 0;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "cluster     " << (st->cluster.empty() ? "(default)" : st->cluster) << "   state "
            << ctx.paths.state << "\n";
  if (sup != 0) {
    std::cout << "supervisor  running (pid " << sup << "), watching " << st->dir << "\n";
  } else {
    std::cout << "supervisor  NOT RUNNING: processes are not restarted and DIR is not watched;"
              << " `tools/cluster down` removes what is left\n";
  }
  std::cout << "underlay    " << st->bridge << " " << st->underlay << ", host " << st->host_ip
            << "\n";
  if (st->kubernetes) {
    std::cout << "kubernetes  API server " << st->api_server()
              << ", etcd 127.0.0.1:" << st->etcd_port << "\n            kubeconfig "
              << st->admin_kubeconfig() << " (tools/cluster kubeconfig)\n";
  }
  if (!st->ca_address.empty()) {
    std::cout << "ca          " << st->ca_address << " (" << st->trust_domain << "), "
              << DescribeProcess(st->ca, sup != 0) << ", restarts " << st->ca.restarts << ", root "
              << st->ca_dir << "\n";
  }
  std::cout << "\n";
  Table nodes({"NODE", "NETNS", "UNDERLAY IP", "POD CIDR", "GATEWAY", "AGENT", "RESTARTS"});
  for (const auto& n : st->nodes) {
    nodes.Add({n.name, n.netns, n.underlay_ip, n.pod_cidr + (n.pod_cidr_assigned ? "" : " (spec)"),
               n.bridge_ip, DescribeProcess(n.agent, sup != 0), std::to_string(n.agent.restarts)});
  }
  nodes.Print(std::cout);
  std::cout << "\n";
  Table pods({"POD", "NODE", "IP", "PROCESS", "RESTARTS", "NETNS"});
  for (const auto& p : st->pods) {
    std::string tags = p.gateway.empty() ? "" : " (waypoint)";
    if (p.host_network) tags += " (hostNetwork)";
    if (p.workload == k8s::kWorkloadImage) tags += " (" + p.container + ": " + p.image + ")";
    if (p.workload == k8s::kWorkloadPlaceholder) tags += " (placeholder)";
    if (p.probed && !p.probe_ready && p.process.state == "running") tags += " (not ready)";
    pods.Add({p.key() + tags, p.node, p.ip, DescribeProcess(p.process, sup != 0),
              std::to_string(p.process.restarts), p.netns});
  }
  pods.Print(std::cout);
  if (!st->errors.empty() || !st->warnings.empty()) {
    std::cout << "\nproblems in " << st->dir << ":\n";
    for (const auto& e : st->errors) std::cout << "  " << e << "\n";
    for (const auto& w : st->warnings) std::cout << "  warning: " << w << "\n";
  }
  return 0;
}

int CmdExec(const Context& ctx, const std::string& ref, const std::vector<std::string>& command) {
  if (!RequireRoot("exec")) return 1;
  if (command.empty()) return Fail("no command; usage: tools/cluster exec NS/POD -- CMD...");
  std::string ns, name;
  if (!ParsePodRef(ref, ns, name)) return Fail("\"" + ref + "\" is not NAMESPACE/POD");
  auto st = LoadOrExplain(ctx);
  if (!st.ok()) return Fail(std::string(st.status().message()));
  const PodState* p = st->FindPod(ns, name);
  if (!p) return Fail("no pod " + ns + "/" + name + " in the cluster (`tools/cluster status`)");
  if (!sys::Exists(network::NetnsPath(p->netns))) {
    return Fail("the netns of pod " + p->key() + " (" + p->netns + ") is gone");
  }
  // The netns first: a process in the pod's cgroup but the host's netns, even for a moment,
  // could be taken for the pod by an agent looking for the pod's netns from its cgroup.
  if (auto s = sys::EnterNetns(network::NetnsPath(p->netns)); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  if (auto s = sys::JoinCgroup(p->cgroup); !s.ok()) return Fail(std::string(s.message()));
  std::vector<std::string> env = PodEnv(*st, *p);
  if (p->workload == k8s::kWorkloadImage) {
    // A pod of weft's image: its container's mount and UTS namespaces (its volumes, weft's
    // binaries at /usr/local/bin) and environment, as `kubectl exec` would give.
    if (p->process.state != "running" || !sys::ProcessAlive(p->process.pid)) {
      return Fail("pod " + p->key() + " has no running container (`tools/cluster status`)");
    }
    auto spec = sys::ReadFile(p->launch);
    auto launch = spec.ok() ? k8s::LaunchSpecFromJson(nlohmann::json::parse(*spec, nullptr, false))
                            : absl::StatusOr<k8s::LaunchSpec>(spec.status());
    if (launch.ok()) env = launch->main.env;
    if (!EnterNs(p->process.pid, "mnt", CLONE_NEWNS) ||
        !EnterNs(p->process.pid, "uts", CLONE_NEWUTS)) {
      return Fail("cannot enter the namespaces of pod " + p->key() + ": " + std::strerror(errno));
    }
    if (chdir(launch.ok() && !launch->main.workdir.empty() ? launch->main.workdir.c_str() : "/") !=
        0) {
      (void)!chdir("/");
    }
  }
  std::vector<char*> argv, envp;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // execvpe searches the PATH of this process: make it the pod's, so that
  // `exec ns/pod -- weft-testapp ...` finds the build's binaries.
  for (const auto& e : env) {
    if (e.starts_with("PATH=")) setenv("PATH", e.c_str() + 5, 1);
  }
  execvpe(argv[0], argv.data(), envp.data());
  int e = errno;
  std::cerr << "error: cannot run " << command[0] << " in pod " << p->key() << ": "
            << std::strerror(e) << "\n";
  return e == ENOENT ? 127 : 126;
}

int CmdLogs(const Context& ctx, const std::string& ref, const std::string& agent_node,
            bool supervisor, bool follow) {
  auto st = LoadOrExplain(ctx);
  std::string file;
  if (supervisor) {
    file = ctx.paths.supervisor_log();
  } else if (!agent_node.empty()) {
    if (!st.ok()) return Fail(std::string(st.status().message()));
    const NodeState* n = st->FindNode(agent_node);
    if (!n) return Fail("no node " + agent_node + " in the cluster");
    file = ctx.paths.AgentLog(n->name);
  } else {
    std::string ns, name;
    if (!ParsePodRef(ref, ns, name)) return Fail("\"" + ref + "\" is not NAMESPACE/POD");
    if (!st.ok()) return Fail(std::string(st.status().message()));
    const PodState* p = st->FindPod(ns, name);
    if (!p) return Fail("no pod " + ns + "/" + name + " in the cluster (`tools/cluster status`)");
    file = p->process.log.empty() ? ctx.paths.PodLog(ns, name) : p->process.log;
  }
  FILE* f = fopen(file.c_str(), "r");
  if (!f) {
    if (!follow) {
      std::cerr << "(no log yet: " << file << ")\n";
      return 0;
    }
  }
  char buf[65536];
  while (true) {
    if (f) {
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
      fflush(stdout);
      clearerr(f);
    }
    if (!follow) break;
    usleep(200000);  // `logs -f` runs until interrupted, like `tail -f`
    if (!f) f = fopen(file.c_str(), "r");
  }
  if (f) fclose(f);
  return 0;
}

int CmdRestartAgent(const Context& ctx, const std::string& node) {
  if (!RequireRoot("restart-agent")) return 1;
  auto st = LoadOrExplain(ctx);
  if (!st.ok()) return Fail(std::string(st.status().message()));
  if (!st->FindNode(node)) return Fail("no node \"" + node + "\" in the cluster");
  if (LiveSupervisorPid(ctx.paths) == 0) {
    return Fail("the supervisor is not running; `tools/cluster down` and `up` again");
  }
  auto r = ControlRequest(ctx.paths, "restart-agent " + node);
  if (!r.ok()) return Fail(std::string(r.status().message()));
  std::cout << "agent of node " << node << " killed (SIGKILL) and started again: pid " << *r
            << "\n";
  return 0;
}

int CmdKubeconfig(const Context& ctx) {
  auto st = LoadOrExplain(ctx);
  if (!st.ok()) return Fail(std::string(st.status().message()));
  if (!st->kubernetes) {
    return Fail(
        "the cluster runs in local mode; `tools/cluster up --kubernetes` makes one with "
        "an API server");
  }
  std::cout << st->admin_kubeconfig() << "\n";
  return 0;
}

int CmdReload(const Context& ctx) {
  if (!RequireRoot("reload")) return 1;
  if (LiveSupervisorPid(ctx.paths) == 0) return Fail("the supervisor is not running");
  auto r = ControlRequest(ctx.paths, "reload");
  if (!r.ok()) return Fail(std::string(r.status().message()));
  std::cout << "reloaded\n";
  return 0;
}

}  // namespace weft::cluster
