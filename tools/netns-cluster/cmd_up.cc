// `up`, `down` and `supervise`: making and removing a cluster.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "absl/status/status.h"
#include "tools/netns-cluster/ca.h"
#include "tools/netns-cluster/commands.h"
#include "tools/netns-cluster/desired.h"
#include "tools/netns-cluster/ipv4.h"
#include "tools/netns-cluster/kube_control.h"
#include "tools/netns-cluster/network.h"
#include "tools/netns-cluster/plan.h"
#include "tools/netns-cluster/supervisor.h"
#include "tools/netns-cluster/sys.h"
#include "tools/netns-cluster/teardown.h"
#include "tools/netns-cluster/waypoints.h"

namespace weft::cluster {

namespace fs = std::filesystem;

namespace {

constexpr char kGlobalLock[] = "/run/weft/cluster.lock";
constexpr int kReadyTimeoutMs = 120000;

// Serialises `up`s and `down`s on this host: underlay choice and bridge creation must not race.
class HostLock {
 public:
  HostLock() {
    (void)sys::MakeDirs("/run/weft");
    fd_ = open(kGlobalLock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~HostLock() { Release(); }
  void Release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

uint32_t HashName(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

bool InUse(const Cidr& c) {
  for (uint32_t a : sys::LocalIpv4Addresses()) {
    if (c.Contains(a)) return true;
  }
  return false;
}

absl::StatusOr<Cidr> ChooseUnderlay(const Naming& naming, const std::string& flag) {
  if (!flag.empty()) {
    auto c = Cidr::Parse(flag);
    if (!c || c->len > 29) {
      return absl::InvalidArgumentError("--underlay \"" + flag +
                                        "\": expected an IPv4 network of /29 or larger, e.g. "
                                        "10.250.7.0/24");
    }
    if (InUse(*c)) {
      return absl::FailedPreconditionError("--underlay " + flag +
                                           " overlaps an address already on this host");
    }
    return *c;
  }
  if (naming.cluster().empty()) {
    Cidr c = *Cidr::Parse("10.250.0.0/24");
    if (InUse(c)) {
      return absl::FailedPreconditionError(
          "10.250.0.0/24 is already used on this host; pass --underlay CIDR");
    }
    return c;
  }
  uint32_t start = HashName(naming.cluster()) % 254;
  for (uint32_t i = 0; i < 254; ++i) {
    uint32_t k = (start + i) % 254 + 1;
    Cidr c{(10u << 24) | (250u << 16) | (k << 8), 24};
    if (!InUse(c)) return c;
  }
  return absl::ResourceExhaustedError("no free /24 in 10.250.0.0/16; pass --underlay CIDR");
}

// Starts `weft-cluster supervise` detached (own session, stdio to its log) and returns the
// read end of its progress pipe.
absl::StatusOr<int> StartSupervisor(const StatePaths& paths) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  std::string self = fs::read_symlink("/proc/self/exe").string();
  pid_t child = fork();
  if (child < 0) return absl::InternalError("fork failed");
  if (child == 0) {
    setsid();
    if (fork() != 0) _exit(0);  // the supervisor is reparented, never our zombie
    int null = open("/dev/null", O_RDONLY);
    int log = open(paths.supervisor_log().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (null < 0 || log < 0 || chdir("/") != 0) _exit(127);
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
    // The progress pipe becomes fd 3 (dup2 clears O_CLOEXEC); nothing else the caller of `up`
    // had open may stay open in the daemon, or a caller reading our output to EOF would hang.
    if (p[1] == 3) {
      fcntl(3, F_SETFD, 0);
    } else {
      dup2(p[1], 3);
    }
    close_range(4, ~0U, 0);
    execl(self.c_str(), self.c_str(), "supervise", "--state", paths.state.c_str(), "--ready-fd",
          "3", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(p[1]);
  waitpid(child, nullptr, 0);
  return p[0];
}

}  // namespace

int Fail(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 1;
}

bool RequireRoot(const char* what) {
  if (geteuid() == 0) return true;
  std::cerr << "error: " << what
            << " needs root (network namespaces, veths, cgroups); run it with sudo\n";
  return false;
}

absl::StatusOr<Context> ResolveContext(const std::string& cluster_flag) {
  std::string cluster = cluster_flag;
  bool given = !cluster.empty();
  if (!given) {
    if (const char* e = getenv("WEFT_CLUSTER"); e && *e) {
      cluster = e;
      given = true;
    }
  }
  auto naming = Naming::For(cluster);
  if (!naming.ok()) return naming.status();
  std::string state_path = naming->DefaultStatePath();
  if (const char* e = getenv("WEFT_CLUSTER_STATE"); e && *e) state_path = e;
  if (!state_path.empty() && state_path[0] != '/') state_path = fs::absolute(state_path).string();
  if (auto st = ReadState(state_path); st.ok() && st->cluster != cluster) {
    if (given) {
      return absl::InvalidArgumentError("state file " + state_path + " belongs to cluster \"" +
                                        st->cluster + "\", not \"" + cluster + "\"");
    }
    naming = Naming::For(st->cluster);
    if (!naming.ok()) return naming.status();
  }
  return Context{*naming, StatePaths::For(state_path)};
}

int CmdUp(const Context& ctx, const UpOptions& o) {
  if (!RequireRoot("up")) return 1;
  std::error_code ec;
  std::string dir;
  if (o.dir.empty()) {
    if (!o.kubernetes) return Fail("up needs -f DIR (only --kubernetes has default nodes)");
  } else {
    if (!fs::is_directory(o.dir, ec)) return Fail("-f " + o.dir + ": not a directory");
    dir = fs::canonical(o.dir, ec).string();
  }
  auto cgroup2 = sys::Cgroup2Mount();
  if (!cgroup2.ok()) return Fail(std::string(cgroup2.status().message()));

  HostLock lock;
  if (pid_t pid = LiveSupervisorPid(ctx.paths); pid != 0) {
    return Fail("the cluster is already up (supervisor pid " + std::to_string(pid) +
                "); run `tools/cluster down` first" +
                (ctx.naming.cluster().empty() ? "" : " (--cluster " + ctx.naming.cluster() + ")"));
  }
  if (AnythingLeft(ctx.naming, ctx.paths, *cgroup2)) {
    std::cout << "cleaning up what a previous run left\n";
    std::optional<State> old;
    if (auto st = ReadState(ctx.paths.state); st.ok()) old = *st;
    Teardown(ctx.naming, ctx.paths, old, {.keep_logs = false, .cgroup2 = *cgroup2}, std::cout);
  }

  if (dir.empty()) {
    // up --kubernetes without -f: the default nodes, in a DIR of the cluster's own (watched
    // like any DIR, removed by `down`).
    dir = ctx.paths.topology_dir();
    if (auto s = sys::MakeDirs(dir); !s.ok()) return Fail(std::string(s.message()));
    if (auto s = sys::AppendFile(dir + "/nodes.yaml", kDefaultTopology); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }
  Desired desired = LoadDesired(dir, nullptr, /*nodes_only=*/o.kubernetes);
  State st;
  st.cluster = ctx.naming.cluster();
  st.prefix = ctx.naming.prefix();
  st.dir = dir;
  st.bridge = ctx.naming.Bridge();
  st.cgroup2 = *cgroup2;
  st.cgroup_base = *cgroup2 + "/" + ctx.naming.base();
  st.bpf_base = ctx.naming.BpfBase();
  st.bin_dir = sys::SelfDir();
  st.agents = !o.no_agents;
  st.agent_bin = o.agent_bin.empty() ? st.bin_dir + "/weft-agent" : o.agent_bin;
  st.agent_args = o.agent_args;
  st.waypoint_bin = o.waypoint_bin.empty() ? st.bin_dir + "/weft-waypoint" : o.waypoint_bin;
  st.waypoint_args = o.waypoint_args;
  auto underlay = ChooseUnderlay(ctx.naming, o.underlay);
  if (!underlay.ok()) return Fail(std::string(underlay.status().message()));
  st.underlay = underlay->ToString();
  st.host_ip = FormatIpv4(underlay->At(1));
  st.ca_dir = ctx.naming.CaDir();
  st.ca_address = st.host_ip + ":" + std::to_string(kCaPort);
  if (o.kubernetes) {
    st.kubernetes = true;
    st.agents = false;  // weft is installed with kubectl: its DaemonSet's pods run here
    st.ca_dir.clear();  // ... and so does its CA
    st.ca_address.clear();
    st.control_plane = ControlPlaneScript();
    st.kube_dir = ctx.paths.kube_dir();
  }

  if (!st.kubernetes) ExpandWaypoints(desired, st, ctx.naming, ctx.paths.state);
  for (const auto& w : desired.warnings) std::cerr << "warning: " << w << "\n";
  Plan plan = MakePlan(desired, st, ctx.naming);
  std::vector<std::string> errors = desired.errors;
  errors.insert(errors.end(), plan.errors.begin(), plan.errors.end());
  if (!errors.empty()) {
    for (const auto& e : errors) std::cerr << e << "\n";
    return Fail(std::to_string(errors.size()) + " error(s) in " + dir + "; nothing was made");
  }
  if (plan.nodes.empty()) {
    std::cerr << "warning: no Node in " << dir << " yet: Nodes and Pods added later are made "
              << "live\n";
  }

  if (auto s = sys::MakeDirs(ctx.paths.dir); !s.ok()) return Fail(std::string(s.message()));
  if (auto s = WriteState(ctx.paths.state, st); !s.ok()) return Fail(std::string(s.message()));
  std::cout << "underlay " << st.bridge << " " << st.underlay << " (host " << st.host_ip << ")\n";
  if (auto s = network::CreateBridge(st.bridge, st.host_ip, underlay->len); !s.ok()) {
    Teardown(ctx.naming, ctx.paths, st, {.cgroup2 = *cgroup2}, std::cerr);
    return Fail("cannot create the bridge: " + std::string(s.message()));
  }
  if (st.kubernetes) {
    // The API server listens on the bridge's host address: the nodes reach it over the
    // underlay, their pods through their node.
    absl::Status s = ChoosePorts(st.host_ip, &st.api_port, &st.etcd_port);
    if (s.ok()) s = WriteState(ctx.paths.state, st);
    if (s.ok()) s = StartControlPlane(st, std::cout);
    if (!s.ok()) {
      std::cerr << "error: the control plane did not start: " << s.message() << "\n";
      Teardown(ctx.naming, ctx.paths, st, {.keep_logs = true, .cgroup2 = *cgroup2}, std::cerr);
      return 1;
    }
  }
  lock.Release();

  auto ready = StartSupervisor(ctx.paths);
  if (!ready.ok()) return Fail(std::string(ready.status().message()));
  std::string buf, line;
  bool ok = false, done = false;
  int64_t deadline = sys::MonotonicMs() + kReadyTimeoutMs;
  char chunk[4096];
  while (!done && sys::MonotonicMs() < deadline) {
    ssize_t n = read(*ready, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (line == "READY") {
        ok = done = true;
      } else if (line.starts_with("FAILED")) {
        std::cerr << "error: " << line.substr(std::min<size_t>(7, line.size())) << "\n";
        done = true;
      } else {
        std::cout << line << "\n";
      }
    }
  }
  close(*ready);
  if (!ok) {
    if (!done) std::cerr << "error: the supervisor stopped before the cluster was ready\n";
    std::cerr << "supervisor log: " << ctx.paths.supervisor_log() << "; cleaning up\n";
    auto now = ReadState(ctx.paths.state);
    Teardown(ctx.naming, ctx.paths, now.ok() ? std::optional<State>(*now) : st,
             {.keep_logs = true, .cgroup2 = *cgroup2}, std::cerr);
    return 1;
  }
  std::cout << "\n";
  CmdStatus(ctx, /*json=*/false);
  return 0;
}

int CmdDown(const Context& ctx, bool keep_logs) {
  if (!RequireRoot("down")) return 1;
  auto cgroup2 = sys::Cgroup2Mount();
  HostLock lock;
  std::optional<State> st;
  if (auto s = ReadState(ctx.paths.state); s.ok()) {
    st = *s;
  } else if (!absl::IsNotFound(s.status())) {
    std::cerr << "warning: " << s.status().message() << "; removing by name prefix only\n";
  }
  int n = Teardown(ctx.naming, ctx.paths, st,
                   {.keep_logs = keep_logs, .cgroup2 = cgroup2.ok() ? *cgroup2 : ""}, std::cout);
  std::cout << (n == 0 ? "nothing to remove\n" : "cluster removed\n");
  return 0;
}

int CmdSupervise(const std::string& state_path, int ready_fd) {
  if (ready_fd >= 0) fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
  auto s = Supervisor::Create(state_path, ready_fd);
  if (!s.ok()) {
    std::string msg = "FAILED " + std::string(s.status().message()) + "\n";
    std::cerr << msg;
    if (ready_fd >= 0) (void)!write(ready_fd, msg.data(), msg.size());
    return 1;
  }
  return (*s)->Run();
}

}  // namespace weft::cluster
