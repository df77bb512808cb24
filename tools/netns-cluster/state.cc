#include "tools/netns-cluster/state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/status/status.h"

namespace weft::cluster {

using nlohmann::json;

void to_json(json& j, const ProcessState& p) {
  j = json{{"state", p.state},
           {"pid", p.pid},
           {"restarts", p.restarts},
           {"started_at_ms", p.started_at_ms},
           {"finished_at_ms", p.finished_at_ms},
           {"last_exit", p.last_exit},
           {"log", p.log}};
}

void from_json(const json& j, ProcessState& p) {
  p.state = j.value("state", "none");
  p.pid = j.value("pid", 0);
  p.restarts = j.value("restarts", 0);
  p.started_at_ms = j.value("started_at_ms", int64_t{0});
  p.finished_at_ms = j.value("finished_at_ms", int64_t{0});
  p.last_exit = j.value("last_exit", "");
  p.log = j.value("log", "");
}

void to_json(json& j, const NodeState& n) {
  j = json{{"name", n.name},
           {"index", n.index},
           {"netns", n.netns},
           {"host_veth", n.host_veth},
           {"underlay_ip", n.underlay_ip},
           {"pod_cidr", n.pod_cidr},
           {"pod_cidr_assigned", n.pod_cidr_assigned},
           {"bridge_ip", n.bridge_ip},
           {"cgroup", n.cgroup},
           {"bpf_root", n.bpf_root},
           {"run_dir", n.run_dir},
           {"node_cert", n.node_cert},
           {"node_key", n.node_key},
           {"agent", n.agent},
           {"labels", n.labels},
           {"kubeconfig", n.kubeconfig},
           {"last_pod_ip", n.last_pod_ip}};
}

void from_json(const json& j, NodeState& n) {
  n.name = j.at("name").get<std::string>();
  n.index = j.value("index", 0);
  n.netns = j.value("netns", "");
  n.host_veth = j.value("host_veth", "");
  n.underlay_ip = j.value("underlay_ip", "");
  n.pod_cidr = j.value("pod_cidr", "");
  n.pod_cidr_assigned = j.value("pod_cidr_assigned", false);
  n.bridge_ip = j.value("bridge_ip", "");
  n.cgroup = j.value("cgroup", "");
  n.bpf_root = j.value("bpf_root", "");
  n.run_dir = j.value("run_dir", "");
  n.node_cert = j.value("node_cert", "");
  n.node_key = j.value("node_key", "");
  if (j.contains("agent")) n.agent = j.at("agent").get<ProcessState>();
  n.labels = j.value("labels", std::map<std::string, std::string>{});
  n.kubeconfig = j.value("kubeconfig", "");
  n.last_pod_ip = j.value("last_pod_ip", "");
}

void to_json(json& j, const PodState& p) {
  j = json{{"namespace", p.ns},
           {"name", p.name},
           {"node", p.node},
           {"netns", p.netns},
           {"veth", p.veth},
           {"ip", p.ip},
           {"ip_assigned", p.ip_assigned},
           {"cgroup", p.cgroup},
           {"run", p.run},
           {"file", p.file},
           {"gateway", p.gateway},
           {"process", p.process}};
  if (!p.uid.empty()) {
    j.update(json{{"uid", p.uid},
                  {"host_network", p.host_network},
                  {"pod_cgroup", p.pod_cgroup},
                  {"workload", p.workload},
                  {"container", p.container},
                  {"image", p.image},
                  {"restart_policy", p.restart_policy},
                  {"launch", p.launch},
                  {"terminating", p.terminating},
                  {"created_at_ms", p.created_at_ms},
                  {"sandbox_pid", p.sandbox_pid},
                  {"probed", p.probed},
                  {"probe_ready", p.probe_ready},
                  {"ready_changed_ms", p.ready_changed_ms}});
  }
}

void from_json(const json& j, PodState& p) {
  p.ns = j.at("namespace").get<std::string>();
  p.name = j.at("name").get<std::string>();
  p.node = j.value("node", "");
  p.netns = j.value("netns", "");
  p.veth = j.value("veth", "");
  p.ip = j.value("ip", "");
  p.ip_assigned = j.value("ip_assigned", false);
  p.cgroup = j.value("cgroup", "");
  p.run = j.value("run", "");
  p.file = j.value("file", "");
  p.gateway = j.value("gateway", "");
  if (j.contains("process")) p.process = j.at("process").get<ProcessState>();
  p.uid = j.value("uid", "");
  p.host_network = j.value("host_network", false);
  p.pod_cgroup = j.value("pod_cgroup", "");
  p.workload = j.value("workload", "");
  p.container = j.value("container", "");
  p.image = j.value("image", "");
  p.restart_policy = j.value("restart_policy", "");
  p.launch = j.value("launch", "");
  p.terminating = j.value("terminating", false);
  p.created_at_ms = j.value("created_at_ms", int64_t{0});
  p.sandbox_pid = j.value("sandbox_pid", 0);
  p.probed = j.value("probed", false);
  p.probe_ready = j.value("probe_ready", false);
  p.ready_changed_ms = j.value("ready_changed_ms", int64_t{0});
}

const NodeState* State::FindNode(const std::string& name) const {
  for (const auto& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

const PodState* State::FindPod(const std::string& ns, const std::string& name) const {
  for (const auto& p : pods) {
    if (p.ns == ns && p.name == name) return &p;
  }
  return nullptr;
}

std::string ToJson(const State& s) {
  json j{{"version", s.version},
         {"cluster", s.cluster},
         {"prefix", s.prefix},
         {"dir", s.dir},
         {"bridge", s.bridge},
         {"underlay", s.underlay},
         {"host_ip", s.host_ip},
         {"cgroup2", s.cgroup2},
         {"cgroup_base", s.cgroup_base},
         {"bpf_base", s.bpf_base},
         {"bin_dir", s.bin_dir},
         {"agents", s.agents},
         {"agent_bin", s.agent_bin},
         {"agent_args", s.agent_args},
         {"waypoint_bin", s.waypoint_bin},
         {"waypoint_args", s.waypoint_args},
         {"supervisor_pid", s.supervisor_pid},
         {"ca_dir", s.ca_dir},
         {"ca_address", s.ca_address},
         {"trust_domain", s.trust_domain},
         {"ca", s.ca},
         {"kubernetes", s.kubernetes},
         {"control_plane", s.control_plane},
         {"kube_dir", s.kube_dir},
         {"api_port", s.api_port},
         {"etcd_port", s.etcd_port},
         {"updated_at", s.updated_at},
         {"nodes", s.nodes},
         {"pods", s.pods},
         {"errors", s.errors},
         {"warnings", s.warnings}};
  return j.dump(2) + "\n";
}

absl::StatusOr<State> FromJson(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError("state file is not JSON");
  try {
    State s;
    s.version = j.value("version", 0);
    if (s.version != 1) {
      return absl::FailedPreconditionError("state file version " + std::to_string(s.version) +
                                           " is not supported (expected 1)");
    }
    s.cluster = j.value("cluster", "");
    s.prefix = j.value("prefix", "");
    s.dir = j.value("dir", "");
    s.bridge = j.value("bridge", "");
    s.underlay = j.value("underlay", "");
    s.host_ip = j.value("host_ip", "");
    s.cgroup2 = j.value("cgroup2", "");
    s.cgroup_base = j.value("cgroup_base", "");
    s.bpf_base = j.value("bpf_base", "");
    s.bin_dir = j.value("bin_dir", "");
    s.agents = j.value("agents", true);
    s.agent_bin = j.value("agent_bin", "");
    s.agent_args = j.value("agent_args", std::vector<std::string>{});
    s.waypoint_bin = j.value("waypoint_bin", "");
    s.waypoint_args = j.value("waypoint_args", std::vector<std::string>{});
    s.supervisor_pid = j.value("supervisor_pid", 0);
    s.ca_dir = j.value("ca_dir", "");
    s.ca_address = j.value("ca_address", "");
    s.trust_domain = j.value("trust_domain", "cluster.local");
    if (j.contains("ca")) s.ca = j.at("ca").get<ProcessState>();
    s.kubernetes = j.value("kubernetes", false);
    s.control_plane = j.value("control_plane", "");
    s.kube_dir = j.value("kube_dir", "");
    s.api_port = j.value("api_port", 0);
    s.etcd_port = j.value("etcd_port", 0);
    s.updated_at = j.value("updated_at", "");
    s.nodes = j.value("nodes", std::vector<NodeState>{});
    s.pods = j.value("pods", std::vector<PodState>{});
    s.errors = j.value("errors", std::vector<std::string>{});
    s.warnings = j.value("warnings", std::vector<std::string>{});
    return s;
  } catch (const json::exception& e) {
    return absl::DataLossError(std::string("state file: ") + e.what());
  }
}

absl::Status WriteState(const std::string& path, const State& s) {
  std::string tmp = path + ".tmp";
  std::string text = ToJson(s);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError("cannot write " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      close(fd);
      return absl::InternalError("cannot write " + tmp + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError("cannot rename " + tmp + ": " + std::strerror(errno));
  }
  return absl::OkStatus();
}

absl::StatusOr<State> ReadState(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return absl::NotFoundError("no state file " + path);
    return absl::InternalError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto s = FromJson(ss.str());
  if (!s.ok())
    return absl::Status(s.status().code(), path + ": " + std::string(s.status().message()));
  return s;
}

}  // namespace weft::cluster
