#pragma once

// Where an outbound connection accepted by the proxy was meant to go: sockops recorded it in
// weft_conndst_v1 under (netns cookie, client address, client port), and the proxy takes it
// once, on accept. The in-process proxy and the proxy process both use this, over the agent's
// MapWriter or one of their own on the pinned map.

#include <cstdint>
#include <memory>
#include <optional>

#include "agent/datapath/map_writer.h"
#include "agent/proxy/proxy.h"

namespace weft::agent::proxy {

using OriginalDestinationFn = decltype(ProxyInputs::original_destination);

// Takes the original destination of the connection whose client (`peer`, an IPv4 or IPv6
// address) was accepted in the pod with `netns_cookie`; nullopt when the map has no entry or
// `peer` is not an IP address.
std::optional<SocketAddress> TakeOriginalDestination(datapath::MapWriter& writer,
                                                     uint64_t netns_cookie,
                                                     const SocketAddress& peer);

// ProxyInputs::original_destination over `writer`, which must outlive the proxy.
OriginalDestinationFn OriginalDestinationFrom(datapath::MapWriter& writer);

// The same, sharing ownership of `writer` (a deleter may keep what it uses alive too).
OriginalDestinationFn OriginalDestinationFrom(std::shared_ptr<datapath::MapWriter> writer);

}  // namespace weft::agent::proxy
