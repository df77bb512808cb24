#include "tools/netns-cluster/launch.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tools/netns-cluster/kube_pods.h"
#include "tools/netns-cluster/sys.h"

namespace weft::cluster {

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "weft-cluster launch: %s\n", what.c_str());
  std::fflush(stderr);
  _exit(127);
}

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Binds the opened file `fd` (an O_PATH descriptor of `source`, named in messages) at `target`.
void Bind(int fd, const std::string& source, const std::string& target, bool readonly) {
  std::string fd_path = "/proc/self/fd/" + std::to_string(fd);
  if (mount(fd_path.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    Die(Errno("bind " + source + " at " + target));
  }
  if (readonly &&
      mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    Die(Errno("read-only " + target));
  }
}

// In the calling process (a child for init containers): namespaces, mounts, exec.
[[noreturn]] void RunContainer(const k8s::LaunchSpec& spec, const k8s::ContainerLaunch& c) {
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0) Die(Errno("unshare"));
  // Slave: mounts made here stay here; mounts the host makes later still arrive.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) Die(Errno("make / rslave"));
  if (!spec.hostname.empty() && sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
    Die(Errno("sethostname " + spec.hostname));
  }
  // Every source is opened before anything is mounted: a mount may cover a later one's source
  // (hostPath /run/weft over a pod's volumes in /run/weft/cluster/pods). Bound through
  // /proc/self/fd, the opened file is what is mounted, whatever covers its path by then.
  auto open_source = [](const std::string& source) {
    int fd = open(source.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) Die(Errno("open " + source));
    return fd;
  };
  int bin_fd = spec.bin_dir.empty() ? -1 : open_source(spec.bin_dir);
  std::vector<int> fds;
  for (const auto& m : c.mounts) fds.push_back(open_source(m.source));
  if (bin_fd >= 0) Bind(bin_fd, spec.bin_dir, k8s::kImageBinDir, /*readonly=*/true);
  for (size_t i = 0; i < c.mounts.size(); ++i) {
    const auto& m = c.mounts[i];
    if (!sys::Exists(m.target)) {
      // The stand-in makes missing mount points before the launch; a race or a hand-written
      // spec: make it here (a directory for a directory, else an empty file).
      struct stat st;
      if (fstat(fds[i], &st) == 0 && S_ISDIR(st.st_mode)) {
        (void)sys::MakeDirs(m.target);
      } else {
        (void)sys::AppendFile(m.target, "");
      }
    }
    Bind(fds[i], m.source, m.target, m.readonly);
  }
  for (int fd : fds) close(fd);
  if (bin_fd >= 0) close(bin_fd);
  std::string dir = c.workdir.empty() ? "/" : c.workdir;
  if (chdir(dir.c_str()) != 0) Die(Errno("chdir " + dir));
  std::vector<char*> argv, envp;
  for (const auto& a : c.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : c.env) {
    envp.push_back(const_cast<char*>(e.c_str()));
    // execvpe searches the PATH of this process: make it the container's.
    if (e.starts_with("PATH=")) setenv("PATH", e.c_str() + 5, 1);
  }
  envp.push_back(nullptr);
  execvpe(argv[0], argv.data(), envp.data());
  Die(Errno("container " + c.name + ": exec " + c.argv[0]));
}

}  // namespace

int CmdLaunch(const std::string& spec_file) {
  auto text = sys::ReadFile(spec_file);
  if (!text.ok()) Die(std::string(text.status().message()));
  auto j = nlohmann::json::parse(*text, nullptr, false);
  auto spec = k8s::LaunchSpecFromJson(j);
  if (!spec.ok()) Die(spec_file + ": " + std::string(spec.status().message()));
  for (const auto& c : spec->init) {
    std::fprintf(stderr, "weft-cluster launch: %s: init container %s\n", spec->pod.c_str(),
                 c.name.c_str());
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) Die(Errno("fork"));
    if (pid == 0) RunContainer(*spec, c);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "weft-cluster launch: %s: init container %s failed (%s)\n",
                   spec->pod.c_str(), c.name.c_str(), sys::DescribeWaitStatus(status).c_str());
      return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
  }
  RunContainer(*spec, spec->main);
}

int CmdPause() {
  // SIGTERM and SIGINT keep their default action (the spawner reset them): they end it.
  while (true) pause();
}

}  // namespace weft::cluster
