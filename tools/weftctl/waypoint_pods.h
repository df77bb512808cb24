#pragma once

// `weftctl waypoint list --cluster NAME` (or without -f): the waypoints of a tools/cluster
// cluster's directory, and whether the pod tools/cluster runs for each is up, read from its
// state file (docs/local-mode.md, "Waypoints").

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::weftctl {

struct WaypointPod {
  std::string ns, gateway;  // the Gateway it runs the waypoint of
  std::string name, node, ip;
  std::string process;  // "running (pid N)", "restarting (last: exit 1)", "stopped", ...
  std::string state;    // the state file's: running, backoff, stopped, none
  int pid = 0;
  int restarts = 0;
};

struct LocalCluster {
  std::string state_path;
  std::string dir;  // the directory it watches
  std::vector<WaypointPod> pods;
};

// The state file of cluster `cluster` ("default" or "" with $WEFT_CLUSTER unset: the default
// cluster; "" otherwise means $WEFT_CLUSTER); $WEFT_CLUSTER_STATE overrides the path.
std::string ClusterStatePath(const std::string& cluster);
absl::StatusOr<LocalCluster> ReadLocalCluster(const std::string& state_path);

// A table of the waypoints' pods, one row per waypoint of `snapshot` ("no pod" when the
// cluster runs none for it).
std::string RenderWaypointPodsText(const config::v1::MeshSnapshot& snapshot,
                                   const LocalCluster& cluster);
// RenderWaypointsJson's array with "pods": [{name, node, ip, state, pid, restarts}] added to
// each waypoint.
std::string AddWaypointPodsJson(const std::string& waypoints_json, const LocalCluster& cluster);

}  // namespace weft::weftctl
