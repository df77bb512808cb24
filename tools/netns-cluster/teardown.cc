#include "tools/netns-cluster/teardown.h"

#include <signal.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "tools/netns-cluster/kube_control.h"
#include "tools/netns-cluster/network.h"
#include "tools/netns-cluster/sys.h"
#include "tools/netns-cluster/waypoints.h"

namespace weft::cluster {

namespace {

// The netns of the cluster found by prefix, and the node names among them.
void SweepNetns(const Naming& naming, std::set<std::string>& netns, std::set<std::string>& nodes) {
  for (const auto& name : sys::ListNetns()) {
    if (StartsWith(name, naming.NodeNetnsPrefix())) {
      netns.insert(name);
      nodes.insert(name.substr(naming.NodeNetnsPrefix().size()));
    } else if (StartsWith(name, naming.PodNetnsPrefix())) {
      netns.insert(name);
    }
  }
}

void StopSupervisor(const StatePaths& paths, std::ostream& out) {
  pid_t pid = LiveSupervisorPid(paths);
  if (pid == 0) return;
  out << "stopping the supervisor (pid " << pid << ")\n";
  if (pid > 0) kill(pid, SIGTERM);
  int64_t deadline = sys::MonotonicMs() + 10000;
  while (LiveSupervisorPid(paths) != 0 && sys::MonotonicMs() < deadline) usleep(20000);
  if (pid > 0 && LiveSupervisorPid(paths) != 0) {
    out << "the supervisor did not stop within 10 s: SIGKILL\n";
    kill(pid, SIGKILL);
    deadline = sys::MonotonicMs() + 3000;
    while (LiveSupervisorPid(paths) != 0 && sys::MonotonicMs() < deadline) usleep(20000);
  }
}

}  // namespace

bool AnythingLeft(const Naming& naming, const StatePaths& paths, const std::string& cgroup2) {
  if (sys::Exists(paths.state) || LiveSupervisorPid(paths) != 0) return true;
  std::set<std::string> netns, nodes;
  SweepNetns(naming, netns, nodes);
  if (!netns.empty()) return true;
  for (const auto& l : sys::ListLinks()) {
    if (l == naming.Bridge() || naming.IsNodeHostVeth(l)) return true;
  }
  if (sys::Exists(naming.CaDir()) || sys::Exists(paths.kube_dir())) return true;
  return !cgroup2.empty() && sys::Exists(cgroup2 + "/" + naming.base());
}

int Teardown(const Naming& naming, const StatePaths& paths, const std::optional<State>& state,
             const TeardownOptions& options, std::ostream& out) {
  int removed = 0;
  StopSupervisor(paths, out);

  std::set<std::string> netns, nodes, links, run_dirs;
  std::string cgroup_base = options.cgroup2.empty() ? "" : options.cgroup2 + "/" + naming.base();
  std::string bpf_base = naming.BpfBase();
  if (state) {
    for (const auto& n : state->nodes) {
      netns.insert(n.netns);
      nodes.insert(n.name);
      links.insert(n.host_veth);
      if (!n.run_dir.empty()) run_dirs.insert(n.run_dir);
    }
    for (const auto& p : state->pods) netns.insert(p.netns);
    if (!state->cgroup_base.empty()) cgroup_base = state->cgroup_base;
    if (!state->bpf_base.empty()) bpf_base = state->bpf_base;
    if (!state->bridge.empty()) links.insert(state->bridge);
  }
  SweepNetns(naming, netns, nodes);
  for (const auto& l : sys::ListLinks()) {
    if (l == naming.Bridge() || naming.IsNodeHostVeth(l)) links.insert(l);
  }

  // Processes first: a process (or an agent's socket) keeps a netns and its veths alive.
  if (!cgroup_base.empty()) sys::KillCgroupTree(cgroup_base);
  std::vector<pid_t> pids;
  for (const auto& ns : netns) {
    for (pid_t p : sys::PidsInNetns(network::NetnsPath(ns))) pids.push_back(p);
  }
  if (!cgroup_base.empty()) {
    for (pid_t p : sys::PidsInCgroupTree(cgroup_base)) pids.push_back(p);
  }
  // The CA runs in the host netns: its recorded pid, if that is still `weft-agent ca`.
  if (state && state->ca.pid > 0) {
    auto cmdline = sys::ReadFile("/proc/" + std::to_string(state->ca.pid) + "/cmdline");
    if (cmdline.ok() && cmdline->find(std::string("\0ca\0", 4)) != std::string::npos &&
        cmdline->find("--root-key") != std::string::npos) {
      pids.push_back(state->ca.pid);
    }
  }
  if (!pids.empty()) {
    out << "killing " << pids.size() << " process(es) of the cluster\n";
    sys::KillAndWait(pids, 5000);
  }

  // Kubernetes mode: the control plane, the pods' runtime dirs, the default topology, the
  // mount points made on the host for pods of weft's image (deepest first, only if empty).
  std::string kube_dir = state && !state->kube_dir.empty() ? state->kube_dir : paths.kube_dir();
  if (sys::Exists(kube_dir)) {
    StopControlPlane(state ? state->control_plane : "", kube_dir,
                     options.keep_logs ? paths.logs() + "/kube" : "", out);
    ++removed;
  }
  for (const auto& d : {paths.pods_dir(), paths.topology_dir()}) {
    if (sys::Exists(d) && sys::RemoveTree(d).ok()) {
      out << "deleted " << d << "\n";
      ++removed;
    }
  }
  if (auto made = sys::ReadFile(paths.created_paths()); made.ok()) {
    std::vector<std::string> list;
    std::istringstream in(*made);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) list.push_back(line);
    }
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a > b; });
    for (const auto& p : list) {
      struct stat st;
      if (lstat(p.c_str(), &st) != 0) continue;
      bool gone = S_ISDIR(st.st_mode)
                      ? rmdir(p.c_str()) == 0
                      : S_ISREG(st.st_mode) && st.st_size == 0 && unlink(p.c_str()) == 0;
      if (gone) out << "deleted mount point " << p << "\n";
    }
    unlink(paths.created_paths().c_str());
  }

  for (const auto& l : links) {
    if (!sys::Exists("/sys/class/net/" + l)) continue;
    network::DeleteLink(l);
    out << "deleted link " << l << "\n";
    ++removed;
  }
  for (const auto& ns : netns) {
    if (!sys::Exists(network::NetnsPath(ns))) continue;
    network::DeleteNetns(ns);
    if (sys::Exists(network::NetnsPath(ns))) {
      out << "warning: netns " << ns << " could not be deleted\n";
    } else {
      out << "deleted netns " << ns << "\n";
      ++removed;
    }
  }
  if (!cgroup_base.empty() && sys::Exists(cgroup_base)) {
    if (auto s = sys::RemoveCgroupTree(cgroup_base); !s.ok()) {
      out << "warning: " << s.message() << "\n";
    } else {
      out << "deleted cgroup tree " << cgroup_base << "\n";
      ++removed;
    }
  }
  for (const auto& node : nodes) {
    std::string dir = bpf_base + "/" + node;
    if (!sys::Exists(dir)) continue;
    if (auto s = sys::RemoveTree(dir); !s.ok()) {
      out << "warning: " << s.message() << "\n";
    } else {
      out << "deleted bpffs pins " << dir << "\n";
      ++removed;
    }
  }
  rmdir(bpf_base.c_str());  // only if empty: a real node's pins may live next to ours.
  // The agents' runtime dirs: recorded, and by name for what the state file lost.
  for (const auto& node : nodes) run_dirs.insert(naming.NodeRunDir(node));
  for (const auto& dir : run_dirs) {
    if (!sys::Exists(dir)) continue;
    if (auto s = sys::RemoveTree(dir); !s.ok()) {
      out << "warning: " << s.message() << "\n";
    } else {
      out << "deleted agent runtime dir " << dir << "\n";
      ++removed;
    }
  }
  rmdir(naming.RunBase().c_str());  // only if empty
  // The CA's root (made by `up`, never kept across clusters).
  std::string ca_dir = state && !state->ca_dir.empty() ? state->ca_dir : naming.CaDir();
  if (sys::Exists(ca_dir)) {
    if (auto s = sys::RemoveTree(ca_dir); !s.ok()) {
      out << "warning: " << s.message() << "\n";
    } else {
      out << "deleted CA dir " << ca_dir << "\n";
      ++removed;
    }
  }

  // The host's reply rule and table (network::SetHostReplyRoutes).
  if (state && !state->host_ip.empty()) network::DeleteHostReplyRoutes(state->host_ip);

  // The waypoints' Pod manifests the supervisor wrote into DIR (as a controller's objects go
  // with it).
  if (state && !state->dir.empty()) {
    for (const auto& f : RemoveWaypointManifests(state->dir)) {
      out << "deleted generated manifest " << f << "\n";
      ++removed;
    }
  }

  bool had_state = sys::Exists(paths.state);
  for (const auto& f : {paths.state, paths.state + ".tmp", paths.pidfile(), paths.control()}) {
    unlink(f.c_str());
  }
  if (!options.keep_logs) {
    (void)sys::RemoveTree(paths.logs());
    unlink(paths.supervisor_log().c_str());
    rmdir(paths.dir.c_str());  // only if empty
  }
  // The cluster's dir under /run/weft when WEFT_CLUSTER_STATE put the state elsewhere.
  rmdir(std::filesystem::path(naming.RunBase()).parent_path().c_str());  // only if empty
  if (had_state) {
    out << "deleted state " << paths.state << "\n";
    ++removed;
  }
  return removed;
}

}  // namespace weft::cluster
