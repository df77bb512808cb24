#include "tools/weftctl/waypoint_pods.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace weft::weftctl {

namespace {

bool Alive(int pid) {
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

std::string Describe(const WaypointPod& p) {
  if (p.state == "running") {
    return Alive(p.pid) ? "running (pid " + std::to_string(p.pid) + ")" : "restarting";
  }
  if (p.state == "none") return "no command";
  return p.state;
}

}  // namespace

std::string ClusterStatePath(const std::string& cluster) {
  if (const char* e = std::getenv("WEFT_CLUSTER_STATE"); e && *e) return e;
  std::string name = cluster;
  if (name.empty()) {
    if (const char* e = std::getenv("WEFT_CLUSTER"); e && *e) name = e;
  }
  if (name.empty() || name == "default") return "/run/weft/cluster/state.json";
  return "/run/weft/cluster-" + name + "/state.json";
}

absl::StatusOr<LocalCluster> ReadLocalCluster(const std::string& state_path) {
  std::ifstream in(state_path);
  if (!in) {
    return absl::NotFoundError("no local cluster is up (no state file " + state_path +
                               "); start one with `tools/cluster up -f DIR`, or give -f");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(state_path + ": not a tools/cluster state file");
  }
  LocalCluster out;
  out.state_path = state_path;
  out.dir = j.value("dir", "");
  for (const auto& p : j.value("pods", nlohmann::json::array())) {
    if (!p.is_object() || p.value("gateway", "").empty()) continue;
    WaypointPod w;
    w.ns = p.value("namespace", "");
    w.gateway = p.value("gateway", "");
    w.name = p.value("name", "");
    w.node = p.value("node", "");
    w.ip = p.value("ip", "");
    if (auto pr = p.find("process"); pr != p.end() && pr->is_object()) {
      w.state = pr->value("state", "");
      w.pid = pr->value("pid", 0);
      w.restarts = pr->value("restarts", 0);
    }
    w.process = Describe(w);
    out.pods.push_back(std::move(w));
  }
  return out;
}

std::string RenderWaypointPodsText(const config::v1::MeshSnapshot& snapshot,
                                   const LocalCluster& cluster) {
  std::vector<std::vector<std::string>> rows = {
      {"NAMESPACE", "NAME", "POD", "NODE", "IP", "PROCESS", "RESTARTS"}};
  for (const auto& w : snapshot.waypoints()) {
    bool any = false;
    for (const auto& p : cluster.pods) {
      if (p.ns != w.namespace_() || p.gateway != w.name()) continue;
      rows.push_back({w.namespace_(), w.name(), p.name, p.node, p.ip.empty() ? "-" : p.ip,
                      p.process, std::to_string(p.restarts)});
      any = true;
    }
    if (!any) rows.push_back({w.namespace_(), w.name(), "-", "-", "-", "no pod", "-"});
  }
  std::vector<size_t> width;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  }
  std::string out = "\nPods (tools/cluster, " + cluster.state_path + ")\n";
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string AddWaypointPodsJson(const std::string& waypoints_json, const LocalCluster& cluster) {
  auto j = nlohmann::ordered_json::parse(waypoints_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return waypoints_json;
  for (auto& w : j) {
    nlohmann::ordered_json pods = nlohmann::ordered_json::array();
    for (const auto& p : cluster.pods) {
      if (p.ns != w.value("namespace", "") || p.gateway != w.value("name", "")) continue;
      pods.push_back({{"name", p.name},
                      {"node", p.node},
                      {"ip", p.ip},
                      {"state", p.state == "running" && !Alive(p.pid) ? "restarting" : p.state},
                      {"pid", p.pid},
                      {"restarts", p.restarts}});
    }
    w["pods"] = std::move(pods);
  }
  return j.dump(2) + "\n";
}

}  // namespace weft::weftctl
