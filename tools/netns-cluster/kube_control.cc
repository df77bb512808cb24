#include "tools/netns-cluster/kube_control.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/status/status.h"
#include "tools/netns-cluster/sys.h"

#ifndef WEFT_SOURCE_DIR
#define WEFT_SOURCE_DIR "."
#endif

namespace weft::cluster {

namespace fs = std::filesystem;

const char kDefaultTopology[] =
    R"(# The default nodes of `tools/cluster up --kubernetes` (no -f): two nodes in two zones.
apiVersion: v1
kind: Node
metadata:
  name: node1
  labels:
    topology.kubernetes.io/region: local
    topology.kubernetes.io/zone: zone-a
---
apiVersion: v1
kind: Node
metadata:
  name: node2
  labels:
    topology.kubernetes.io/region: local
    topology.kubernetes.io/zone: zone-b
)";

namespace {

bool PortFree(const std::string& ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string ControlPlaneScript() {
  if (const char* e = getenv("WEFT_KUBE_CONTROL_PLANE"); e && *e) return e;
  return std::string(WEFT_SOURCE_DIR) + "/tools/kube/control-plane";
}

absl::Status ChoosePorts(const std::string& host_ip, int* api_port, int* etcd_port) {
  *api_port = *etcd_port = 0;
  for (int p = kApiPort; p < kApiPort + 2000; p += 20) {
    if (PortFree(host_ip, p) && PortFree("127.0.0.1", p + 10) && PortFree("127.0.0.1", p + 11)) {
      *api_port = p;
      break;
    }
  }
  for (int p = kEtcdPort; p < kEtcdPort + 2000; p += 10) {
    if (PortFree("127.0.0.1", p) && PortFree("127.0.0.1", p + 1)) {
      *etcd_port = p;
      break;
    }
  }
  if (!*api_port || !*etcd_port) {
    return absl::ResourceExhaustedError("no free ports for the API server and etcd");
  }
  return absl::OkStatus();
}

absl::Status StartControlPlane(const State& st, std::ostream& out) {
  if (access(st.control_plane.c_str(), X_OK) != 0) {
    return absl::NotFoundError("the control plane script " + st.control_plane +
                               " is missing (set WEFT_KUBE_CONTROL_PLANE)");
  }
  out << "control plane: etcd 127.0.0.1:" << st.etcd_port << ", kube-apiserver " << st.api_server()
      << " (in " << st.kube_dir << "; a few seconds)" << std::endl;
  auto r = sys::Run({st.control_plane, "up", st.kube_dir, "--address", st.host_ip, "--api-port",
                     std::to_string(st.api_port), "--etcd-port", std::to_string(st.etcd_port),
                     "--service-cidr", kServiceCidr},
                    180000);
  if (!r.ok()) return r.status();
  out << *r;
  return absl::OkStatus();
}

void StopControlPlane(const std::string& script, const std::string& kube_dir,
                      const std::string& keep_logs_dir, std::ostream& out) {
  if (kube_dir.empty() || !sys::Exists(kube_dir)) return;
  if (!keep_logs_dir.empty()) {
    std::error_code ec;
    fs::create_directories(keep_logs_dir, ec);
    for (auto it = fs::directory_iterator(kube_dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      if (it->path().extension() == ".log") {
        fs::copy_file(it->path(), fs::path(keep_logs_dir) / it->path().filename(),
                      fs::copy_options::overwrite_existing, ec);
      }
    }
  }
  // Everything of it is thrown away: SIGKILL at once rather than the script's graceful stop
  // (up to 5 s per component), then the script for the rest, then the dir in any case.
  std::vector<pid_t> pids;
  std::error_code ec;
  for (auto it = fs::directory_iterator(kube_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->path().extension() != ".pid") continue;
    auto pid = sys::ReadFile(it->path().string());
    if (pid.ok() && atoi(pid->c_str()) > 1) pids.push_back(atoi(pid->c_str()));
  }
  sys::KillAndWait(pids, 5000);
  std::string s = script.empty() ? ControlPlaneScript() : script;
  if (auto r = sys::Run({s, "down", kube_dir}, 60000); !r.ok()) {
    out << "warning: " << r.status().message() << "\n";
  }
  (void)sys::RemoveTree(kube_dir);
  out << "stopped the control plane (" << kube_dir << ")\n";
}

absl::StatusOr<std::string> NodeCredentials(const State& st, const std::string& node) {
  std::string kubeconfig = st.kube_dir + "/system:node:" + node + ".kubeconfig";
  if (sys::Exists(kubeconfig)) return kubeconfig;
  auto r = sys::Run({st.control_plane, "user", st.kube_dir, "system:node:" + node, "system:nodes"});
  if (!r.ok()) return r.status();
  return kubeconfig;
}

}  // namespace weft::cluster
