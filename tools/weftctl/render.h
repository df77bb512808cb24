#pragma once

// Output formats of `weftctl compile`: protobuf JSON, YAML, and a readable text summary.

#include <string>
#include <vector>

#include "weft/config/v1/snapshot.pb.h"

namespace weft::weftctl {

namespace pb = ::weft::config::v1;

// The snapshot in protobuf's JSON mapping (lowerCamelCase field names, enums as names).
std::string RenderJson(const pb::MeshSnapshot& snapshot);
// The same document as YAML (block style, keys in JSON order).
std::string RenderYaml(const pb::MeshSnapshot& snapshot);
// A summary per service: endpoints, subsets, routes, policies; then workloads, policies and
// waypoints.
std::string RenderText(const pb::MeshSnapshot& snapshot);

// `weftctl waypoint list`: one row per waypoint (NAMESPACE NAME CLASS NODE ADDRESSES IDENTITY
// BOUND), and the same as a JSON array (every bound Service listed).
std::string RenderWaypointsText(const pb::MeshSnapshot& snapshot);
std::string RenderWaypointsJson(const pb::MeshSnapshot& snapshot);

// The Services bound to a waypoint ("name" in the waypoint's namespace, else "ns/name"), in
// snapshot order.
std::vector<std::string> BoundServices(const pb::MeshSnapshot& snapshot, const pb::Waypoint& w);

}  // namespace weft::weftctl
