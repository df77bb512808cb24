#pragma once

// What DIR asks for: the Nodes and Pods of the Kubernetes-shaped YAML, read with the project's
// loader (core/source) and decoders, and the waypoint Gateways (class weft-waypoint or
// istio-waypoint), whose pods the cluster makes as Istio's gateway controller does
// (waypoints.h). Every other kind is the agent's business and ignored here.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace weft::cluster {

inline constexpr char kRunAnnotation[] = "weft.dev/run";
// The subdirectory of DIR where the cluster writes the waypoints' Pod manifests (waypoints.h).
// LoadDesired never reads Pods from it: they are the cluster's output, derived from Gateways.
inline constexpr char kGeneratedDir[] = "weft-generated";

struct DesiredNode {
  std::string name;
  std::string pod_cidr;  // spec.podCIDR; empty = assign one.
  std::string file;
  int line = 0;
  std::map<std::string, std::string> labels;  // registered with the Node in Kubernetes mode
  bool operator==(const DesiredNode&) const = default;
};

struct DesiredPod {
  std::string ns;
  std::string name;
  std::string node;  // spec.nodeName (required)
  std::string ip;    // the first IPv4 of status.podIP(s); empty = assign one.
  std::string run;   // annotation weft.dev/run; empty = no process.
  std::string service_account;
  std::string file;
  int line = 0;
  // The waypoint pod of Gateway <ns>/<gateway> (made by ExpandWaypoints); empty for Pods of DIR.
  std::string gateway;
  // Kubernetes mode only (kube_pods.h, PodFromApi): the API's Pod.
  std::string uid;                        // metadata.uid; "" for Pods of DIR
  bool host_network = false;              // runs in its node's netns, with the node's IP
  bool terminating = false;               // metadata.deletionTimestamp is set
  int grace_seconds = 30;                 // metadata.deletionGracePeriodSeconds (capped at 30)
  std::string restart_policy = "Always";  // spec.restartPolicy
  std::string workload;                   // k8s::kWorkload*: what runs in it
  std::string container;                  // the container that runs (its name)
  std::string image;                      // and its image
  std::string key() const { return ns + "/" + name; }
  bool operator==(const DesiredPod&) const = default;
};

// A Gateway of a waypoint class with its HBONE listener (the decoder's checks passed).
struct DesiredWaypoint {
  std::string ns;
  std::string name;
  std::string node;  // annotation weft.dev/node; empty = the first Node (by name)
  std::string gateway_class;
  uint32_t port = 15008;  // the mesh listener's
  std::string file;
  int line = 0;
  std::string key() const { return ns + "/" + name; }
  bool operator==(const DesiredWaypoint&) const = default;
};

struct Desired {
  std::map<std::string, DesiredNode> nodes;          // by name
  std::map<std::string, DesiredPod> pods;            // by "namespace/name"
  std::map<std::string, DesiredWaypoint> waypoints;  // by "namespace/name" of the Gateway
  std::vector<std::string> errors;    // about Node, Pod and waypoint Gateway documents
  std::vector<std::string> warnings;  // documents that could not be read at all; waypoints
                                      // that cannot run (ExpandWaypoints)
};

// Reads DIR (recursively, *.yaml/*.yml/*.json; not DIR/weft-generated). With `nodes_only`
// (Kubernetes mode: pods come from the API server) only Nodes are read. A Node, Pod or
// Gateway whose document is broken or invalid is reported in `errors`; if `previous` (the last
// good result) has it, that version is kept, so that a bad edit never tears a running pod
// down. The same holds for every resource of a file that cannot be read or has a document of
// unknown kind, and for all of them while DIR itself is missing. Waypoint pods in `previous`
// (DesiredPod::gateway set) are not carried over: ExpandWaypoints makes them again from the
// waypoints.
Desired LoadDesired(const std::string& dir, const Desired* previous = nullptr,
                    bool nodes_only = false);

}  // namespace weft::cluster
