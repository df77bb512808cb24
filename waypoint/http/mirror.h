#pragma once

// Request mirroring (VirtualService `mirror`/`mirrors[]` with `mirrorPercentage`, HTTPRoute
// `RequestMirror`), as Envoy's request shadowing: fire and forget. A copy of the request as it
// leaves the waypoint (after rewrites and header operations), with its Host/authority
// suffixed "-shadow" ("api:80" -> "api-shadow:80"), goes to an endpoint of the mirror's
// destination; its response is read and dropped, and neither its latency nor its failure ever
// reaches the client. A request body is mirrored when it fits the exchange's replay buffer
// (1 MiB); a larger one is not mirrored (counted).

#include <memory>
#include <string>
#include <vector>

#include "core/http/message.h"
#include "waypoint/upstream/cluster.h"
#include "waypoint/upstream/pool.h"

namespace weft::waypoint {

struct HttpStats;

// "api.demo.svc.cluster.local:80" -> "api.demo.svc.cluster.local-shadow:80".
std::string ShadowAuthority(std::string_view authority);

// Sends one mirrored request; keeps itself alive until its response is drained.
void SendMirror(std::shared_ptr<UpstreamPool> pool, std::shared_ptr<Cluster> cluster,
                http::RequestHead head, std::shared_ptr<const std::vector<std::string>> body,
                http::HeaderMap trailers, HttpStats* stats);

}  // namespace weft::waypoint
