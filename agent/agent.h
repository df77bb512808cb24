#pragma once

// Agent: one node's control loop. Inputs (a watched directory in local mode) feed the policy
// compiler; each new snapshot is turned into the node's view for the proxy, the mesh
// destinations in the BPF maps (applied by diff) and the set of enrolled pods (listeners in
// their namespaces, sk_lookup steering, capture on). Admin, metrics and readiness endpoints
// run on their own thread.

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "agent/admin/http_server.h"
#include "agent/datapath/datapath.h"
#include "agent/datapath/mesh_entries.h"
#include "agent/datapath/reconciler.h"
#include "agent/identity/cert_manager_options.h"
#include "agent/inpod/netns.h"
#include "agent/proxy/proxy_control.h"
#include "agent/source/cluster_state.h"
#include "agent/source/config_store.h"
#include "agent/source/directory_watcher.h"
#include "agent/source/kube_source.h"

namespace weft::agent {

struct AgentSettings {
  std::string node;       // this node's name (Pod spec.nodeName)
  std::string local_dir;  // local mode: the directory of manifests
  // Kubernetes mode (instead of local_dir): list+watch the API server. `kubeconfig` empty:
  // $KUBECONFIG, else the in-cluster config (the pod's ServiceAccount token, re-read as it
  // rotates).
  bool kubernetes = false;
  std::string kubeconfig;
  // Kubernetes mode: pods' network namespaces are found from their cgroups under this /proc
  // (the host's: /host/proc in the DaemonSet, which does not share the host's PID namespace).
  std::string proc_root = "/proc";
  // Where pod network namespaces are: <pod_netns_dir>/<pod_netns_prefix><namespace>-<name>.
  std::string pod_netns_dir = "/run/netns";
  std::string pod_netns_prefix = "weft-pod-";

  datapath::Settings datapath;
  // The proxy runs in its own process (it survives control restarts) unless in_process.
  bool proxy_in_process = false;
  // The proxy process is started by someone else (Kubernetes: the weft-proxy DaemonSet, so
  // that deleting the agent's pod does not end the node's connections): wait for its control
  // socket instead of forking one.
  bool external_proxy = false;
  // While this node has no proxy (it died, or the weft-proxy pod is away): false (fail closed,
  // the default) keeps the pods captured, so their mesh connections and plaintext arriving
  // for them are refused until a proxy serves them again; true (fail open) releases them, so
  // they connect directly and take plaintext (the sk_lookup program lets it through).
  bool fail_open = false;
  // Runtime files (the proxy's control socket and log): <run_dir>.
  std::string run_dir;  // default /run/weft/<node>
  std::string self_exe = "/proc/self/exe";
  // Local mode: tools/cluster's state file, whose pod IPs stand in for the kubelet's
  // status.podIP. Empty: pods need status.podIP in their YAML.
  std::string cluster_state;
  // Move the agent into <datapath.cgroup_path>/weft-agent, under the programs' attach point.
  bool join_cgroup = true;
  proxy::ProxySettings proxy;
  CertManagerOptions identity;  // workload certificates from the CA (--ca-address, ...)
  ConfigStoreOptions config;

  std::string admin_address = "127.0.0.1";
  uint16_t admin_port = 15000;
  std::string metrics_address = "0.0.0.0";
  uint16_t metrics_port = 15020;
  uint16_t readiness_port = 15021;
};

class Agent {
 public:
  static absl::StatusOr<std::unique_ptr<Agent>> Create(AgentSettings settings);
  ~Agent();

  // Runs the control loop until `stop` becomes true.
  void Run(const std::atomic<bool>& stop);

  // One pass: apply input changes, then reconcile. Exposed for tests.
  void Step(int poll_timeout_ms);

  bool ready() const { return ready_.load(); }

 private:
  struct EnrolledPod {
    std::string uid;
    inpod::Netns netns;
    std::vector<datapath::IpAddr> addresses;
  };

  explicit Agent(AgentSettings settings) : settings_(std::move(settings)) {}
  absl::Status Init();
  void Reconcile();
  void ReconcileEnrollment(const policy::pb::MeshSnapshot& snapshot);
  // After an enrollment pass: stranded pods enrolled again are done; those not wanted any more
  // (or whose netns was recreated) leave the maps; the rest stay captured until enrolled.
  // `check_netns`: also release those whose netns was recreated (needs their netns opened).
  void ReleaseStranded(const std::map<std::string, const policy::pb::Workload*>& desired,
                       bool check_netns);
  absl::Status Enroll(const policy::pb::Workload& w);
  void Unenroll(const std::string& uid);
  void RegisterAdmin();
  // The node proxy: started (or, a control restart, adopted) here, or with --external-proxy
  // the weft-proxy DaemonSet's, waited for when `wait` (at start; up to 10 minutes).
  absl::StatusOr<std::shared_ptr<proxy::ProxyControl>> ConnectProxy(bool wait);
  // After the proxy process went away: drops what it served and connects a new one. Without
  // one (an external proxy not back yet, a proxy that did not start) it returns at once and
  // Step tries again, backing off: the agent keeps following the API server or directory
  // meanwhile, and its readiness says why it is not ready.
  void RecoverProxy();
  void SetProxy(std::shared_ptr<proxy::ProxyControl> p);
  // For the admin threads: the proxy in force, or null while there is none.
  std::shared_ptr<proxy::ProxyControl> CurrentProxy() const;
  void ReadClusterState();
  // Applies pending input changes (directory or API server) to the store; waits up to
  // `timeout_ms` for some.
  void DrainInputs(int timeout_ms);
  absl::Status AdoptServedPods(const policy::pb::MeshSnapshot& snapshot);
  std::string PodNetnsPath(const policy::pb::Workload& w) const;

  AgentSettings settings_;
  std::unique_ptr<ConfigStore> store_;
  std::unique_ptr<DirectoryWatcher> watcher_;  // local mode
  std::unique_ptr<KubeSource> kube_;           // Kubernetes mode
  std::unique_ptr<datapath::Datapath> datapath_;
  std::unique_ptr<datapath::Reconciler> reconciler_;
  std::shared_ptr<proxy::ProxyControl> proxy_;  // written under mu_, by the main thread only
  std::unique_ptr<admin::HttpServer> admin_, metrics_, readiness_;

  mutable std::mutex mu_;  // guards the state below against admin readers
  std::shared_ptr<const policy::pb::MeshSnapshot> snapshot_;
  std::map<std::string, EnrolledPod> enrolled_;
  // Fail closed: pods still captured in the maps whose proxy went away, until a new proxy
  // enrolls them again or they are no longer wanted (then released from the maps).
  std::map<std::string, EnrolledPod> stranded_;
  std::map<std::string, std::string> enroll_errors_;  // uid -> last error (retried)
  uint64_t applied_generation_ = UINT64_MAX;
  uint64_t reconcile_errors_ = 0;
  uint64_t proxy_restarts_ = 0;
  std::string proxy_error_;            // why there is no proxy now ("" while there is one)
  int64_t next_proxy_attempt_ms_ = 0;  // RecoverProxy's backoff (main thread only)
  int64_t proxy_backoff_ms_ = 0;
  ClusterStateReader cluster_state_{""};
  std::atomic<bool> ready_{false};
};

}  // namespace weft::agent
