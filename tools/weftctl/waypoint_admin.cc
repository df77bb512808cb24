#include "tools/weftctl/waypoint_admin.h"

#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tools/weftctl/node.h"
#include "tools/weftctl/waypoint_pods.h"

namespace weft::weftctl {

using nlohmann::json;

namespace {

std::string Str(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  return v.dump();
}

// The netns prefix of a tools/cluster cluster (tools/netns-cluster/naming.h): "weft-" or
// "weft-C-".
std::string ClusterPrefix(const std::string& cluster) {
  std::string name = cluster;
  if (name.empty()) {
    if (const char* e = std::getenv("WEFT_CLUSTER"); e && *e) name = e;
  }
  if (name.empty() || name == "default") return "weft-";
  return "weft-" + name + "-";
}

std::string Pad(const std::string& s, size_t w) {
  return s + std::string(w - std::min(w, s.size()) + 2, ' ');
}

}  // namespace

std::string RenderWaypointClustersText(const std::string& clusters_json) {
  json all = json::parse(clusters_json, nullptr, false);
  if (all.is_discarded() || !all.is_array()) return "unreadable answer\n";
  std::ostringstream o;
  for (const auto& c : all) {
    o << Str(c.value("name", json())) << "  (" << Str(c.value("protocol", json())) << ", "
      << Str(c.value("load_balancer", json())) << ")\n";
    const json cb = c.value("circuit_breakers", json::object());
    if (!cb.empty()) {
      o << "  circuit breakers: connections " << Str(cb["connections"]) << "/"
        << Str(cb["max_connections"]) << ", pending " << Str(cb["pending_requests"]) << "/"
        << Str(cb["max_pending_requests"]) << ", requests " << Str(cb["active_requests"]) << "/"
        << Str(cb["max_requests"]) << ", retries " << Str(cb["active_retries"]) << "/"
        << Str(cb["max_retries"]) << "; overflows: requests "
        << Str(cb["upstream_rq_pending_overflow"]) << ", connections "
        << Str(cb["upstream_cx_overflow"]) << ", retries " << Str(cb["upstream_rq_retry_overflow"])
        << "\n";
    }
    const json od = c.value("outlier_detection", json::object());
    if (od.value("enabled", false)) {
      o << "  outlier detection: " << Str(od["ejected_now"]) << " ejected now, "
        << Str(od["ejections_total"]) << " ejections in all\n";
    }
    const json r = c.value("retries", json::object());
    if (!r.empty()) {
      o << "  retries " << Str(r["upstream_rq_retry"]) << " (succeeded "
        << Str(r["upstream_rq_retry_success"]) << ", limit reached "
        << Str(r["upstream_rq_retry_limit_exceeded"]) << "), timeouts "
        << Str(r["upstream_rq_timeout"]) << ", per-try timeouts "
        << Str(r["upstream_rq_per_try_timeout"]);
      if (r.contains("budget")) {
        o << ", budget: " << Str(r["budget"]["available"]) << " available, "
          << Str(r["budget"]["exceeded"]) << " refused";
      }
      o << "\n";
    }
    std::vector<std::vector<std::string>> rows = {
        {"ENDPOINT", "HEALTH", "EJECTIONS", "REQUESTS", "ACTIVE", "ERRORS", "CONNECT-FAIL"}};
    for (const auto& e : c.value("endpoints", json::array())) {
      const json out = e.value("outlier", json::object());
      rows.push_back({Str(e["address"]) + ":" + Str(e["port"]), Str(e["health"]),
                      out.contains("ejections") ? Str(out["ejections"]) : "0", Str(e["requests"]),
                      Str(e["active"]), Str(e["errors"]), Str(e["connect_failures"])});
    }
    std::vector<size_t> w(rows[0].size(), 0);
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
    }
    for (const auto& row : rows) {
      o << "  ";
      for (size_t i = 0; i < row.size(); ++i)
        o << (i + 1 < row.size() ? Pad(row[i], w[i]) : row[i]);
      o << "\n";
    }
  }
  return o.str();
}

void AddWaypointAdminCommands(CLI::App& waypoint, WaypointAdminOptions& o, std::string& which) {
  for (const auto& [name, help] :
       {std::pair<std::string, std::string>{
            "clusters",
            "A running waypoint's clusters: circuit breakers, outlier detection (ejected "
            "endpoints), retries, endpoints with health and counts (its admin /clusters)"},
        {"stats", "A running waypoint's counters (its admin /stats, JSON)"}}) {
    CLI::App* c = waypoint.add_subcommand(name, help);
    c->add_option("-n,--namespace", o.ns, "Namespace of the waypoint")->required();
    c->add_option("--name", o.name, "Name of the waypoint (its Gateway)")->capture_default_str();
    c->add_option(
        "--cluster", o.cluster,
        "Local mode: the tools/cluster cluster running it ($WEFT_CLUSTER or the default)");
    c->add_option("--admin", o.admin, "HOST:PORT of the waypoint's admin (skips the pod lookup)");
    c->add_flag("--json", o.json, "The admin's JSON as it is");
    c->callback([&which, name = name] { which = name; });
  }
}

int RunWaypointAdminCommand(const WaypointAdminOptions& o, const std::string& which) {
  std::string netns, host = "127.0.0.1";
  uint16_t port = 15000;
  if (!o.admin.empty()) {
    size_t colon = o.admin.rfind(':');
    if (colon == std::string::npos) {
      std::cerr << "weftctl: --admin wants HOST:PORT\n";
      return 2;
    }
    host = o.admin.substr(0, colon);
    port = static_cast<uint16_t>(std::atoi(o.admin.c_str() + colon + 1));
  } else {
    auto lc = ReadLocalCluster(ClusterStatePath(o.cluster));
    if (!lc.ok()) {
      std::cerr << "weftctl: " << lc.status().message() << "\n";
      return 2;
    }
    const WaypointPod* pod = nullptr;
    for (const auto& p : lc->pods) {
      if (p.ns == o.ns && p.gateway == o.name) pod = &p;
    }
    if (!pod) {
      std::cerr << "weftctl: the cluster runs no pod for waypoint " << o.ns << "/" << o.name
                << " (`weftctl waypoint list` shows the waypoints)\n";
      return 1;
    }
    netns = "/run/netns/" + ClusterPrefix(o.cluster) + "pod-" + pod->ns + "-" + pod->name;
  }
  auto body = HttpGet(netns, host, port, "/" + which);
  if (!body.ok()) {
    std::cerr << "weftctl: " << body.status().message() << "\n";
    return 1;
  }
  if (o.json || which == "stats") {
    std::cout << *body << (body->empty() || body->back() != '\n' ? "\n" : "");
  } else {
    std::cout << RenderWaypointClustersText(*body);
  }
  return 0;
}

}  // namespace weft::weftctl
