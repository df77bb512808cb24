#pragma once

// ProxyControl: how the agent's control loop drives the node proxy, whether the proxy runs in
// the same process (tests, `--proxy=inprocess`) or as its own process that survives control
// restarts (the default). ProxyServer is the proxy process's side of the channel.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "agent/identity/cert_manager_options.h"
#include "agent/proxy/control_channel.h"
#include "agent/proxy/proxy.h"

namespace weft::agent::proxy {

struct ServedPod {
  std::string uid;
  uint64_t netns_cookie = 0;
  int inbound_fd = -1;  // a duplicate for the caller, who closes it
};

// The proxy's counters as JSON (the control channel's answer and the agent's /stats), with
// "clusters": [{name, active_connections, max_connections, upstream_cx_overflow,
// ejections_total, ejections_overflow, endpoints: [{endpoint, ejected, consecutive_failures,
// ejections (the multiplier of the next ejection time), ejected_remaining_ms}]}].
nlohmann::json ProxyStatsJson(const ProxyStats& s);
nlohmann::json ClusterStatsJson(const ClusterStats& c);
// One connection as JSON (the control channel's answer). `waypoint` is null, or
// {"name": "<ns>/<name>", "address": {address, port}}.
nlohmann::json ConnectionInfoJson(const ConnectionInfo& c);

class ProxyControl {
 public:
  virtual ~ProxyControl() = default;
  virtual absl::Status SetSnapshot(std::shared_ptr<const pb::MeshSnapshot> snapshot,
                                   const std::string& node) = 0;
  // Opens the pod's listeners; returns a duplicate of its inbound listener (caller closes).
  virtual absl::StatusOr<int> AddPod(const PodInfo& pod) = 0;
  virtual absl::Status RemovePod(const std::string& uid) = 0;
  // Pods the proxy already serves: after a control restart, these need no new listeners.
  virtual absl::StatusOr<std::vector<ServedPod>> Pods() = 0;
  virtual absl::StatusOr<std::vector<ConnectionInfo>> Connections() = 0;
  virtual absl::StatusOr<ProxyStats> Stats() = 0;
  // The workload certificates the proxy holds (JSON, docs/security.md "GET /certs"); "[]"
  // without mTLS.
  virtual absl::StatusOr<std::string> CertsJson() { return std::string("[]"); }
};

// The proxy in this process.
class LocalProxyControl : public ProxyControl {
 public:
  explicit LocalProxyControl(std::unique_ptr<Proxy> proxy) : proxy_(std::move(proxy)) {}
  absl::Status SetSnapshot(std::shared_ptr<const pb::MeshSnapshot> snapshot,
                           const std::string& node) override;
  absl::StatusOr<int> AddPod(const PodInfo& pod) override;
  absl::Status RemovePod(const std::string& uid) override;
  absl::StatusOr<std::vector<ServedPod>> Pods() override;
  absl::StatusOr<std::vector<ConnectionInfo>> Connections() override;
  absl::StatusOr<ProxyStats> Stats() override;
  Proxy& proxy() { return *proxy_; }

 private:
  std::unique_ptr<Proxy> proxy_;
  std::mutex mu_;
  std::map<std::string, uint64_t> cookies_;
};

// The proxy in its own process, over the control channel. Calls are serialised.
class RemoteProxyControl : public ProxyControl {
 public:
  // Connects to the proxy process's socket.
  static absl::StatusOr<std::unique_ptr<RemoteProxyControl>> Connect(const std::string& path);
  ~RemoteProxyControl() override;
  absl::Status SetSnapshot(std::shared_ptr<const pb::MeshSnapshot> snapshot,
                           const std::string& node) override;
  absl::StatusOr<int> AddPod(const PodInfo& pod) override;
  absl::Status RemovePod(const std::string& uid) override;
  absl::StatusOr<std::vector<ServedPod>> Pods() override;
  absl::StatusOr<std::vector<ConnectionInfo>> Connections() override;
  absl::StatusOr<ProxyStats> Stats() override;
  absl::StatusOr<std::string> CertsJson() override;

 private:
  explicit RemoteProxyControl(int sock) : sock_(sock) {}
  struct Reply;
  absl::StatusOr<Reply> Call(FrameType type, const std::string& payload, std::vector<int> fds,
                             FrameType expect);
  std::mutex mu_;
  int sock_;
};

// The proxy process: serves one control connection at a time on `socket_path`, forever
// (until SIGTERM/SIGINT sets `stop`). Between control connections the proxy keeps serving.
struct ProxyProcessOptions {
  std::string socket_path;
  std::string bpf_root;  // for weft_conndst_v1 (original destinations)
  ProxySettings settings;
  CertManagerOptions identity;  // workload certificates from the CA (--ca-address, ...)
  // Wait this long for the agent to pin the maps (a proxy run as its own DaemonSet may start
  // before the node's agent); 0: fail at once.
  std::chrono::seconds wait_for_maps{0};
};
int RunProxyProcess(const ProxyProcessOptions& options, const std::atomic<bool>& stop);

}  // namespace weft::agent::proxy
