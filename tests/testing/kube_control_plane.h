#pragma once

// A real Kubernetes control plane for a test (tools/kube/control-plane in a scratch directory,
// on free loopback ports): etcd and kube-apiserver, and with `controllers` the controller
// manager and the scheduler. Missing binaries: the test skips, except under CI=true.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace weft::testing {

inline std::string KubeBinDir() {
  const char* cache = std::getenv("WEFT_CACHE");
  return std::string(cache && *cache ? cache : "/var/cache/weft") + "/go/bin";
}

inline bool UnderCi() {
  const char* ci = std::getenv("CI");
  return ci && *ci && std::string(ci) != "false";
}

// A TCP port free on 127.0.0.1 now (and, for etcd, the next one too, probably).
inline int FreePort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    int port = ntohs(a.sin_port);
    if (port < 60000) return port;
  }
  return 0;
}

// A port free on 127.0.0.1 now whose next port is free too: etcd listens on both (clients on
// the port, peers on the next; tools/kube/control-plane).
inline int FreePortPair() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int port = FreePort();
    if (port == 0) continue;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port + 1));
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (free) return port;
  }
  return 0;
}

// The last `lines` lines of a file ("" when it cannot be read).
inline std::string Tail(const std::string& path, size_t lines) {
  FILE* f = fopen(path.c_str(), "r");
  if (!f) return "";
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  fclose(f);
  size_t pos = s.size();
  for (size_t i = 0; i <= lines && pos > 0; ++i) pos = s.rfind('\n', pos - 1);
  return pos == std::string::npos ? s : s.substr(pos + 1);
}

class KubeControlPlane {
 public:
  // Starts it; on failure `error` says why (the caller FAILs or skips).
  explicit KubeControlPlane(bool controllers, std::vector<std::string> apiserver_args = {}) {
    if (access((KubeBinDir() + "/weft-kube").c_str(), X_OK) != 0) {
      error = "no " + KubeBinDir() + "/weft-kube (tools/setup-go-tools builds it)";
      missing = true;
      return;
    }
    char tmpl[] = "/tmp/weft-kube-test.XXXXXX";
    dir = mkdtemp(tmpl);
    api_port = FreePort();
    int etcd_port = FreePortPair();
    std::string cmd = Script() + " up " + dir + " --api-port " + std::to_string(api_port) +
                      " --etcd-port " + std::to_string(etcd_port);
    if (!controllers) cmd += " --no-controllers";
    for (const auto& a : apiserver_args) cmd += " --apiserver-arg=" + a;
    if (std::system((cmd + " >" + dir + "/up.log 2>&1").c_str()) != 0) {
      // The directory goes with this object: the logs' ends go into the message.
      error = "tools/kube/control-plane up failed (api port " + std::to_string(api_port) +
              ", etcd ports " + std::to_string(etcd_port) + "-" + std::to_string(etcd_port + 1) +
              "):\n" + Tail(dir + "/up.log", 5);
      for (const char* log : {"etcd.log", "kube-apiserver.log"}) {
        std::string tail = Tail(dir + "/" + log, 3);
        if (!tail.empty()) error += "--- " + std::string(log) + ":\n" + tail;
      }
    }
  }
  ~KubeControlPlane() {
    if (!dir.empty()) (void)std::system((Script() + " down " + dir + " >/dev/null 2>&1").c_str());
  }
  bool ok() const { return error.empty(); }
  std::string kubeconfig() const { return dir + "/admin.kubeconfig"; }

  // Stops / starts one component (kube-apiserver, etcd, ...) with the same flags.
  bool Stop(const std::string& component) {
    return std::system(
               (Script() + " stop " + dir + " " + component + " >/dev/null 2>&1").c_str()) == 0;
  }
  bool Start(const std::string& component) {
    return std::system((Script() + " start " + dir + " " + component + " >>" + dir + "/up.log 2>&1")
                           .c_str()) == 0;
  }
  // kubectl as the admin; returns its exit status, output in `out`.
  int Kubectl(const std::string& args, std::string* out = nullptr) const {
    std::string cmd = KubeBinDir() + "/kubectl --kubeconfig " + kubeconfig() + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) s.append(buf, n);
    int rc = pclose(p);
    if (out) *out = s;
    return rc;
  }

  static std::string Script() { return std::string(WEFT_SOURCE_DIR) + "/tools/kube/control-plane"; }

  std::string dir;
  int api_port = 0;
  std::string error;
  bool missing = false;
};

}  // namespace weft::testing

// Starts `var` (a KubeControlPlane) or ends the test: skip without binaries outside CI.
#define WEFT_KUBE_CONTROL_PLANE(var, ...)                                      \
  ::weft::testing::KubeControlPlane var(__VA_ARGS__);                          \
  do {                                                                         \
    if (var.missing && !::weft::testing::UnderCi()) GTEST_SKIP() << var.error; \
    ASSERT_TRUE(var.ok()) << var.error;                                        \
  } while (0)
