#pragma once

// Connection-specific ("hop-by-hop") headers: never forwarded from one connection to the
// next (RFC 9110 §7.6.1), and forbidden in HTTP/2 (RFC 9113 §8.2.2).

#include "core/http/message.h"

namespace weft::waypoint {

// Removes Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE (except
// "te: trailers" when `keep_te_trailers`), and every header the Connection header names.
void StripHopByHop(http::HeaderMap& headers, bool keep_te_trailers);

// Whether `name` (lowercase) is one of the headers StripHopByHop always removes (Connection,
// Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE). Without a Connection header,
// these are the only ones it removes.
bool IsHopByHopName(std::string_view name);
// Whether StripHopByHop would change `headers` (most messages: no).
bool HasHopByHop(const http::HeaderMap& headers);

// Whether the TE header asks for trailers ("te: trailers").
bool WantsTrailers(const http::HeaderMap& headers);

}  // namespace weft::waypoint
