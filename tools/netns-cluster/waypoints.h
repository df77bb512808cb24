#pragma once

// Waypoints in local mode: the cluster plays Istio's gateway controller. For every Gateway of
// a waypoint class in DIR it makes the waypoint's workload, a Pod
//
//   name       <gateway>-<8 hex digits of a hash of namespace/gateway>   (stable)
//   namespace  the Gateway's
//   labels     gateway.networking.k8s.io/gateway-name: <gateway>, weft.dev/dataplane-mode: none
//   node       annotation weft.dev/node of the Gateway, else the first Node by name
//   account    <gateway>
//   command    weft-waypoint ... (WaypointCommand), with the CA flags of its node's agent
//
// and writes it as a manifest into DIR/weft-generated/waypoint_<ns>_<gateway>.yaml, so that
// the compilers (agents, CA, waypoints) see the pod as they would see the Deployment's pod in
// Kubernetes: the clients' node proxies find the waypoint's address through the gateway-name
// label, and the CA signs the waypoint's identity because a pod with that service account
// runs on the asking node. The manifest goes when the Gateway goes, and with `down`.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/netns-cluster/desired.h"
#include "tools/netns-cluster/naming.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster {

inline constexpr char kGatewayNameLabel[] = "gateway.networking.k8s.io/gateway-name";
inline constexpr char kDataplaneModeLabel[] = "weft.dev/dataplane-mode";
inline constexpr uint16_t kWaypointAdminPort = 15000;

// state.waypoint_bin, else weft-waypoint in state.bin_dir.
std::string WaypointBin(const State& st);

// "<gateway>-<8 hex digits>": stable for a namespace/name.
std::string WaypointPodName(const std::string& ns, const std::string& gateway);

// DIR/weft-generated and the manifest of one waypoint in it.
std::string GeneratedDir(const std::string& dir);
std::string WaypointManifestPath(const std::string& dir, const std::string& ns,
                                 const std::string& gateway);

// The weft-waypoint command of a waypoint pod on `node` as a shell command (the pod's run):
// exec <waypoint_bin> --namespace NS --name NAME --local-dir DIR --cluster-state STATE
// --listen "$WEFT_POD_IP" --port 15008 --admin-port 15000 <the node agent's CA flags>
// [--workload-cert-ttl of the agent args] [waypoint_args].
std::string WaypointCommand(const State& st, const Naming& naming, const std::string& state_path,
                            const DesiredWaypoint& w, const std::string& node);

// Adds the waypoint pod of every waypoint in `d` to d.pods (DesiredPod::gateway set). Errors
// (a weft.dev/node naming no Node, a pod name taken by a Pod of DIR, a name too long) go to
// d.errors; a waypoint without any Node yet, or in a cluster without the CA (--no-agents, whose
// pod then runs nothing), to d.warnings.
void ExpandWaypoints(Desired& d, const State& st, const Naming& naming,
                     const std::string& state_path);

// The manifest of a waypoint pod (deterministic: equal pods give equal bytes).
std::string WaypointManifest(const DesiredPod& pod);

// Makes DIR/weft-generated hold exactly the manifests of the waypoint pods in `d`: writes new or
// changed ones (aside, then rename), removes the cluster's manifests of waypoints that went,
// and the directory once it is empty. Does nothing while DIR is missing. Returns whether a
// file changed.
absl::StatusOr<bool> SyncWaypointManifests(const std::string& dir, const Desired& d);

// Removes every manifest the cluster generated in DIR/weft-generated (and the directory when
// it is empty then). Returns the paths removed.
std::vector<std::string> RemoveWaypointManifests(const std::string& dir);

}  // namespace weft::cluster
