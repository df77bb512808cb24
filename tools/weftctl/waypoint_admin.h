#pragma once

// `weftctl waypoint clusters|stats`: a running waypoint's own view, read from its admin
// endpoint (127.0.0.1:15000 in its pod). In local mode the pod is found in the tools/cluster
// state file and its network namespace entered; `--admin HOST:PORT` talks to any address.
// `clusters` shows each cluster's circuit breakers (limits and what is in use), outlier
// detection and retries, and every endpoint with its health ("ejected" while outlier
// detection keeps it out) and counts.

#include <CLI/CLI.hpp>
#include <string>

namespace weft::weftctl {

struct WaypointAdminOptions {
  std::string ns;
  std::string name = "waypoint";
  std::string cluster;  // tools/cluster cluster ("" = $WEFT_CLUSTER or the default)
  std::string admin;    // HOST:PORT: skip the pod lookup
  bool json = false;
};

// Registers `clusters` and `stats` under `waypoint`; `which` receives the chosen one's name.
void AddWaypointAdminCommands(CLI::App& waypoint, WaypointAdminOptions& options,
                              std::string& which);
int RunWaypointAdminCommand(const WaypointAdminOptions& options, const std::string& which);

// The text rendering of the admin's /clusters JSON (exposed for tests).
std::string RenderWaypointClustersText(const std::string& clusters_json);

}  // namespace weft::weftctl
