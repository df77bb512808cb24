#include "agent/proxy/proxy_control.h"

#include "agent/proxy/cert_manager_credentials.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/status/status.h"
#include "agent/datapath/bpf_map_writer.h"
#include "agent/proxy/control_channel.h"
#include "agent/proxy/original_destination.h"
#include "core/log/log.h"

namespace weft::agent::proxy {

using nlohmann::json;

namespace {

ProxyStats StatsFromJson(const json& j) {
  ProxyStats s;
  s.accepted_outbound = j.value("accepted_outbound", 0ull);
  s.accepted_inbound = j.value("accepted_inbound", 0ull);
  s.completed = j.value("completed", 0ull);
  s.active = j.value("active", 0ull);
  s.no_original_destination = j.value("no_original_destination", 0ull);
  s.passthrough = j.value("passthrough", 0ull);
  s.no_endpoint = j.value("no_endpoint", 0ull);
  s.connect_failures = j.value("connect_failures", 0ull);
  s.connect_retries = j.value("connect_retries", 0ull);
  s.idle_timeouts = j.value("idle_timeouts", 0ull);
  s.bytes_sent = j.value("bytes_sent", 0ull);
  s.bytes_received = j.value("bytes_received", 0ull);
  s.hbone_outbound = j.value("hbone_outbound", 0ull);
  s.hbone_inbound = j.value("hbone_inbound", 0ull);
  s.no_source_certificate = j.value("no_source_certificate", 0ull);
  s.hbone_connect_failures = j.value("hbone_connect_failures", 0ull);
  s.hbone_bad_target = j.value("hbone_bad_target", 0ull);
  s.hbone_app_unreachable = j.value("hbone_app_unreachable", 0ull);
  s.local_deliveries = j.value("local_deliveries", 0ull);
  s.waypoint_outbound = j.value("waypoint_outbound", 0ull);
  s.waypoint_unavailable = j.value("waypoint_unavailable", 0ull);
  s.tls_handshakes = j.value("tls_handshakes", 0ull);
  if (j.contains("tls_handshake_failures") && j["tls_handshake_failures"].is_object()) {
    for (const auto& [k, v] : j["tls_handshake_failures"].items()) {
      s.tls_handshake_failures[k] = v.get<uint64_t>();
    }
  }
  s.denied_policy = j.value("denied_policy", 0ull);
  s.denied_no_allow_match = j.value("denied_no_allow_match", 0ull);
  s.denied_mtls_strict = j.value("denied_mtls_strict", 0ull);
  s.denied_unknown_destination = j.value("denied_unknown_destination", 0ull);
  s.upstream_cx_overflow = j.value("upstream_cx_overflow", 0ull);
  s.outlier_ejections = j.value("outlier_ejections", 0ull);
  if (j.contains("clusters") && j["clusters"].is_array()) {
    for (const auto& c : j["clusters"]) {
      ClusterStats cs;
      cs.name = c.value("name", "");
      cs.active_connections = c.value("active_connections", 0ll);
      cs.max_connections = c.value("max_connections", 0u);
      cs.upstream_cx_overflow = c.value("upstream_cx_overflow", 0ull);
      cs.ejections_total = c.value("ejections_total", 0ull);
      cs.ejections_overflow = c.value("ejections_overflow", 0ull);
      for (const auto& e : c.value("endpoints", json::array())) {
        lb::OutlierEndpointState st;
        st.endpoint = e.value("endpoint", "");
        st.ejected = e.value("ejected", false);
        // One count of connect failures, whichever threshold it runs toward.
        st.consecutive_local_origin = e.value("consecutive_failures", 0u);
        st.multiplier = e.value("ejections", 0u);
        st.ejected_remaining_ms = e.value("ejected_remaining_ms", 0ll);
        cs.endpoints.push_back(std::move(st));
      }
      s.clusters.push_back(std::move(cs));
    }
  }
  return s;
}

json ToJson(const SocketAddress& a) {
  return {{"address", a.address}, {"port", a.port}};
}
SocketAddress AddressFromJson(const json& j) {
  return {j.value("address", ""), static_cast<uint16_t>(j.value("port", 0))};
}

ConnectionInfo ConnectionFromJson(const json& j) {
  ConnectionInfo c;
  c.pod = j.value("pod", "");
  c.direction = j.value("direction", "");
  c.client = AddressFromJson(j["client"]);
  c.original_destination = AddressFromJson(j["original_destination"]);
  c.upstream = AddressFromJson(j["upstream"]);
  c.cluster = j.value("cluster", "");
  c.bytes_sent = j.value("bytes_sent", 0ull);
  c.bytes_received = j.value("bytes_received", 0ull);
  c.peer_identity = j.value("peer_identity", "");
  c.mtls = j.value("mtls", false);
  c.buffer_bytes = j.value("buffer_bytes", 0ull);
  c.age_ms = j.value("age_ms", 0ll);
  if (j.contains("waypoint") && j["waypoint"].is_object()) {
    c.waypoint = j["waypoint"].value("name", "");
    if (j["waypoint"].contains("address")) {
      c.waypoint_address = AddressFromJson(j["waypoint"]["address"]);
    }
  }
  return c;
}

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

}  // namespace

nlohmann::json ConnectionInfoJson(const ConnectionInfo& c) {
  json j = {{"pod", c.pod},
            {"direction", c.direction},
            {"client", ToJson(c.client)},
            {"original_destination", ToJson(c.original_destination)},
            {"upstream", ToJson(c.upstream)},
            {"cluster", c.cluster},
            {"bytes_sent", c.bytes_sent},
            {"bytes_received", c.bytes_received},
            {"peer_identity", c.peer_identity},
            {"mtls", c.mtls},
            {"buffer_bytes", c.buffer_bytes},
            {"age_ms", c.age_ms},
            {"waypoint", nullptr}};
  if (!c.waypoint.empty()) {
    j["waypoint"] = {{"name", c.waypoint}, {"address", ToJson(c.waypoint_address)}};
  }
  return j;
}

nlohmann::json ClusterStatsJson(const ClusterStats& c) {
  json endpoints = json::array();
  for (const auto& e : c.endpoints) {
    endpoints.push_back({{"endpoint", e.endpoint},
                         {"ejected", e.ejected},
                         {"consecutive_failures", e.consecutive_failures()},
                         {"ejections", e.multiplier},
                         {"ejected_remaining_ms", e.ejected_remaining_ms}});
  }
  return {{"name", c.name},
          {"active_connections", c.active_connections},
          {"max_connections", c.max_connections},
          {"upstream_cx_overflow", c.upstream_cx_overflow},
          {"ejections_total", c.ejections_total},
          {"ejections_overflow", c.ejections_overflow},
          {"endpoints", endpoints}};
}

nlohmann::json ProxyStatsJson(const ProxyStats& s) {
  json clusters = json::array();
  for (const auto& c : s.clusters) clusters.push_back(ClusterStatsJson(c));
  return {{"accepted_outbound", s.accepted_outbound},
          {"accepted_inbound", s.accepted_inbound},
          {"completed", s.completed},
          {"active", s.active},
          {"no_original_destination", s.no_original_destination},
          {"passthrough", s.passthrough},
          {"no_endpoint", s.no_endpoint},
          {"connect_failures", s.connect_failures},
          {"connect_retries", s.connect_retries},
          {"idle_timeouts", s.idle_timeouts},
          {"bytes_sent", s.bytes_sent},
          {"bytes_received", s.bytes_received},
          {"hbone_outbound", s.hbone_outbound},
          {"hbone_inbound", s.hbone_inbound},
          {"no_source_certificate", s.no_source_certificate},
          {"hbone_connect_failures", s.hbone_connect_failures},
          {"hbone_bad_target", s.hbone_bad_target},
          {"hbone_app_unreachable", s.hbone_app_unreachable},
          {"local_deliveries", s.local_deliveries},
          {"waypoint_outbound", s.waypoint_outbound},
          {"waypoint_unavailable", s.waypoint_unavailable},
          {"tls_handshakes", s.tls_handshakes},
          {"tls_handshake_failures", s.tls_handshake_failures},
          {"denied_policy", s.denied_policy},
          {"denied_no_allow_match", s.denied_no_allow_match},
          {"denied_mtls_strict", s.denied_mtls_strict},
          {"denied_unknown_destination", s.denied_unknown_destination},
          {"upstream_cx_overflow", s.upstream_cx_overflow},
          {"outlier_ejections", s.outlier_ejections},
          {"clusters", clusters}};
}

// ---- in-process ---------------------------------------------------------------------------

absl::Status LocalProxyControl::SetSnapshot(std::shared_ptr<const pb::MeshSnapshot> snapshot,
                                            const std::string& node) {
  proxy_->SetView(std::make_shared<NodeView>(std::move(snapshot), node));
  return absl::OkStatus();
}

absl::StatusOr<int> LocalProxyControl::AddPod(const PodInfo& pod) {
  if (auto st = proxy_->AddPod(pod); !st.ok()) return st;
  {
    std::lock_guard<std::mutex> l(mu_);
    cookies_[pod.uid] = pod.netns_cookie;
  }
  int fd = dup(proxy_->InboundListenerFd(pod.uid));
  if (fd < 0) return absl::ErrnoToStatus(errno, "dup inbound listener");
  return fd;
}

absl::Status LocalProxyControl::RemovePod(const std::string& uid) {
  proxy_->RemovePod(uid);
  std::lock_guard<std::mutex> l(mu_);
  cookies_.erase(uid);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ServedPod>> LocalProxyControl::Pods() {
  std::vector<ServedPod> out;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& uid : proxy_->Pods()) {
    out.push_back({uid, cookies_[uid], dup(proxy_->InboundListenerFd(uid))});
  }
  return out;
}

absl::StatusOr<std::vector<ConnectionInfo>> LocalProxyControl::Connections() {
  return proxy_->Connections();
}

absl::StatusOr<ProxyStats> LocalProxyControl::Stats() {
  return proxy_->Stats();
}

// ---- remote -------------------------------------------------------------------------------

struct RemoteProxyControl::Reply {
  json body;
  std::vector<int> fds;
};

absl::StatusOr<std::unique_ptr<RemoteProxyControl>> RemoteProxyControl::Connect(
    const std::string& path) {
  auto fd = ConnectUnix(path);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<RemoteProxyControl>(new RemoteProxyControl(*fd));
}

RemoteProxyControl::~RemoteProxyControl() {
  close(sock_);
}

absl::StatusOr<RemoteProxyControl::Reply> RemoteProxyControl::Call(FrameType type,
                                                                   const std::string& payload,
                                                                   std::vector<int> fds,
                                                                   FrameType expect) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto st = SendFrame(sock_, {type, payload, fds}); !st.ok()) {
    return absl::UnavailableError("proxy process: " + std::string(st.message()));
  }
  auto f = ReceiveFrame(sock_);
  if (!f.ok()) return absl::UnavailableError("proxy process: " + std::string(f.status().message()));
  Reply r;
  r.fds = std::move(f->fds);
  if (f->type != expect) {
    CloseAll(r.fds);
    return absl::InternalError("proxy process answered an unexpected frame");
  }
  r.body = json::parse(f->payload, nullptr, false);
  if (r.body.is_object() && r.body.contains("error")) {
    CloseAll(r.fds);
    return absl::FailedPreconditionError(r.body["error"].get<std::string>());
  }
  return r;
}

absl::Status RemoteProxyControl::SetSnapshot(std::shared_ptr<const pb::MeshSnapshot> snapshot,
                                             const std::string& node) {
  // Payload: node name, NUL, the serialized snapshot.
  std::string payload = node;
  payload.push_back('\0');
  payload += snapshot->SerializeAsString();
  return Call(FrameType::kSnapshot, payload, {}, FrameType::kReply).status();
}

absl::StatusOr<int> RemoteProxyControl::AddPod(const PodInfo& pod) {
  json j = {{"uid", pod.uid}, {"cookie", pod.netns_cookie}};
  auto r = Call(FrameType::kAddPod, j.dump(), {pod.netns_fd}, FrameType::kPodAdded);
  if (!r.ok()) return r.status();
  if (r->fds.size() != 1) {
    CloseAll(r->fds);
    return absl::InternalError("proxy process sent no inbound listener");
  }
  return r->fds[0];
}

absl::Status RemoteProxyControl::RemovePod(const std::string& uid) {
  return Call(FrameType::kRemovePod, json{{"uid", uid}}.dump(), {}, FrameType::kReply).status();
}

absl::StatusOr<std::vector<ServedPod>> RemoteProxyControl::Pods() {
  auto r = Call(FrameType::kHello, "{}", {}, FrameType::kState);
  if (!r.ok()) return r.status();
  std::vector<ServedPod> out;
  const json& pods = r->body["pods"];
  for (size_t i = 0; i < pods.size(); ++i) {
    out.push_back({pods[i].value("uid", ""), pods[i].value("cookie", 0ull),
                   i < r->fds.size() ? r->fds[i] : -1});
  }
  for (size_t i = pods.size(); i < r->fds.size(); ++i) close(r->fds[i]);
  return out;
}

absl::StatusOr<std::vector<ConnectionInfo>> RemoteProxyControl::Connections() {
  auto r = Call(FrameType::kQuery, json{{"what", "connections"}}.dump(), {}, FrameType::kReply);
  if (!r.ok()) return r.status();
  std::vector<ConnectionInfo> out;
  for (const auto& c : r->body["connections"]) out.push_back(ConnectionFromJson(c));
  return out;
}

absl::StatusOr<std::string> RemoteProxyControl::CertsJson() {
  auto r = Call(FrameType::kQuery, json{{"what", "certs"}}.dump(), {}, FrameType::kReply);
  if (!r.ok()) return r.status();
  return r->body.contains("certs") ? r->body["certs"].dump() : std::string("[]");
}

absl::StatusOr<ProxyStats> RemoteProxyControl::Stats() {
  auto r = Call(FrameType::kQuery, json{{"what", "stats"}}.dump(), {}, FrameType::kReply);
  if (!r.ok()) return r.status();
  return StatsFromJson(r->body["stats"]);
}

// ---- the proxy process --------------------------------------------------------------------

namespace {

// Serves one control connection until it closes.
void ServeControl(int conn, Proxy& proxy, std::map<std::string, uint64_t>& cookies,
                  const std::function<std::string()>& certs_json) {
  for (;;) {
    auto f = ReceiveFrame(conn);
    if (!f.ok()) return;
    Frame reply{FrameType::kReply, "{}", {}};
    switch (f->type) {
      case FrameType::kHello: {
        json pods = json::array();
        for (const auto& uid : proxy.Pods()) {
          pods.push_back({{"uid", uid}, {"cookie", cookies[uid]}});
          reply.fds.push_back(proxy.InboundListenerFd(uid));
        }
        reply = {FrameType::kState, json{{"pods", pods}}.dump(), reply.fds};
        break;
      }
      case FrameType::kSnapshot: {
        size_t nul = f->payload.find('\0');
        auto snap = std::make_shared<pb::MeshSnapshot>();
        if (nul == std::string::npos ||
            !snap->ParseFromArray(f->payload.data() + nul + 1,
                                  static_cast<int>(f->payload.size() - nul - 1))) {
          reply.payload = json{{"error", "bad snapshot"}}.dump();
        } else {
          proxy.SetView(std::make_shared<NodeView>(std::move(snap), f->payload.substr(0, nul)));
        }
        break;
      }
      case FrameType::kAddPod: {
        json j = json::parse(f->payload, nullptr, false);
        std::string uid = j.value("uid", "");
        uint64_t cookie = j.value("cookie", 0ull);
        if (f->fds.size() != 1) {
          reply.payload = json{{"error", "AddPod needs the pod's netns descriptor"}}.dump();
        } else if (auto st = proxy.AddPod({uid, f->fds[0], cookie}); !st.ok()) {
          reply.payload = json{{"error", std::string(st.message())}}.dump();
        } else {
          cookies[uid] = cookie;
          reply.fds.push_back(proxy.InboundListenerFd(uid));
        }
        reply.type = FrameType::kPodAdded;
        break;
      }
      case FrameType::kRemovePod: {
        json j = json::parse(f->payload, nullptr, false);
        proxy.RemovePod(j.value("uid", ""));
        cookies.erase(j.value("uid", ""));
        break;
      }
      case FrameType::kQuery: {
        json j = json::parse(f->payload, nullptr, false);
        if (j.value("what", "") == "connections") {
          json list = json::array();
          for (const auto& c : proxy.Connections()) list.push_back(ConnectionInfoJson(c));
          reply.payload = json{{"connections", list}}.dump();
        } else if (j.value("what", "") == "certs") {
          json certs = json::parse(certs_json ? certs_json() : "[]", nullptr, false);
          reply.payload = json{{"certs", certs}}.dump();
        } else {
          json s = ProxyStatsJson(proxy.Stats());
          s["workers"] = proxy.workers();
          reply.payload = json{{"stats", s}}.dump();
        }
        break;
      }
      default:
        reply.payload = json{{"error", "unknown frame"}}.dump();
    }
    CloseAll(f->fds);  // the proxy keeps its own duplicates
    if (!SendFrame(conn, reply).ok()) return;
  }
}

}  // namespace

int RunProxyProcess(const ProxyProcessOptions& options, const std::atomic<bool>& stop) {
  // Original destinations come from the map the control process pinned.
  auto handles = std::make_shared<datapath::BpfHandles>();
  handles->bpf_root = options.bpf_root;
  std::string pin = options.bpf_root + "/weft_conndst_v1";
  int map_fd = bpf_obj_get(pin.c_str());
  auto give_up = std::chrono::steady_clock::now() + options.wait_for_maps;
  for (int tries = 0; map_fd < 0 && !stop.load() && std::chrono::steady_clock::now() < give_up;
       ++tries) {
    if (tries % 20 == 0) {
      WEFT_LOG(kInfo, "weft-agent proxy") << "waiting for the agent to pin " << pin;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    map_fd = bpf_obj_get(pin.c_str());
  }
  if (map_fd < 0) {
    WEFT_LOG(kError, "weft-agent proxy") << "cannot open " << pin << ": " << strerror(errno);
    return 1;
  }
  handles->maps["weft_conndst_v1"] = map_fd;
  // The writer keeps the handles (and the map's descriptor) for as long as the proxy asks.
  std::shared_ptr<datapath::MapWriter> writer(new datapath::BpfMapWriter(handles.get()),
                                              [handles](datapath::MapWriter* w) { delete w; });

  ProxyInputs in;
  in.settings = options.settings;
  in.original_destination = OriginalDestinationFrom(std::move(writer));
  // Refusals, denials, overflows, ejections, failed tunnels.
  in.log = [](const std::string& line) { WEFT_LOG(kInfo, "weft-agent proxy") << line; };
  // mTLS between nodes: workload certificates from the CA, kept by this process.
  std::shared_ptr<CertManagerCredentials> credentials;
  if (options.identity.enabled()) {
    auto manager = CertManager::Start(options.identity);
    if (!manager.ok()) {
      WEFT_LOG(kError, "weft-agent proxy") << "certificates: " << manager.status();
      return 1;
    }
    credentials = std::make_shared<CertManagerCredentials>(std::move(*manager));
    in.credentials = credentials;
    WEFT_LOG(kInfo, "weft-agent proxy") << "mTLS on, CA " << options.identity.ca_address;
  }
  std::function<std::string()> certs_json = [credentials] {
    return credentials ? CertStatusJson(credentials->manager().Status()) : std::string("[]");
  };
  auto proxy = Proxy::Create(std::move(in));
  if (!proxy.ok()) {
    WEFT_LOG(kError, "weft-agent proxy") << proxy.status();
    return 1;
  }
  // Its directory may not exist yet when the proxy runs in a pod of its own.
  std::error_code dir_error;
  std::filesystem::create_directories(std::filesystem::path(options.socket_path).parent_path(),
                                      dir_error);
  auto listener = ListenUnix(options.socket_path);
  if (!listener.ok()) {
    WEFT_LOG(kError, "weft-agent proxy") << listener.status();
    return 1;
  }
  WEFT_LOG(kInfo, "weft-agent proxy") << "serving on " << options.socket_path;
  std::map<std::string, uint64_t> cookies;
  while (!stop.load()) {
    pollfd p{*listener, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    int conn = accept4(*listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    ServeControl(conn, **proxy, cookies, certs_json);
    close(conn);
  }
  close(*listener);
  unlink(options.socket_path.c_str());
  return 0;
}

}  // namespace weft::agent::proxy
