#include "tools/netns-cluster/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>

#include "absl/status/status.h"
#include "tools/netns-cluster/ca.h"
#include "tools/netns-cluster/ipv4.h"
#include "tools/netns-cluster/kube_control.h"
#include "tools/netns-cluster/kube_pods.h"
#include "tools/netns-cluster/network.h"
#include "tools/netns-cluster/process.h"
#include "tools/netns-cluster/sys.h"
#include "tools/netns-cluster/waypoints.h"

namespace weft::cluster {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kReloadDebounceMs = 100;
constexpr int64_t kStableRunMs = 10000;  // a process that ran this long resets its backoff
constexpr int kPodStopGraceMs = 2000;
constexpr int kAgentStopGraceMs = 3000;

int64_t BackoffMs(int consecutive) {
  return std::min<int64_t>(int64_t{100} << std::min(consecutive, 7), 10000);
}

void Log(const std::string& line) {
  std::cerr << sys::Rfc3339Now() << " " << line << std::endl;
}

std::string ErrnoText(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Supervisor>> Supervisor::Create(const std::string& state_path,
                                                               int ready_fd) {
  std::unique_ptr<Supervisor> s(new Supervisor());
  if (auto st = s->Init(state_path, ready_fd); !st.ok()) return st;
  return s;
}

Supervisor::~Supervisor() {
  for (int fd : {epoll_fd_, signal_fd_, inotify_fd_, control_fd_, ready_fd_}) {
    if (fd >= 0) close(fd);
  }
  if (control_fd_ >= 0) unlink(paths_.control().c_str());
  if (pid_fd_ >= 0) {
    unlink(paths_.pidfile().c_str());
    close(pid_fd_);
  }
}

absl::Status Supervisor::Init(const std::string& state_path, int ready_fd) {
  paths_ = StatePaths::For(state_path);
  auto st = ReadState(state_path);
  if (!st.ok()) return st.status();
  state_ = std::move(*st);
  auto naming = Naming::For(state_.cluster);
  if (!naming.ok()) return naming.status();
  naming_ = *naming;

  pid_fd_ = open(paths_.pidfile().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (pid_fd_ < 0) return absl::InternalError(ErrnoText("open " + paths_.pidfile()));
  if (flock(pid_fd_, LOCK_EX | LOCK_NB) != 0) {
    close(pid_fd_);
    pid_fd_ = -1;
    return absl::AlreadyExistsError("another supervisor runs for " + state_path);
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(pid_fd_, 0) != 0 || pwrite(pid_fd_, pid.data(), pid.size(), 0) < 0) {
    return absl::InternalError(ErrnoText("write " + paths_.pidfile()));
  }
  state_.supervisor_pid = getpid();
  if (auto s = sys::MakeDirs(paths_.logs()); !s.ok()) return s;

  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (signal_fd_ < 0 || epoll_fd_ < 0 || inotify_fd_ < 0) {
    return absl::InternalError(ErrnoText("signalfd/epoll/inotify"));
  }

  std::string sock = paths_.control();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (sock.size() < sizeof addr.sun_path) {
    std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
    unlink(sock.c_str());
    control_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (control_fd_ < 0 ||
        bind(control_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(control_fd_, 16) != 0) {
      return absl::InternalError(ErrnoText("control socket " + sock));
    }
    chmod(sock.c_str(), 0600);
  } else {
    Log("warning: " + sock + " is too long for a unix socket; restart-agent will not work");
  }
  std::error_code ec;
  self_exe_ = fs::read_symlink("/proc/self/exe", ec).string();
  if (state_.kubernetes) {
    Kubelets::Options ko;
    ko.admin_kubeconfig = state_.admin_kubeconfig();
    ko.api_host = state_.host_ip;
    ko.api_port = state_.api_port;
    ko.bin_dir = state_.bin_dir;
    ko.pods_dir = paths_.pods_dir();
    ko.created_paths = paths_.created_paths();
    auto k = Kubelets::Create(ko);
    if (!k.ok()) return k.status();
    kube_ = std::move(*k);
    if (auto s = sys::MakeDirs(paths_.pods_dir()); !s.ok()) return s;
  }
  std::vector<int> fds{signal_fd_, inotify_fd_, control_fd_};
  if (kube_) fds.insert(fds.end(), {kube_->fd(), kube_->pods_fd()});
  for (int fd : fds) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  ready_fd_ = ready_fd;  // owned from here on; on failure the caller still reports through it
  return absl::OkStatus();
}

void Supervisor::Say(const std::string& line) {
  Log(line);
  if (ready_fd_ >= 0) {
    std::string l = line + "\n";
    (void)!write(ready_fd_, l.data(), l.size());
  }
}

PodState* Supervisor::FindPod(const std::string& key) {
  for (auto& p : state_.pods) {
    if (p.key() == key) return &p;
  }
  return nullptr;
}

NodeState* Supervisor::FindNode(const std::string& name) {
  for (auto& n : state_.nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

void Supervisor::SaveState() {
  state_.updated_at = sys::Rfc3339Now();
  if (auto s = WriteState(paths_.state, state_); !s.ok()) Log("error: " + std::string(s.message()));
  dirty_ = false;
}

int Supervisor::Run() {
  Log("supervisor " + std::to_string(getpid()) + ": dir " + state_.dir + ", state " + paths_.state);
  if (!sys::Exists("/sys/class/net/" + state_.bridge)) {
    auto u = Cidr::Parse(state_.underlay);
    auto s = u ? network::CreateBridge(state_.bridge, state_.host_ip, u->len)
               : absl::InvalidArgumentError("bad underlay " + state_.underlay);
    if (!s.ok()) {
      Say("FAILED bridge " + state_.bridge + ": " + std::string(s.message()));
      return 1;
    }
  }
  WatchDir();
  SetUpCa();
  if (kube_) {
    Say("kubernetes: API server " + state_.api_server() + ", admin kubeconfig " +
        state_.admin_kubeconfig());
    kube_->Start();
  }
  bool ok = Reload(/*initial=*/true);
  if (ok && kube_) WaitNodesReady();
  SaveState();
  if (!ok) {
    Say("FAILED the cluster could not be made completely (see above)");
    StopEverything();
    SaveState();
    return 1;
  }
  Say("READY");
  if (ready_fd_ >= 0) {
    close(ready_fd_);
    ready_fd_ = -1;
  }

  while (!stop_) {
    int64_t now = sys::MonotonicMs();
    int64_t next = reload_at_;
    for (const auto* rts : {&pod_rt_, &agent_rt_}) {
      for (const auto& [k, rt] : *rts) {
        if (rt.restart_at && (!next || rt.restart_at < next)) next = rt.restart_at;
        if (rt.kill_at && (!next || rt.kill_at < next)) next = rt.kill_at;
      }
    }
    // Without a watch on DIR itself (it was removed or replaced), look for it every second.
    bool root_watched = false;
    for (const auto& [wd, d] : watches_) root_watched |= d == state_.dir;
    int64_t cap = root_watched ? 60000 : 1000;
    int timeout = next ? static_cast<int>(std::clamp<int64_t>(next - now, 0, cap)) : cap;
    epoll_event evs[8];
    int n = epoll_wait(epoll_fd_, evs, 8, timeout);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == signal_fd_) {
        signalfd_siginfo si;
        while (read(signal_fd_, &si, sizeof si) == sizeof si) {
          if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) stop_ = true;
          if (si.ssi_signo == SIGHUP) reload_at_ = sys::MonotonicMs();
        }
        Reap();
      } else if (fd == inotify_fd_) {
        HandleInotify();
      } else if (fd == control_fd_) {
        HandleControl();
      } else if (kube_ && (fd == kube_->fd() || fd == kube_->pods_fd())) {
        HandleKube();
      }
    }
    if (stop_) break;
    if (!root_watched) {
      WatchDir();
      for (const auto& [wd, d] : watches_) {
        if (d == state_.dir && !reload_at_) reload_at_ = sys::MonotonicMs();
      }
    }
    RunDueTimers();
    if (kube_ && dirty_) ReportKube();
    if (dirty_) SaveState();
  }
  Log("stopping: SIGTERM to every pod and agent");
  StopEverything();
  if (kube_) kube_->Stop();
  SaveState();
  Log("stopped; the network stays until `down`");
  return 0;
}

bool Supervisor::Reload(bool initial) {
  if (state_.kubernetes) {
    // DIR holds the Nodes only; the pods come from the API server (SyncKube).
    Desired d = LoadDesired(state_.dir, initial ? nullptr : &last_desired_, /*nodes_only=*/true);
    state_.warnings = d.warnings;
    last_desired_ = std::move(d);
    bool ok = SyncKube();
    WatchDir();
    return ok;
  }
  Desired d = LoadDesired(state_.dir, initial ? nullptr : &last_desired_);
  // The waypoints' pods, and their manifests in DIR for the agents, the CA and the waypoints
  // (written before the pods start, so the CA knows a pod by the time its waypoint asks).
  ExpandWaypoints(d, state_, naming_, paths_.state);
  if (auto changed = SyncWaypointManifests(state_.dir, d); !changed.ok()) {
    d.errors.push_back("waypoint manifests: " + std::string(changed.status().message()));
  } else if (*changed) {
    Log("waypoint manifests updated in " + GeneratedDir(state_.dir));
  }
  Plan plan = MakePlan(d, state_, naming_);
  std::vector<std::string> errors = d.errors;
  errors.insert(errors.end(), plan.errors.begin(), plan.errors.end());
  if (errors != last_errors_) {
    for (const auto& e : errors) Say(e);
    last_errors_ = errors;
  }
  state_.warnings = d.warnings;
  last_desired_ = std::move(d);
  state_.errors = errors;
  bool ok = Apply(plan);
  WatchDir();
  dirty_ = true;
  return ok;
}

bool Supervisor::Apply(const Plan& plan) {
  bool ok = true;
  auto planned_node = [&](const std::string& name) -> const NodeState* {
    for (const auto& n : plan.nodes) {
      if (n.name == name) return &n;
    }
    return nullptr;
  };
  auto planned_pod = [&](const std::string& key) -> const PodState* {
    for (const auto& p : plan.pods) {
      if (p.key() == key) return &p;
    }
    return nullptr;
  };

  // Removals first, so that addresses and names are free for what replaces them.
  std::set<std::string> nodes_out;
  for (const auto& n : state_.nodes) {
    const NodeState* t = planned_node(n.name);
    if (!t || NodeNetworkChanged(n, *t)) nodes_out.insert(n.name);
  }
  std::vector<PodState> pods_out;
  for (const auto& p : state_.pods) {
    const PodState* t = planned_pod(p.key());
    if (!t || nodes_out.contains(p.node) || PodNetworkChanged(p, *t)) pods_out.push_back(p);
  }
  for (const auto& p : pods_out) RemovePod(p);
  std::vector<std::string> gone;
  for (const auto& name : nodes_out) {
    NodeState n = *FindNode(name);
    gone.push_back(n.pod_cidr);
    RemoveNode(n);
  }

  bool nodes_changed = !nodes_out.empty();
  for (const auto& t : plan.nodes) {
    if (FindNode(t.name)) continue;
    NodeState n = t;
    n.agent = ProcessState{};
    n.agent.log = paths_.AgentLog(n.name);
    Say("node " + n.name + ": netns " + n.netns + ", underlay " + n.underlay_ip + " (" +
        n.host_veth + "), pod CIDR " + n.pod_cidr + ", cbr0 " + n.bridge_ip);
    if (auto s = network::CreateNode(state_, n); !s.ok()) {
      std::string e = "cannot create node " + n.name + ": " + std::string(s.message());
      Say(e);
      state_.errors.push_back(e);
      network::DeleteNode(n);
      ok = false;
      continue;
    }
    if (kube_) {
      // The kubelet's identity: user system:node:<name>, group system:nodes.
      if (auto kc = NodeCredentials(state_, n.name); kc.ok()) {
        n.kubeconfig = *kc;
      } else {
        Say("node " + n.name + ": no credentials of its own (" +
            std::string(kc.status().message()) + "); it talks to the API server as admin");
      }
      kube_->AddNode(n);
    }
    state_.nodes.push_back(std::move(n));
    nodes_changed = true;
  }
  if (kube_) {
    for (const auto& t : plan.nodes) {
      NodeState* n = FindNode(t.name);
      if (n && n->labels != t.labels) {
        n->labels = t.labels;
        kube_->AddNode(*n);  // registers the new labels
      }
    }
  }
  std::sort(state_.nodes.begin(), state_.nodes.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  if (nodes_changed) UpdateRoutes(gone);

  for (const auto& t : plan.pods) {
    if (!FindNode(t.node)) continue;
    if (PodState* have = FindPod(t.key())) {
      have->file = t.file;
      have->ip_assigned = t.ip_assigned;
      have->gateway = t.gateway;
      if (!have->uid.empty()) {
        if (have->terminating) continue;
        auto want = kube_desired_.find(have->key());
        if (want != kube_desired_.end() && want->second.terminating) {
          BeginTermination(*have, want->second.grace_seconds);
          continue;
        }
        have->restart_policy = t.restart_policy;
      }
      if (have->run != t.run) {
        Say("pod " + have->key() + ": command changed, restarting");
        StopPod(*have);
        have->run = t.run;
        have->workload = t.workload;
        have->process.restarts = 0;
        pod_rt_[have->key()].consecutive = 0;
        StartPod(*have);
      }
      continue;
    }
    PodState p = t;
    p.process = ProcessState{};
    p.process.log = paths_.PodLog(p.ns, p.name);
    p.created_at_ms = sys::WallMs();
    Say("pod " + p.key() + ": netns " + p.netns + ", IP " + p.ip + " on node " + p.node +
        (p.gateway.empty() ? "" : " (waypoint of Gateway " + p.ns + "/" + p.gateway + ")") +
        (p.host_network ? " (hostNetwork)" : "") +
        (p.workload.empty() || p.workload == k8s::kWorkloadRun ? "" : " (" + p.workload + ")"));
    if (auto s = network::CreatePod(p, *FindNode(p.node)); !s.ok()) {
      std::string e = "cannot create pod " + p.key() + ": " + std::string(s.message());
      Say(e);
      state_.errors.push_back(e);
      network::DeletePod(p, FindNode(p.node)->netns);
      ok = false;
      continue;
    }
    std::string key = p.key();
    if (!p.uid.empty() && p.ip_assigned) FindNode(p.node)->last_pod_ip = p.ip;
    state_.pods.push_back(std::move(p));
    std::sort(state_.pods.begin(), state_.pods.end(),
              [](const auto& a, const auto& b) { return a.key() < b.key(); });
    StartPod(*FindPod(key));
  }

  for (auto& n : state_.nodes) {
    if (n.agent.state == "none" || (n.agent.state == "missing" && sys::Exists(state_.agent_bin))) {
      StartAgent(n);
    }
  }
  dirty_ = true;
  return ok;
}

void Supervisor::UpdateRoutes(const std::vector<std::string>& gone) {
  for (const auto& n : state_.nodes) {
    if (auto s = network::SetNodeRoutes(n, state_.nodes, gone); !s.ok()) {
      std::string e = "cannot set routes of node " + n.name + ": " + std::string(s.message());
      Say(e);
      state_.errors.push_back(e);
    }
  }
  // Replies of the host's services (the CA) to pods (the waypoints' CA clients).
  if (auto s = network::SetHostReplyRoutes(state_, gone); !s.ok()) {
    std::string e = "cannot set the host's reply routes to pods: " + std::string(s.message());
    Say(e);
    state_.errors.push_back(e);
  }
}

void Supervisor::RemovePod(const PodState& pod) {
  Say("pod " + pod.key() + ": removing");
  if (PodState* p = FindPod(pod.key())) {
    StopPod(*p);
    KillSandbox(*p);
  }
  const NodeState* node = FindNode(pod.node);
  network::DeletePod(pod, node ? node->netns : "");
  if (kube_) {
    kube_->ForgetPod(pod.uid);
    kube_->ClearProbe(pod.key());
    reported_.erase(pod.key());
  }
  pod_rt_.erase(pod.key());
  std::erase_if(state_.pods, [&](const PodState& p) { return p.key() == pod.key(); });
  dirty_ = true;
}

void Supervisor::RemoveNode(const NodeState& node) {
  Say("node " + node.name + ": removing");
  if (kube_) kube_->RemoveNode(node.name);
  if (NodeState* n = FindNode(node.name)) StopAgent(*n, /*hard=*/false);
  network::DeleteNode(node);
  agent_rt_.erase(node.name);
  std::erase_if(state_.nodes, [&](const NodeState& n) { return n.name == node.name; });
  dirty_ = true;
}

void Supervisor::StartPod(PodState& p) {
  Runtime& rt = pod_rt_[p.key()];
  rt.restart_at = 0;
  p.process.pid = 0;
  if (!p.uid.empty()) EnsureSandbox(p);
  if (p.uid.empty() && p.run.empty()) {
    p.process.state = "none";
    dirty_ = true;
    return;
  }
  if (p.workload == k8s::kWorkloadImage && p.launch.empty()) {
    // Its volumes and launch spec first (tokens from the API): HandleKube starts it.
    p.process.state = "waiting";
    if (!rt.preparing && kube_ && api_pods_.contains(p.key())) {
      rt.preparing = true;
      kube_->Prepare(p.node, api_pods_[p.key()], LaunchContextFor(p));
    }
    dirty_ = true;
    return;
  }
  if (!p.gateway.empty() && CaEnabled()) {
    // The waypoint authenticates to the CA with its node's certificate, which the node's agent
    // may not have made yet.
    if (const NodeState* n = FindNode(p.node); n && !n->node_cert.empty()) {
      if (auto s = EnsureNodeCertificate(state_.ca_dir, n->name, n->node_cert, n->node_key);
          !s.ok()) {
        Log("pod " + p.key() + ": no node certificate for " + n->name + ": " +
            std::string(s.message()));
      }
    }
  }
  const char* path = getenv("PATH");
  SpawnOptions o;
  std::vector<std::string> env{"PATH=" + state_.bin_dir + ":" + (path ? path : "/usr/bin:/bin"),
                               "WEFT_BIN=" + state_.bin_dir,
                               "WEFT_POD_NAME=" + p.name,
                               "WEFT_POD_NAMESPACE=" + p.ns,
                               "WEFT_POD_IP=" + p.ip,
                               "WEFT_NODE_NAME=" + p.node};
  std::string what = p.run;
  if (p.workload == k8s::kWorkloadImage) {
    o.argv = {self_exe_, "launch", "--spec", p.launch};
    what = "the container " + p.container + " of " + p.image + " (" + p.launch + ")";
  } else if (p.workload == k8s::kWorkloadPlaceholder) {
    // Not weft's image and no weft.dev/run: nothing here can run its image. A process that
    // does nothing keeps it Running, as a pause container would.
    o.argv = {self_exe_, "pause"};
    what = "a placeholder (no weft.dev/run annotation, image " + p.image + " not run)";
  } else {
    o.argv = {"/bin/sh", "-c", p.run};
  }
  if (!p.uid.empty()) {
    std::vector<std::string> k = KubeEnv();
    env.insert(env.end(), k.begin(), k.end());
  }
  (void)sys::AppendFile(p.process.log, "==> " + sys::Rfc3339Now() + " starting: " + what + "\n");
  o.env = sys::EnvWith(env);
  o.netns = network::NetnsPath(p.netns);
  o.cgroup = p.cgroup;
  o.log = p.process.log;
  auto pid = Spawn(o);
  int64_t now = sys::MonotonicMs();
  if (!pid.ok()) {
    int64_t delay = BackoffMs(rt.consecutive++);
    std::string msg = "cannot start: " + std::string(pid.status().message());
    (void)sys::AppendFile(p.process.log,
                          "==> " + msg + "; retrying in " + std::to_string(delay) + " ms\n");
    Log("pod " + p.key() + ": " + msg);
    p.process.state = "backoff";
    p.process.last_exit = msg;
    rt.restart_at = now + delay;
    dirty_ = true;
    return;
  }
  rt.pid = *pid;
  rt.started_mono = now;
  children_[*pid] = {false, p.key()};
  p.process.state = "running";
  p.process.pid = *pid;
  p.process.started_at_ms = sys::WallMs();
  dirty_ = true;
  if (kube_ && p.workload != k8s::kWorkloadPlaceholder && api_pods_.contains(p.key())) {
    // Its readinessProbe, from the node's netns (where the kubelet's prober would be).
    auto probe = k8s::ReadinessProbe(api_pods_[p.key()], p.container);
    p.probed = probe.has_value();
    p.probe_ready = false;
    p.ready_changed_ms = 0;
    if (probe) {
      if (probe->host.empty()) probe->host = p.ip;
      const NodeState* n = FindNode(p.node);
      kube_->SetProbe(p.key(), p.uid, network::NetnsPath(n ? n->netns : p.netns), *probe);
    }
  }
}

namespace {
constexpr char kCaKey[] = "@ca";  // the CA's key in agent_rt_ and children_ (not a node name)
}  // namespace

bool Supervisor::CaEnabled() const {
  return !state_.ca_dir.empty() && !state_.ca_address.empty() && state_.ca.state != "disabled" &&
         state_.ca.state != "failed";
}

void Supervisor::SetUpCa() {
  state_.ca.log = paths_.logs() + "/ca.log";
  dirty_ = true;
  if (state_.ca_dir.empty() || state_.ca_address.empty()) {  // a state file from before the CA
    state_.ca.state = "disabled";
    return;
  }
  if (!state_.agents) {
    state_.ca.state = "disabled";
    return;
  }
  bool created = false;
  if (auto s = EnsureRoot(state_.ca_dir, state_.trust_domain, &created); !s.ok()) {
    Say("CA: cannot make the root in " + state_.ca_dir + ": " + std::string(s.message()) +
        "; the agents run without workload certificates");
    state_.ca.state = "failed";
    state_.ca.last_exit = std::string(s.message());
    return;
  }
  Say(std::string("CA: ") + (created ? "new root" : "root") + " in " + state_.ca_dir +
      ", serving on " + state_.ca_address);
  StartCa();
}

void Supervisor::StartCa() {
  Runtime& rt = agent_rt_[kCaKey];
  rt.restart_at = 0;
  state_.ca.pid = 0;
  dirty_ = true;
  if (!sys::Exists(state_.agent_bin)) {
    state_.ca.state = "missing";
    return;
  }
  std::vector<std::string> argv = CaCommand(state_);
  std::string cmdline;
  for (const auto& a : argv) cmdline += (cmdline.empty() ? "" : " ") + a;
  (void)sys::AppendFile(state_.ca.log, "==> " + sys::Rfc3339Now() + " starting: " + cmdline + "\n");
  SpawnOptions o;
  o.argv = argv;
  o.env = sys::EnvWith({});
  o.log = state_.ca.log;  // host netns: the nodes reach it over the bridge
  auto pid = Spawn(o);
  int64_t now = sys::MonotonicMs();
  if (!pid.ok()) {
    int64_t delay = BackoffMs(rt.consecutive++);
    std::string msg = "cannot start: " + std::string(pid.status().message());
    (void)sys::AppendFile(state_.ca.log, "==> " + msg + "\n");
    Log("CA: " + msg);
    state_.ca.state = "backoff";
    state_.ca.last_exit = msg;
    rt.restart_at = now + delay;
    return;
  }
  Log("CA: started, pid " + std::to_string(*pid));
  rt.pid = *pid;
  rt.started_mono = now;
  children_[*pid] = {true, kCaKey};
  state_.ca.state = "running";
  state_.ca.pid = *pid;
  state_.ca.started_at_ms = sys::WallMs();
}

void Supervisor::StartAgent(NodeState& n) {
  Runtime& rt = agent_rt_[n.name];
  rt.restart_at = 0;
  n.agent.pid = 0;
  n.agent.log = paths_.AgentLog(n.name);
  dirty_ = true;
  if (!state_.agents) {
    n.agent.state = "disabled";
    return;
  }
  if (!sys::Exists(state_.agent_bin)) {
    n.agent.state = "missing";
    if (!agent_missing_reported_) {
      Say("weft-agent is not built (" + state_.agent_bin +
          "): the nodes run without agents (--no-agents silences this)");
      agent_missing_reported_ = true;
    }
    return;
  }
  std::vector<std::string> argv{state_.agent_bin, "--local-dir",     state_.dir,  "--node",
                                n.name,           "--bpf-root",      n.bpf_root,  "--cgroup",
                                n.cgroup,         "--pod-netns-dir", "/run/netns"};
  // A state file from before run_dir existed: the agent's default.
  if (!n.run_dir.empty()) argv.insert(argv.end(), {"--run-dir", n.run_dir});
  if (CaEnabled() && !n.node_cert.empty()) {
    if (auto s = EnsureNodeCertificate(state_.ca_dir, n.name, n.node_cert, n.node_key); s.ok()) {
      std::vector<std::string> ca = AgentCaArgs(state_, n);
      argv.insert(argv.end(), ca.begin(), ca.end());
    } else {
      Log("agent " + n.name + ": no node certificate (" + std::string(s.message()) +
          "): started without the CA");
    }
  }
  argv.insert(argv.end(), state_.agent_args.begin(), state_.agent_args.end());
  std::string cmdline;
  for (const auto& a : argv) cmdline += (cmdline.empty() ? "" : " ") + a;
  (void)sys::AppendFile(n.agent.log, "==> " + sys::Rfc3339Now() + " starting: " + cmdline + "\n");
  SpawnOptions o;
  o.argv = argv;
  o.env = sys::EnvWith({"WEFT_NODE_NAME=" + n.name, "WEFT_CLUSTER_STATE=" + paths_.state,
                        "WEFT_POD_NETNS_PREFIX=" + naming_.PodNetnsPrefix()});
  o.netns = network::NetnsPath(n.netns);
  o.log = n.agent.log;
  auto pid = Spawn(o);
  int64_t now = sys::MonotonicMs();
  if (!pid.ok()) {
    int64_t delay = BackoffMs(rt.consecutive++);
    std::string msg = "cannot start: " + std::string(pid.status().message());
    (void)sys::AppendFile(n.agent.log, "==> " + msg + "\n");
    Log("agent " + n.name + ": " + msg);
    n.agent.state = "backoff";
    n.agent.last_exit = msg;
    rt.restart_at = now + delay;
    return;
  }
  Log("agent " + n.name + ": started, pid " + std::to_string(*pid));
  rt.pid = *pid;
  rt.started_mono = now;
  children_[*pid] = {true, n.name};
  n.agent.state = "running";
  n.agent.pid = *pid;
  n.agent.started_at_ms = sys::WallMs();
}

void Supervisor::StopPod(PodState& p) {
  Runtime& rt = pod_rt_[p.key()];
  rt.restart_at = 0;
  if (rt.pid > 0) {
    children_.erase(rt.pid);
    int status = StopProcessGroup(rt.pid, kPodStopGraceMs);
    p.process.last_exit = sys::DescribeWaitStatus(status);
    (void)sys::AppendFile(p.process.log,
                          "==> " + sys::Rfc3339Now() + " stopped: " + p.process.last_exit + "\n");
    rt.pid = 0;
  }
  // Like a container stop: nothing of the pod survives (also `exec` sessions).
  sys::KillCgroupTree(p.cgroup);
  sys::KillAndWait(sys::PidsInCgroupTree(p.cgroup), 2000);
  p.process.state = "stopped";
  p.process.pid = 0;
  dirty_ = true;
}

void Supervisor::StopAgent(NodeState& n, bool hard) {
  Runtime& rt = agent_rt_[n.name];
  rt.restart_at = 0;
  if (rt.pid > 0) {
    children_.erase(rt.pid);
    // Only the agent's pid: a proxy process it started in its own session outlives it by
    // design (docs/datapath.md, Restart).
    int status = 0;
    if (hard) {
      kill(rt.pid, SIGKILL);
      while (waitpid(rt.pid, &status, 0) < 0 && errno == EINTR) {
      }
    } else {
      kill(rt.pid, SIGTERM);
      int64_t deadline = sys::MonotonicMs() + kAgentStopGraceMs;
      while (waitpid(rt.pid, &status, WNOHANG) == 0) {
        if (sys::MonotonicMs() > deadline) {
          kill(rt.pid, SIGKILL);
          waitpid(rt.pid, &status, 0);
          break;
        }
        usleep(10000);
      }
    }
    n.agent.last_exit = sys::DescribeWaitStatus(status);
    (void)sys::AppendFile(n.agent.log,
                          "==> " + sys::Rfc3339Now() + " stopped: " + n.agent.last_exit + "\n");
    rt.pid = 0;
  }
  if (n.agent.state == "running" || n.agent.state == "backoff") n.agent.state = "stopped";
  n.agent.pid = 0;
  dirty_ = true;
}

void Supervisor::Reap() {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) OnExit(pid, status);
}

void Supervisor::OnExit(pid_t pid, int status) {
  if (auto sb = sandboxes_.find(pid); sb != sandboxes_.end()) {
    std::string key = sb->second;
    sandboxes_.erase(sb);
    if (PodState* p = FindPod(key); p && p->sandbox_pid == pid) {
      p->sandbox_pid = 0;
      Log("pod " + key + ": sandbox exited (" + sys::DescribeWaitStatus(status) + ")");
      if (!p->terminating) EnsureSandbox(*p);
      dirty_ = true;
    }
    return;
  }
  auto it = children_.find(pid);
  if (it == children_.end()) return;
  auto [is_agent, key] = it->second;
  children_.erase(it);
  Runtime& rt = (is_agent ? agent_rt_ : pod_rt_)[key];
  if (rt.pid != pid) return;
  rt.pid = 0;
  ProcessState* ps = nullptr;
  PodState* pod = nullptr;
  std::string what;
  if (is_agent && key == kCaKey) {
    ps = &state_.ca;
    what = "CA";
  } else if (is_agent) {
    NodeState* n = FindNode(key);
    if (n) ps = &n->agent;
    what = "agent " + key;
  } else {
    pod = FindPod(key);
    if (pod) {
      ps = &pod->process;
      // Like a container restart: what the command left behind goes with it.
      sys::KillCgroupTree(pod->cgroup);
    }
    what = "pod " + key;
  }
  if (!ps) return;
  int64_t now = sys::MonotonicMs();
  ps->pid = 0;
  ps->last_exit = sys::DescribeWaitStatus(status);
  ps->finished_at_ms = sys::WallMs();
  dirty_ = true;
  if (pod && kube_ && pod->probed) {
    kube_->ClearProbe(key);
    if (pod->probe_ready) pod->ready_changed_ms = ps->finished_at_ms;
    pod->probe_ready = false;
  }
  if (pod && pod->terminating) {
    rt.kill_at = 0;
    (void)sys::AppendFile(
        ps->log, "==> " + sys::Rfc3339Now() + " stopped (pod deleted): " + ps->last_exit + "\n");
    FinishTermination(key);
    return;
  }
  if (pod && !pod->uid.empty()) {
    // Kubernetes: restartPolicy decides (local mode always restarts).
    bool success = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (pod->restart_policy == "Never" || (pod->restart_policy == "OnFailure" && success)) {
      ps->state = success ? "succeeded" : "failed";
      std::string msg = "exited (" + ps->last_exit + "); restartPolicy " + pod->restart_policy +
                        ": phase " + (success ? "Succeeded" : "Failed");
      (void)sys::AppendFile(ps->log, "==> " + sys::Rfc3339Now() + " " + msg + "\n");
      Log(what + ": " + msg);
      return;
    }
  }
  if (now - rt.started_mono >= kStableRunMs) rt.consecutive = 0;
  int64_t delay = BackoffMs(rt.consecutive++);
  ps->restarts++;
  ps->state = "backoff";
  rt.restart_at = now + delay;
  std::string msg = "exited (" + ps->last_exit + ") after " +
                    std::to_string(now - rt.started_mono) + " ms; restarting in " +
                    std::to_string(delay) + " ms";
  (void)sys::AppendFile(ps->log, "==> " + sys::Rfc3339Now() + " " + msg + "\n");
  Log(what + ": " + msg);
}

void Supervisor::RunDueTimers() {
  int64_t now = sys::MonotonicMs();
  std::vector<std::string> pods, agents;
  for (const auto& [k, rt] : pod_rt_) {
    if (rt.restart_at && rt.restart_at <= now) pods.push_back(k);
  }
  for (const auto& [k, rt] : agent_rt_) {
    if (rt.restart_at && rt.restart_at <= now) agents.push_back(k);
  }
  for (auto& [k, rt] : pod_rt_) {
    if (!rt.kill_at || rt.kill_at > now) continue;
    // A deleted pod's grace period is over: SIGKILL; OnExit finishes its termination.
    rt.kill_at = 0;
    if (rt.pid > 0) {
      Log("pod " + k + ": grace period over: SIGKILL");
      kill(-rt.pid, SIGKILL);
      kill(rt.pid, SIGKILL);
    }
    if (PodState* p = FindPod(k)) sys::KillCgroupTree(p->cgroup);
  }
  for (const auto& k : pods) {
    pod_rt_[k].restart_at = 0;
    if (PodState* p = FindPod(k)) StartPod(*p);
  }
  for (const auto& k : agents) {
    agent_rt_[k].restart_at = 0;
    if (k == kCaKey) {
      StartCa();
    } else if (NodeState* n = FindNode(k)) {
      StartAgent(*n);
    }
  }
  if (reload_at_ && reload_at_ <= now) {
    reload_at_ = 0;
    Reload(/*initial=*/false);
  }
}

void Supervisor::StopEverything() {
  std::vector<pid_t> pids;
  for (const auto& [pid, key] : sandboxes_) {
    pids.push_back(pid);
    kill(pid, SIGTERM);
  }
  sandboxes_.clear();
  for (const auto& [pid, who] : children_) {
    pids.push_back(pid);
    if (who.first) {
      kill(pid, SIGTERM);
    } else {
      kill(-pid, SIGTERM);
      kill(pid, SIGTERM);
    }
  }
  int64_t deadline = sys::MonotonicMs() + kAgentStopGraceMs;
  while (!pids.empty() && sys::MonotonicMs() < deadline) {
    std::erase_if(pids, [](pid_t p) { return waitpid(p, nullptr, WNOHANG) == p; });
    if (!pids.empty()) usleep(10000);
  }
  for (pid_t p : pids) {
    kill(-p, SIGKILL);
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  children_.clear();
  for (auto& p : state_.pods) {
    sys::KillCgroupTree(p.pod_cgroup.empty() ? p.cgroup : p.pod_cgroup);
    if (p.process.state != "none") p.process.state = "stopped";
    p.process.pid = 0;
    p.sandbox_pid = 0;
  }
  for (auto& n : state_.nodes) {
    if (n.agent.state == "running" || n.agent.state == "backoff") n.agent.state = "stopped";
    n.agent.pid = 0;
  }
  if (state_.ca.state == "running" || state_.ca.state == "backoff") state_.ca.state = "stopped";
  state_.ca.pid = 0;
  pod_rt_.clear();
  agent_rt_.clear();
}

void Supervisor::WatchDir() {
  constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                             IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
  std::vector<std::string> dirs{state_.dir};
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(state_.dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec)) dirs.push_back(it->path().string());
  }
  for (const auto& d : dirs) {
    int wd = inotify_add_watch(inotify_fd_, d.c_str(), kMask);
    if (wd >= 0) watches_[wd] = d;  // a missing DIR is reported by the reload
  }
}

void Supervisor::HandleInotify() {
  alignas(inotify_event) char buf[65536];
  bool any = false;
  while (true) {
    ssize_t n = read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      if (ev->mask & IN_IGNORED) watches_.erase(ev->wd);
      any = true;
      p += sizeof(inotify_event) + ev->len;
    }
  }
  if (any && !reload_at_) reload_at_ = sys::MonotonicMs() + kReloadDebounceMs;
}

void Supervisor::HandleControl() {
  while (true) {
    int fd = accept4(control_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string line;
    char c;
    while (line.size() < 1024) {
      ssize_t n = read(fd, &c, 1);
      if (n <= 0 || c == '\n') break;
      line += c;
    }
    std::string answer = Command(line) + "\n";
    (void)!write(fd, answer.data(), answer.size());
    close(fd);
  }
}

std::string Supervisor::Command(const std::string& request) {
  if (request == "ping") return "ok " + std::to_string(getpid());
  if (request == "reload") {
    reload_at_ = 0;
    Reload(/*initial=*/false);
    SaveState();
    return "ok";
  }
  if (request.starts_with("restart-agent ")) {
    std::string node = request.substr(14);
    NodeState* n = FindNode(node);
    if (!n) return "error no node \"" + node + "\" in this cluster";
    if (!state_.agents) return "error the cluster runs without agents (--no-agents)";
    if (!sys::Exists(state_.agent_bin)) {
      return "error weft-agent is not built (" + state_.agent_bin + ")";
    }
    Log("agent " + node + ": restart requested (SIGKILL)");
    StopAgent(*n, /*hard=*/true);
    agent_rt_[node].consecutive = 0;
    StartAgent(*n);
    SaveState();
    if (n->agent.state != "running") return "error agent did not start: " + n->agent.last_exit;
    return "ok " + std::to_string(n->agent.pid);
  }
  return "error unknown request \"" + request + "\"";
}

}  // namespace weft::cluster

// ---- Kubernetes mode: the node stand-in (docs/kubernetes.md) ----

namespace weft::cluster {

namespace {

std::string KeyOf(const nlohmann::json& pod) {
  const auto& meta = pod.contains("metadata") ? pod["metadata"] : nlohmann::json::object();
  return meta.value("namespace", "default") + "/" + meta.value("name", "");
}

std::string UidOf(const nlohmann::json& pod) {
  if (!pod.contains("metadata") || !pod["metadata"].is_object()) return "";
  return pod["metadata"].value("uid", "");
}

}  // namespace

bool Supervisor::SyncKube() {
  Desired d;
  d.nodes = last_desired_.nodes;
  d.errors = last_desired_.errors;
  kube_desired_.clear();
  std::set<std::string> uids;
  for (const auto& [key, obj] : api_pods_) {
    std::string error;
    DesiredPod p = k8s::PodFromApi(obj, &error);
    uids.insert(p.uid);
    if (!d.nodes.contains(p.node)) continue;  // bound to a node that is not ours
    if (!error.empty()) {
      d.errors.push_back("error: Pod/" + key + ": " + error);
      continue;
    }
    const PodState* have = FindPod(key);
    if (p.terminating && (!have || have->uid != p.uid)) {
      // Deleted before it ran here, or its processes are gone already: confirm the deletion
      // (once) as the kubelet does.
      if (!deleting_.contains(p.uid)) {
        deleting_.insert(p.uid);
        Say("pod " + key + ": deleted in the API and not running here: deleting it");
        kube_->DeletePod(p.node, p.ns, p.name, p.uid);
      }
      continue;
    }
    kube_desired_[key] = p;
    d.pods[key] = std::move(p);
  }
  std::erase_if(deleting_, [&](const std::string& uid) { return !uids.contains(uid); });
  Plan plan = MakePlan(d, state_, naming_);
  std::vector<std::string> errors = d.errors;
  errors.insert(errors.end(), plan.errors.begin(), plan.errors.end());
  if (errors != last_errors_) {
    for (const auto& e : errors) Say(e);
    last_errors_ = errors;
  }
  state_.errors = errors;
  bool ok = Apply(plan);
  dirty_ = true;
  return ok;
}

void Supervisor::HandleKube() {
  Kubelets::Drained d = kube_->Drain();
  bool changed = false;
  for (auto& delta : d.pods) {
    changed = true;
    if (delta.op == kube::Delta::kReplace) api_pods_.clear();
    for (auto& obj : delta.objects) {
      std::string key = KeyOf(obj);
      if (delta.op == kube::Delta::kDelete) {
        if (auto it = api_pods_.find(key);
            it != api_pods_.end() && UidOf(it->second) == UidOf(obj)) {
          api_pods_.erase(it);
        }
      } else {
        api_pods_[key] = std::move(obj);
      }
    }
  }
  for (const auto& r : d.prepared) {
    PodState* p = FindPod(r.key);
    if (!p || p->uid != r.uid || p->terminating) continue;
    if (!r.error.empty()) {
      if (p->process.last_exit != r.error) {
        p->process.last_exit = r.error;
        (void)sys::AppendFile(p->process.log,
                              "==> " + sys::Rfc3339Now() + " volumes not ready: " + r.error + "\n");
        dirty_ = true;
      }
      continue;
    }
    pod_rt_[r.key].preparing = false;
    p->launch = r.launch;
    dirty_ = true;
    if (p->process.state == "waiting") StartPod(*p);
  }
  for (const auto& r : d.readiness) {
    PodState* p = FindPod(r.key);
    if (!p || p->uid != r.uid || !p->probed || p->process.state != "running") continue;
    p->probe_ready = r.ready;
    p->ready_changed_ms = sys::WallMs();
    Log("pod " + r.key + ": readiness probe " + (r.ready ? "passes: Ready" : "fails: not Ready"));
    dirty_ = true;
  }
  if (changed) SyncKube();
}

void Supervisor::ReportKube() {
  std::set<std::string> seen;
  for (const auto& p : state_.pods) {
    if (p.uid.empty() || p.terminating) continue;
    auto it = api_pods_.find(p.key());
    if (it == api_pods_.end() || UidOf(it->second) != p.uid) continue;
    const NodeState* n = FindNode(p.node);
    if (!n) continue;
    nlohmann::json patch = k8s::PodStatusPatch(it->second, p, n->underlay_ip);
    seen.insert(p.key());
    if (auto r = reported_.find(p.key()); r != reported_.end() && r->second == patch) continue;
    reported_[p.key()] = patch;
    kube_->ReportStatus(p.node, p.key(), std::move(patch));
  }
  std::erase_if(reported_, [&](const auto& kv) { return !seen.contains(kv.first); });
}

void Supervisor::BeginTermination(PodState& p, int grace_seconds) {
  p.terminating = true;
  std::string key = p.key();
  Runtime& rt = pod_rt_[key];
  rt.restart_at = 0;
  dirty_ = true;
  if (rt.pid <= 0) {
    Say("pod " + key + ": deleted in the API; nothing runs: removing it");
    FinishTermination(key);
    return;
  }
  Say("pod " + key + ": deleted in the API: SIGTERM, SIGKILL after " +
      std::to_string(grace_seconds) + " s");
  (void)sys::AppendFile(p.process.log, "==> " + sys::Rfc3339Now() +
                                           " pod deleted: SIGTERM (grace period " +
                                           std::to_string(grace_seconds) + " s)\n");
  p.process.state = "terminating";
  kill(-rt.pid, SIGTERM);
  kill(rt.pid, SIGTERM);
  rt.kill_at = sys::MonotonicMs() + int64_t{grace_seconds} * 1000;
}

void Supervisor::FinishTermination(const std::string& key) {
  PodState* p = FindPod(key);
  if (!p) return;
  KillSandbox(*p);
  PodState pod = *p;
  const NodeState* node = FindNode(pod.node);
  network::DeletePod(pod, node ? node->netns : "");
  kube_->ForgetPod(pod.uid);
  kube_->ClearProbe(key);
  pod_rt_.erase(key);
  reported_.erase(key);
  std::erase_if(state_.pods, [&](const PodState& q) { return q.key() == key; });
  Say("pod " + key + ": stopped and removed (netns, cgroup); deleting it in the API");
  deleting_.insert(pod.uid);
  kube_->DeletePod(pod.node, pod.ns, pod.name, pod.uid);
  dirty_ = true;
}

void Supervisor::EnsureSandbox(PodState& p) {
  if (p.sandbox_pid > 0 && sandboxes_.contains(p.sandbox_pid)) return;
  SpawnOptions o;
  o.argv = {self_exe_, "pause"};
  o.env = sys::EnvWith({});
  o.netns = network::NetnsPath(p.netns);
  o.cgroup = p.pod_cgroup;
  auto pid = Spawn(o);
  if (!pid.ok()) {
    Log("pod " + p.key() + ": cannot start its sandbox: " + std::string(pid.status().message()));
    return;
  }
  sandboxes_[*pid] = p.key();
  p.sandbox_pid = *pid;
  dirty_ = true;
}

void Supervisor::KillSandbox(PodState& p) {
  if (p.sandbox_pid > 0 && sandboxes_.erase(p.sandbox_pid)) {
    kill(p.sandbox_pid, SIGKILL);
    while (waitpid(p.sandbox_pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  p.sandbox_pid = 0;
}

k8s::LaunchContext Supervisor::LaunchContextFor(const PodState& p) const {
  k8s::LaunchContext ctx;
  ctx.node = p.node;
  ctx.pod_ip = p.ip;
  if (const NodeState* n = state_.FindNode(p.node)) ctx.host_ip = n->underlay_ip;
  ctx.api_host = state_.host_ip;
  ctx.api_port = state_.api_port;
  ctx.bin_dir = state_.bin_dir;
  return ctx;
}

std::vector<std::string> Supervisor::KubeEnv() const {
  std::string port = std::to_string(state_.api_port);
  return {"KUBERNETES_SERVICE_HOST=" + state_.host_ip, "KUBERNETES_SERVICE_PORT=" + port,
          "KUBERNETES_SERVICE_PORT_HTTPS=" + port,
          "KUBERNETES_PORT=tcp://" + state_.host_ip + ":" + port};
}

void Supervisor::WaitNodesReady() {
  int64_t deadline = sys::MonotonicMs() + 60000;
  std::set<std::string> said;
  while (sys::MonotonicMs() < deadline) {
    bool all = true;
    for (const auto& n : state_.nodes) {
      if (!kube_->NodeReady(n.name)) {
        all = false;
      } else if (said.insert(n.name).second) {
        Say("node " + n.name + ": registered, Ready (user system:node:" + n.name + ")");
      }
    }
    if (all) return;
    usleep(100000);
  }
  Say("warning: not every node reported Ready within 60 s (tools/cluster logs --supervisor)");
}

}  // namespace weft::cluster
