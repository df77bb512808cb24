#pragma once

// HBONE as Istio's ztunnel speaks it: HTTP/2 CONNECT (RFC 9113 §8.5) over mutual TLS 1.3 on
// :15008, `:authority` = the destination workload's IP:port. See docs/security.md
// ("HBONE", "HBONE implementation").

#include <utility>  // before Boost.Asio 1.74 (awaitable.hpp uses std::exchange)

#include <boost/asio.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::hbone {

inline constexpr uint16_t kPort = 15008;

// Request headers ztunnel sends with CONNECT (src/proxy/outbound.rs, src/proxy.rs).
inline constexpr std::string_view kBaggageHeader = "baggage";
inline constexpr std::string_view kForwardedHeader = "forwarded";
inline constexpr std::string_view kTraceparentHeader = "traceparent";
// Set by an east-west gateway (ztunnel treats the request as coming through one).
inline constexpr std::string_view kForwardedNetworkHeader = "x-forwarded-network";

// Status codes (ztunnel src/proxy/inbound.rs).
inline constexpr int kOk = 200;
inline constexpr int kBadRequest = 400;          // not CONNECT, bad :authority, not our workload
inline constexpr int kUnauthorized = 401;        // authorization policy denied
inline constexpr int kServiceUnavailable = 503;  // connecting to the application failed

// "10.0.0.1:80", "[fd00::1]:80" -> endpoint; nullopt for anything else (hostnames, no port,
// port 0, an IPv6 address without brackets, zone IDs).
std::optional<boost::asio::ip::tcp::endpoint> ParseAuthority(std::string_view authority);
// The inverse: IPv6 in brackets.
std::string FormatAuthority(const boost::asio::ip::tcp::endpoint& endpoint);

// `forwarded: for=<ip>` as ztunnel writes it (IPv6 quoted and bracketed, RFC 7239).
std::string ForwardedFor(const boost::asio::ip::address& source);

// A fresh W3C traceparent "00-<32 hex>-<16 hex>-00" (ztunnel sends flags 00).
std::string NewTraceparent();

}  // namespace weft::hbone
