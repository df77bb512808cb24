#pragma once

// TCP through the waypoint: a service port whose protocol is not HTTP (tcp, or undeclared, as
// in Istio ambient) is proxied as bytes. The VirtualService `tcp[]` routes of the service (the
// first whose match fits the port and the client, then a weighted destination) pick the
// cluster; the client's tunnel is spliced to a stream to one of its endpoints, with another
// endpoint tried when the connection fails.

#include <memory>

#include "core/hbone/byte_stream.h"
#include "waypoint/config/view.h"
#include "waypoint/http/filter_chain.h"
#include "waypoint/upstream/pool.h"

namespace weft::waypoint {

struct TcpStats {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> no_route{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<uint64_t> bytes_in{0}, bytes_out{0};
};

// The destination the tcp[] routes choose (hostname, subset, port); the service itself when no
// route applies; nullptr when a route table exists but no tcp route matches.
const pb::WeightedDestination* PickTcpRoute(const WaypointView& view, const BoundService& target,
                                            const ConnectionInfo& conn, uint64_t random);

void ProxyTcp(std::shared_ptr<hbone::ByteStream> client, std::shared_ptr<const WaypointView> view,
              const BoundService* target, std::shared_ptr<const ConnectionInfo> conn,
              std::shared_ptr<UpstreamPool> pool, TcpStats* stats);

}  // namespace weft::waypoint
