#pragma once

// The consistent-hash key of one request (DestinationRule `loadBalancer.consistentHash`, ring
// hash or Maglev): a header's value, a cookie's, a query parameter's, or the client's address.
// A request without the key is balanced at random (Envoy: no hash, the picker chooses).
//
// `httpCookie` with a `ttl`: a request without the cookie gets a new random value, hashed like
// any other, and the response sets it (`Set-Cookie: name=value; Path=path; Max-Age=ttl;
// HttpOnly`), so the client's next requests stick to the same endpoint. A zero ttl makes it a
// session cookie.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/http/message.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::waypoint::resilience {

namespace pb = ::weft::config::v1;

struct HashKey {
  std::optional<uint64_t> hash;  // nullopt: no key, pick at random
  // A cookie to set on the response (the generated key), else empty.
  std::string set_cookie;
};

// `random`: a 64-bit random value for a generated cookie.
HashKey ComputeHashKey(const pb::ConsistentHash& config, const http::RequestHead& head,
                       std::string_view source_ip, uint64_t random);

// The value of cookie `name` in the request's Cookie headers.
std::optional<std::string_view> CookieValue(const http::HeaderMap& headers, std::string_view name);
// The (undecoded) value of query parameter `name` in `path`.
std::optional<std::string_view> QueryValue(std::string_view path, std::string_view name);

}  // namespace weft::waypoint::resilience
