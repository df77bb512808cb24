#pragma once

// WaypointController: Istio's gateway controller for weft's waypoints, in Kubernetes mode
// (docs/kubernetes.md, "Waypoints in Kubernetes"). It runs in the CA's pod (`weft-agent ca
// --kubernetes`): one replica-independent writer that already holds the root certificate
// and needs no node. For every Gateway of class weft-waypoint it keeps, in the Gateway's
// namespace and owned by it (deleting the Gateway garbage-collects them):
//
//   ServiceAccount <name>     the waypoint's identity spiffe://<td>/ns/<ns>/sa/<name>
//   ConfigMap weft-ca-root    root-cert.pem, to verify the CA and peers (pods can mount only
//                             their own namespace's ConfigMaps; not owned: shared)
//   Deployment <name>         weft-waypoint --kubernetes, its pods labelled
//                             gateway.networking.k8s.io/gateway-name=<name> (how the compiler
//                             finds a waypoint's endpoints), a projected token for the CA
//   Service <name>            port 15008 (HBONE) to those pods
//
// adds the ServiceAccount to the subjects of the ClusterRoleBinding weft-waypoints (shipped in
// deploy/, bound to the read-only ClusterRole weft-mesh-reader: a waypoint lists and watches
// what an agent does), and writes the Gateway's status: Accepted, Programmed (True once the
// Deployment has an available replica), addresses (the Service's ClusterIP). Objects are
// written with server-side apply (field manager weft-waypoint-controller), so re-applying is
// idempotent and a user's own fields on them survive.
//
// A thread of its own: a Gateway reflector, and a reconcile of every waypoint Gateway on each
// change and every `resync` (Deployment readiness is read then, not watched).

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "core/kube/client.h"
#include "core/kube/reflector.h"

namespace weft::agent {

struct WaypointControllerOptions {
  std::string gateway_class = "weft-waypoint";
  std::string image = "ghcr.io/weft-mesh/weft:0.1.0";  // the waypoints' image
  std::string image_pull_policy = "IfNotPresent";
  std::string ca_address = "weft-ca.weft-system.svc:15012";
  std::string trust_domain = "cluster.local";
  std::string log_level = "info";  // the waypoints' --log-level (the CA's own)
  std::string root_cert_pem;       // published as ConfigMap weft-ca-root in waypoint namespaces
  std::string cluster_role_binding = "weft-waypoints";
  std::string field_manager = "weft-waypoint-controller";
  std::chrono::milliseconds resync{std::chrono::seconds(5)};
};

struct WaypointControllerStats {
  uint64_t reconciles = 0;
  uint64_t errors = 0;
  std::string last_error;
  std::set<std::string> waypoints;  // "ns/name" managed now
};

class WaypointController {
 public:
  WaypointController(std::shared_ptr<kube::Client> client, WaypointControllerOptions options);
  ~WaypointController();

  WaypointControllerStats stats() const;

  // The objects for one Gateway (exposed for tests): each as the body of a server-side apply.
  nlohmann::json ServiceAccountFor(const nlohmann::json& gateway) const;
  nlohmann::json DeploymentFor(const nlohmann::json& gateway) const;
  nlohmann::json ServiceFor(const nlohmann::json& gateway) const;

 private:
  void Run();
  void ReconcileAll();
  absl::Status Reconcile(const nlohmann::json& gateway);
  absl::Status Apply(const std::string& path, const nlohmann::json& object);
  absl::Status EnsureRootConfigMap(const std::string& ns);
  // Makes the binding's ServiceAccount subjects exactly `accounts` ("ns/name").
  absl::Status SyncBinding(const std::set<std::string>& accounts);
  absl::Status WriteStatus(const nlohmann::json& gateway);
  bool IsWaypoint(const nlohmann::json& gateway) const;

  std::shared_ptr<kube::Client> client_;
  WaypointControllerOptions options_;
  kube::EventQueue queue_;
  kube::Reflector gateways_;
  std::map<std::string, nlohmann::json> known_;  // "ns/name" -> Gateway (all classes)
  std::set<std::string> bound_;                  // subjects last written to the binding
  bool binding_known_ = false;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  WaypointControllerStats stats_;
  std::chrono::steady_clock::time_point last_error_logged_;
  std::thread thread_;
};

}  // namespace weft::agent
