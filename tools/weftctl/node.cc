// `weftctl node ...`: reads a running agent's admin endpoint (127.0.0.1:15000 in the agent's
// network namespace) and prints it for people. In local mode `--node NAME` enters the node's
// namespace (weft-node-NAME) first; `--admin HOST:PORT` talks to any address instead.

#include "tools/weftctl/node.h"

#include "tools/weftctl/certs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace weft::weftctl {

using nlohmann::json;

absl::StatusOr<std::string> HttpGet(const std::string& netns_path, const std::string& host,
                                    uint16_t port, const std::string& path) {
  int self = -1;
  if (!netns_path.empty()) {
    int ns = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      return absl::NotFoundError("cannot open " + netns_path +
                                 " (is the node up? `tools/cluster status`; root needed)");
    }
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (setns(ns, CLONE_NEWNET) != 0) {
      close(ns);
      return absl::PermissionDeniedError("setns into " + netns_path + ": " + strerror(errno));
    }
    close(ns);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (self >= 0) {
    (void)setns(self, CLONE_NEWNET);
    close(self);
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    close(fd);
    return absl::InvalidArgumentError("bad admin address " + host);
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return absl::UnavailableError("no agent answers on " + host + ":" + std::to_string(port) +
                                  (netns_path.empty() ? "" : " in " + netns_path));
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: weft\r\nConnection: close\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string resp;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) break;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    resp.append(buf, n);
  }
  close(fd);
  size_t body = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) {
    return absl::InternalError("agent answered: " + resp.substr(0, resp.find("\r\n")) + " " +
                               (body == std::string::npos ? "" : resp.substr(body + 4)));
  }
  return resp.substr(body + 4);
}

namespace {

// A table with columns sized to their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Row(std::vector<std::string> r) { rows_.push_back(std::move(r)); }
  std::string Render() const {
    std::vector<size_t> w;
    for (const auto& r : rows_) {
      if (w.size() < r.size()) w.resize(r.size(), 0);
      for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    }
    std::ostringstream o;
    for (const auto& r : rows_) {
      for (size_t i = 0; i < r.size(); ++i) {
        o << r[i];
        if (i + 1 < r.size()) o << std::string(w[i] - r[i].size() + 2, ' ');
      }
      o << "\n";
    }
    return o.str();
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Str(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "-";
  if (j.is_array()) {
    std::string s;
    for (const auto& x : j) s += (s.empty() ? "" : ",") + Str(x);
    return s.empty() ? "-" : s;
  }
  return j.dump();
}

std::string RenderWorkloads(const json& j) {
  Table t({"NAMESPACE/NAME", "NODE", "ADDRESSES", "MODE", "CAPTURED", "IDENTITY"});
  for (const auto& w : j) {
    std::string captured = w.value("enrolled", false) ? "yes"
                           : w.value("local", false)  ? "no"
                                                      : "-";
    if (w.contains("error")) captured = "no (" + w["error"].get<std::string>() + ")";
    t.Row({Str(w["uid"]), Str(w["node"]), Str(w["addresses"]), Str(w["mode"]), captured,
           Str(w["identity"])});
  }
  return t.Render();
}

// WAYPOINT: "-", "<namespace>/<name>", or "<namespace>/<name> (unavailable)" when the agent
// says the waypoint does not exist or has no ready endpoint (the node proxy then refuses the
// Service's connections). An agent that sends only `waypoint` gets the bare name.
std::string ServiceWaypoint(const json& s) {
  std::string name = s.contains("waypoint") && s["waypoint"].is_string() ? Str(s["waypoint"]) : "";
  if (name.empty()) return "-";
  std::string ns = s.contains("waypoint_namespace") && s["waypoint_namespace"].is_string()
                       ? Str(s["waypoint_namespace"])
                       : "";
  std::string cell = ns.empty() ? name : ns + "/" + name;
  auto available = s.find("waypoint_available");
  if (available != s.end() && available->is_boolean() && !available->get<bool>()) {
    cell += " (unavailable)";
  }
  return cell;
}

std::string RenderServices(const json& j) {
  Table t({"HOSTNAME", "VIPS", "PORTS", "ENDPOINTS", "SUBSETS", "WAYPOINT"});
  for (const auto& s : j) {
    t.Row({Str(s["hostname"]), Str(s["vips"]), Str(s["ports"]),
           std::to_string(s.value("ready_endpoints", 0)) + "/" +
               std::to_string(s.value("endpoints", 0)),
           Str(s["subsets"]), ServiceWaypoint(s)});
  }
  return t.Render();
}

std::string RenderConnections(const json& j) {
  // PEER: for outbound, the destination identity the mTLS leg verified; for inbound, the
  // client's verified identity; "-" without mTLS.
  // WAYPOINT: the waypoint an outbound connection went through ("ns/name"), "-" for none.
  Table t({"POD", "DIR", "CLIENT", "DESTINATION", "UPSTREAM", "WAYPOINT", "MTLS", "PEER", "SENT",
           "RECEIVED", "AGE"});
  for (const auto& c : j) {
    std::string peer = c.value("peer_identity", "");
    auto wp = c.find("waypoint");
    std::string waypoint = wp != c.end() && wp->is_object() ? wp->value("name", "-") : "-";
    t.Row({Str(c["pod"]), Str(c["direction"]), Str(c["client"]), Str(c["original_destination"]),
           Str(c["upstream"]), waypoint, c.value("mtls", false) ? "yes" : "no",
           peer.empty() ? "-" : peer, Str(c["bytes_sent"]), Str(c["bytes_received"]),
           std::to_string(c.value("age_ms", 0) / 1000) + "s"});
  }
  return t.Render();
}

std::string RenderBpf(const json& j) {
  std::ostringstream o;
  o << "bpf root: " << Str(j["bpf_root"]) << (j.value("adopted", false) ? " (adopted)" : "")
    << "\n\nLinks\n";
  Table links({"PROGRAM", "LINK", "PROG", "PINNED"});
  for (const auto& l : j.value("links", json::array())) {
    links.Row({Str(l["name"]), Str(l["link_id"]), Str(l["prog_id"]),
               l.value("pinned", false) ? "yes" : "no"});
  }
  o << links.Render() << "\nCounters\n";
  Table counters({"PROGRAM", "VERDICT", "COUNT"});
  for (const auto& c : j.value("counters", json::array())) {
    counters.Row({Str(c["program"]), Str(c["verdict"]), Str(c["value"])});
  }
  o << counters.Render();
  for (const auto& m : j.value("maps", json::array())) {
    o << "\n"
      << Str(m["map"]) << " (" << Str(m["type"]) << ", " << m["rows"].size() << "/"
      << Str(m["capacity"]) << ")\n";
    if (m["rows"].empty()) continue;
    std::vector<std::string> header;
    for (const auto& [k, v] : m["rows"][0].items()) header.push_back(k);
    Table t(header);
    size_t shown = 0;
    for (const auto& r : m["rows"]) {
      if (++shown > 50) break;
      std::vector<std::string> row;
      for (const auto& h : header) row.push_back(r.contains(h) ? Str(r[h]) : "-");
      t.Row(row);
    }
    o << t.Render();
    if (m["rows"].size() > 50) o << "... " << m["rows"].size() - 50 << " more\n";
  }
  return o.str();
}

}  // namespace

void AddNodeCommands(CLI::App& app, NodeOptions& o, std::string& which) {
  CLI::App* node = app.add_subcommand("node",
                                      "Inspect a running agent: workloads, services, "
                                      "connections, BPF maps, the snapshot in force");
  node->require_subcommand(1);
  node->add_option("--node", o.node,
                   "Local mode: the node whose agent to ask (enters netns weft-node-NODE)");
  node->add_option("--admin", o.admin, "The agent's admin address")->capture_default_str();
  node->add_flag("--json", o.json, "Print the agent's JSON as is");
  struct Cmd {
    const char* name;
    const char* help;
  };
  for (Cmd c : {Cmd{"workloads", "Pods known to the agent and whether they are captured"},
                Cmd{"services", "Services with VIPs, ports, endpoints and subsets"},
                Cmd{"connections", "Connections through the node proxy"},
                Cmd{"bpf", "Pinned maps (decoded), links and verdict counters"},
                Cmd{"certs", "Workload certificates: serial, notAfter, state, next renewal"},
                Cmd{"config-dump", "The MeshSnapshot in force (JSON)"}}) {
    node->add_subcommand(c.name, c.help)->callback([&which, c] { which = c.name; });
  }
}

int RunNodeCommand(const NodeOptions& o, const std::string& which) {
  std::string host = o.admin.substr(0, o.admin.find(':'));
  uint16_t port = static_cast<uint16_t>(std::stoi(o.admin.substr(o.admin.find(':') + 1)));
  std::string netns = o.node.empty() ? "" : "/run/netns/weft-node-" + o.node;
  std::string path = which == "config-dump" ? "/config_dump" : "/" + which;
  auto body = HttpGet(netns, host, port, path);
  if (!body.ok()) {
    std::cerr << "weftctl: " << body.status().message() << "\n";
    return 1;
  }
  if (o.json || which == "config-dump") {
    std::cout << *body << (body->ends_with("\n") ? "" : "\n");
    return 0;
  }
  json j = json::parse(*body, nullptr, false);
  if (j.is_discarded()) {
    std::cerr << "weftctl: the agent's answer is not JSON\n";
    return 1;
  }
  if (which == "workloads") std::cout << RenderWorkloads(j);
  if (which == "services") std::cout << RenderServices(j);
  if (which == "connections") std::cout << RenderConnections(j);
  if (which == "bpf") std::cout << RenderBpf(j);
  if (which == "certs") {
    auto table = RenderCerts(*body, std::chrono::system_clock::now());
    if (!table.ok()) {
      std::cerr << "weftctl: " << table.status().message() << "\n";
      return 1;
    }
    std::cout << *table;
  }
  return 0;
}

}  // namespace weft::weftctl
