#include "core/hbone/hbone.h"

#include <charconv>
#include <cstdio>
#include <random>

namespace weft::hbone {

namespace asio = boost::asio;

std::optional<asio::ip::tcp::endpoint> ParseAuthority(std::string_view a) {
  std::string_view host;
  std::string_view port;
  bool v6 = false;
  if (!a.empty() && a.front() == '[') {
    size_t close = a.find(']');
    if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':') {
      return std::nullopt;
    }
    host = a.substr(1, close - 1);
    port = a.substr(close + 2);
    v6 = true;
  } else {
    size_t colon = a.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // bare IPv6
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  if (host.find('%') != std::string_view::npos) return std::nullopt;
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) {
    return std::nullopt;
  }
  boost::system::error_code e;
  auto addr = asio::ip::make_address(std::string(host), e);
  if (e || addr.is_v6() != v6) return std::nullopt;
  return asio::ip::tcp::endpoint(addr, static_cast<uint16_t>(p));
}

std::string FormatAuthority(const asio::ip::tcp::endpoint& ep) {
  if (ep.address().is_v6()) {
    return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  }
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string ForwardedFor(const asio::ip::address& source) {
  if (source.is_v6()) return "for=\"[" + source.to_string() + "]\"";
  return "for=" + source.to_string();
}

std::string NewTraceparent() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t t1 = rng(), t2 = rng(), span = rng();
  char buf[64];
  std::snprintf(buf, sizeof(buf), "00-%016llx%016llx-%016llx-00",
                static_cast<unsigned long long>(t1), static_cast<unsigned long long>(t2),
                static_cast<unsigned long long>(span));
  return buf;
}

}  // namespace weft::hbone
