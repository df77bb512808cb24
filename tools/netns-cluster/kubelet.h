#pragma once

// The API side of the node stand-in (Kubernetes mode, docs/kubernetes.md): what a kubelet says
// to the API server for each node of the cluster. The supervisor owns the processes and the
// network; this owns the conversation, on threads of its own so that the supervisor's loop
// never waits on the API server (an API server outage stops nothing that runs):
//
//   - one Reflector over the Pods bound to any node (fieldSelector spec.nodeName!=), whose
//     deltas the supervisor drains (fd() wakes its epoll);
//   - one worker thread, in order: registering Nodes (admin credentials: labels and podCIDR
//     are the cluster's to set), then with each node's own credentials (system:node:<name>,
//     so Node authorization and NodeRestriction apply as to a kubelet): the Node's status
//     (every 30 s) and its Lease in kube-node-lease (every 10 s), Pod status patches
//     (coalesced, latest wins), Pod deletions once their processes are gone, and the volumes of
//     pods of weft's image (TokenRequest tokens, configMaps, secrets, downward API, emptyDir;
//     tokens refreshed at 80 % of their life).

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/kube/client.h"
#include "core/kube/reflector.h"
#include "nlohmann/json.hpp"
#include "tools/netns-cluster/kube_pods.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster {

class Kubelets {
 public:
  struct Options {
    std::string admin_kubeconfig;
    std::string api_host;
    int api_port = 0;
    std::string bin_dir;
    std::string pods_dir;       // <state dir>/pods: one dir per pod uid
    std::string created_paths;  // file listing mount points made on the host (for `down`)
  };
  static absl::StatusOr<std::unique_ptr<Kubelets>> Create(const Options& options);
  ~Kubelets();  // Stop()s

  void Start();
  void Stop();
  // Both readable when Drain() has something: the volume results and the reflector's queue.
  int fd() const { return results_fd_; }
  int pods_fd() const { return pod_queue_.fd(); }

  // The node is made: register it (admin), then keep its status and Lease fresh with its own
  // credentials (`n.kubeconfig`). Repeated calls update the labels.
  void AddNode(const NodeState& n);
  // The node is gone: stop renewing, delete the Node object.
  void RemoveNode(const std::string& name);
  // True once the Node object exists and has reported Ready once.
  bool NodeReady(const std::string& name);

  // A prepared pod of weft's image (Prepare's result).
  struct Prepared {
    std::string key;  // ns/name
    std::string uid;
    std::string launch;  // the launch spec file; "" on error
    std::string error;
  };
  // A readiness probe's verdict changed.
  struct Readiness {
    std::string key, uid;
    bool ready = false;
  };
  struct Drained {
    std::vector<kube::Delta> pods;  // the reflector's deltas
    std::vector<Prepared> prepared;
    std::vector<Readiness> readiness;
  };
  Drained Drain();
  kube::ReflectorStatus PodsStatus() const;

  // Patches the Pod's status (the latest call wins if several are pending).
  void ReportStatus(const std::string& node, const std::string& key, nlohmann::json patch);
  // Deletes the Pod (gracePeriodSeconds 0, precondition uid): its processes are gone.
  void DeletePod(const std::string& node, const std::string& ns, const std::string& name,
                 const std::string& uid);
  // Makes the pod's volumes and writes its launch spec (<pods_dir>/<uid>/launch.json); the
  // result comes back through Drain(), also each failure (a token the Node authorizer does not
  // allow yet, a configMap not yet published), after which it tries again with backoff until
  // ForgetPod.
  void Prepare(const std::string& node, const nlohmann::json& pod, const k8s::LaunchContext& ctx);
  // The pod is gone: stop refreshing its tokens, remove its dir.
  void ForgetPod(const std::string& uid);

  // Probes the pod's readinessProbe from `netns` (its node's) on a thread of its own, from now
  // on (initialDelaySeconds counts from here: call it when the container starts); verdicts
  // that change come back through Drain(). Replaces the pod's previous probe.
  void SetProbe(const std::string& key, const std::string& uid, const std::string& netns,
                const k8s::Probe& probe);
  void ClearProbe(const std::string& key);
  // One probe, in the calling thread (which it moves into `netns`): true on success.
  static bool RunProbe(const std::string& netns, const k8s::Probe& probe);

 private:
  struct NodeEntry {
    NodeState node;
    std::shared_ptr<kube::Client> client;  // the node's own credentials
    bool registered = false;
    bool ready_reported = false;
    std::string uid;                                             // of the Node object
    std::string since;                                           // Ready since (RFC 3339)
    int64_t next_status = 0, next_lease = 0, next_register = 0;  // monotonic ms
    bool lease_exists = false;
    uint64_t generation = 0;  // AddNode calls
  };
  struct Token {
    std::string node, uid, ns, pod, sa, audience, file;
    int64_t expiration_seconds = 3600;
    int64_t refresh_at = 0;  // wall ms
  };
  struct Pending {
    int64_t at = 0;  // monotonic ms
    std::function<void()> run;
  };

  struct ProbeEntry {
    std::string uid, netns;
    k8s::Probe probe;
    int64_t next = 0;  // monotonic ms
    int successes = 0, failures = 0;
    bool ready = false;
    uint64_t generation = 0;
  };

  explicit Kubelets(const Options& options) : options_(options) {}
  void Loop();
  void ProbeLoop();
  void Post(int64_t at, std::function<void()> fn);
  void PushResult(Prepared p);
  void Tick(NodeEntry& e, int64_t now);
  bool Register(NodeEntry& e);
  bool PatchNodeStatus(NodeEntry& e);
  bool RenewLease(NodeEntry& e);
  void TryDelete(const std::string& node, const std::string& path, const std::string& body);
  void TryPrepare(const std::string& node, const nlohmann::json& pod, const k8s::LaunchContext& ctx,
                  int attempt);
  absl::Status DoPrepare(const std::string& node, const nlohmann::json& pod,
                         const k8s::LaunchContext& ctx, std::string* launch);
  absl::Status WriteToken(Token& t);
  absl::Status MakeDir(const std::string& path);  // mkdir -p, recording what it made
  std::shared_ptr<kube::Client> NodeClient(const std::string& node);

  Options options_;
  std::shared_ptr<kube::Client> admin_;
  kube::EventQueue pod_queue_;
  std::unique_ptr<kube::Reflector> pods_;
  int results_fd_ = -1;

  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
  std::map<std::string, NodeEntry> nodes_;
  std::set<std::string> removed_nodes_;  // to delete from the API
  std::deque<Pending> tasks_;
  std::map<std::string, std::pair<std::string, nlohmann::json>> statuses_;  // key → node, patch
  std::vector<Prepared> results_;
  std::vector<Token> tokens_;
  std::set<std::string> forgotten_;  // uids whose preparation must not write any more
  std::condition_variable probe_cv_;
  std::thread prober_;
  std::map<std::string, ProbeEntry> probes_;  // by pod key
  uint64_t probe_generation_ = 0;
  std::vector<Readiness> readiness_;
};

}  // namespace weft::cluster
