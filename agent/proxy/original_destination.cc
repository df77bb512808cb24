#include "agent/proxy/original_destination.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace weft::agent::proxy {

std::optional<SocketAddress> TakeOriginalDestination(datapath::MapWriter& writer,
                                                     uint64_t netns_cookie,
                                                     const SocketAddress& peer) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (peer.address.find(':') == std::string::npos) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(peer.port);
    if (inet_pton(AF_INET, peer.address.c_str(), &sa->sin_addr) != 1) return std::nullopt;
    len = sizeof(sockaddr_in);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(peer.port);
    if (inet_pton(AF_INET6, peer.address.c_str(), &sa->sin6_addr) != 1) return std::nullopt;
    len = sizeof(sockaddr_in6);
  }
  auto d = writer.TakeOriginalDestination(netns_cookie, reinterpret_cast<sockaddr*>(&ss), len);
  if (!d.ok()) return std::nullopt;
  return SocketAddress{d->addr.ToString(), d->port};
}

OriginalDestinationFn OriginalDestinationFrom(datapath::MapWriter& writer) {
  return [&writer](uint64_t cookie, const SocketAddress& peer) {
    return TakeOriginalDestination(writer, cookie, peer);
  };
}

OriginalDestinationFn OriginalDestinationFrom(std::shared_ptr<datapath::MapWriter> writer) {
  return [writer = std::move(writer)](uint64_t cookie, const SocketAddress& peer) {
    return TakeOriginalDestination(*writer, cookie, peer);
  };
}

}  // namespace weft::agent::proxy
