#include "waypoint/resilience/hash_key.h"

#include <cstdio>

#include "core/lb/balancer.h"

namespace weft::waypoint::resilience {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string_view> CookieValue(const http::HeaderMap& headers, std::string_view name) {
  for (std::string_view line : headers.GetAll("cookie")) {
    while (!line.empty()) {
      size_t semi = line.find(';');
      std::string_view pair = Trim(line.substr(0, semi));
      line = semi == std::string_view::npos ? std::string_view() : line.substr(semi + 1);
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (Trim(pair.substr(0, eq)) != name) continue;
      std::string_view v = Trim(pair.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> QueryValue(std::string_view path, std::string_view name) {
  size_t q = path.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = path.substr(q + 1);
  if (size_t hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key != name) continue;
    return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
  }
  return std::nullopt;
}

HashKey ComputeHashKey(const pb::ConsistentHash& c, const http::RequestHead& head,
                       std::string_view source_ip, uint64_t random) {
  HashKey out;
  switch (c.key_case()) {
    case pb::ConsistentHash::kHttpHeaderName: {
      // Several values of one header hash as Envoy joins them.
      std::vector<std::string_view> all = head.headers.GetAll(c.http_header_name());
      if (all.empty()) break;
      std::string joined;
      for (size_t i = 0; i < all.size(); ++i) {
        if (i) joined += ',';
        joined.append(all[i]);
      }
      out.hash = lb::StableHash(joined);
      break;
    }
    case pb::ConsistentHash::kHttpCookie: {
      const pb::HttpCookie& cookie = c.http_cookie();
      if (auto v = CookieValue(head.headers, cookie.name())) {
        out.hash = lb::StableHash(*v);
        break;
      }
      if (!cookie.has_ttl_ms()) break;
      char value[17];
      std::snprintf(value, sizeof value, "%016llx", static_cast<unsigned long long>(random));
      out.hash = lb::StableHash(value);
      out.set_cookie = cookie.name() + "=" + value;
      if (!cookie.path().empty()) out.set_cookie += "; Path=" + cookie.path();
      if (cookie.ttl_ms() > 0) {
        out.set_cookie += "; Max-Age=" + std::to_string((cookie.ttl_ms() + 999) / 1000);
      }
      out.set_cookie += "; HttpOnly";
      break;
    }
    case pb::ConsistentHash::kUseSourceIp:
      if (c.use_source_ip() && !source_ip.empty()) out.hash = lb::StableHash(source_ip);
      break;
    case pb::ConsistentHash::kHttpQueryParameterName:
      if (auto v = QueryValue(head.path, c.http_query_parameter_name())) {
        out.hash = lb::StableHash(*v);
      }
      break;
    case pb::ConsistentHash::KEY_NOT_SET:
      break;
  }
  return out;
}

}  // namespace weft::waypoint::resilience
