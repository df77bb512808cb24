#pragma once

// `weftctl waypoint generate`: the Gateway that declares a waypoint (docs/waypoint.md).

#include <nlohmann/json.hpp>
#include <string>

namespace weft::weftctl {

// The waypoint's class and listener (docs/waypoint.md).
inline constexpr char kWaypointClass[] = "weft-waypoint";
inline constexpr int kWaypointPort = 15008;

// The Gateway YAML for waypoint `name` in namespace `ns`, as docs/waypoint.md shows it; the
// weft.dev/node annotation only when `node` is not empty.
std::string GenerateWaypointYaml(const std::string& ns, const std::string& name,
                                 const std::string& node);

// The same Gateway as the object the API server takes (`waypoint apply`): the document
// GenerateWaypointYaml prints, without its comments.
nlohmann::ordered_json WaypointGateway(const std::string& ns, const std::string& name,
                                       const std::string& node);

}  // namespace weft::weftctl
