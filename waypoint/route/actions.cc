#include "waypoint/route/actions.h"

#include <re2/re2.h>

#include <algorithm>
#include <string>
#include <vector>

namespace weft::waypoint::route {

namespace {

using detail::StringMatcher;

// Names Istio never passes to Envoy's header operations (isInternalHeader).
bool IsInternalHeader(std::string_view name) {
  return name.starts_with(':') || http::EqualsIgnoreCase(name, "host");
}

bool IsAuthorityHeader(std::string_view name) {
  return http::EqualsIgnoreCase(name, ":authority") || http::EqualsIgnoreCase(name, "host");
}

using StringMap = google::protobuf::Map<std::string, std::string>;

std::vector<const StringMap::value_type*> SortedByKey(const StringMap& m) {
  std::vector<const StringMap::value_type*> out;
  out.reserve(m.size());
  for (const auto& kv : m) out.push_back(&kv);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->first < b->first; });
  return out;
}

std::string TrimTrailingSlash(std::string_view s) {
  if (s.ends_with('/')) s.remove_suffix(1);
  return std::string(s);
}

// The new path (without query) for Rewrite.uri.
std::string RewriteUri(const CompiledRoute& route, int match_index, std::string_view path,
                       const std::string& uri) {
  const StringMatcher* m = nullptr;
  if (match_index >= 0 && static_cast<size_t>(match_index) < route.matches().size()) {
    m = &route.matches()[static_cast<size_t>(match_index)].uri;
  }
  const StringMatcher::Kind kind = m ? m->kind : StringMatcher::Kind::kAny;
  if (route.gateway_semantics() || kind == StringMatcher::Kind::kPathPrefix) {
    if (kind == StringMatcher::Kind::kExact || kind == StringMatcher::Kind::kRegex) {
      // ReplacePrefixMatch is only valid with a PathPrefix match: anything else is the path.
      return uri;
    }
    // Gateway API ReplacePrefixMatch (HTTPPathModifier table): the matched segments are
    // replaced, a trailing "/" on either side is ignored, and the result is at least "/".
    // No path in the match is the default PathPrefix "/" (value "" once trimmed).
    std::string prefix = m && kind != StringMatcher::Kind::kAny ? TrimTrailingSlash(m->value) : "";
    std::string out = TrimTrailingSlash(uri);
    out.append(path.substr(std::min(prefix.size(), path.size())));
    if (out.empty() || out[0] != '/') out.insert(out.begin(), '/');
    return out;
  }
  // Envoy prefix_rewrite: replaces the matched part. Prefix: that many characters (also with
  // ignore_uri_case); exact and regex: the whole path; no uri rule: Istio's prefix "/".
  size_t matched = 1;
  switch (kind) {
    case StringMatcher::Kind::kPrefix:
      matched = m->value.size();
      break;
    case StringMatcher::Kind::kExact:
    case StringMatcher::Kind::kRegex:
      matched = path.size();
      break;
    default:
      break;
  }
  return uri + std::string(path.substr(std::min(matched, path.size())));
}

// Envoy processRequestHost: the request's host, its port removed when a new port is given or
// when the scheme changes and the port is the default of the request's scheme.
std::string_view RedirectHost(std::string_view host, std::string_view new_scheme, bool new_port,
                              std::string_view request_scheme) {
  if (host.empty()) return host;
  size_t port_start;
  if (host[0] == '[') {  // IPv6 literal
    port_start = host.rfind("]:");
    if (port_start != std::string_view::npos) ++port_start;
  } else {
    port_start = host.rfind(':');
  }
  if (port_start == std::string_view::npos) return host;
  std::string_view port = host.substr(port_start);
  bool remove = new_port;
  if (new_scheme != request_scheme) {
    remove |= http::EqualsIgnoreCase(request_scheme, "https") && port == ":443";
    remove |= http::EqualsIgnoreCase(request_scheme, "http") && port == ":80";
  }
  return remove ? host.substr(0, port_start) : host;
}

}  // namespace

std::optional<std::string_view> AuthorityFromHeaderOperations(const pb::HeaderOperations& ops) {
  // Istio TranslateHeadersOperations: `set` wins over `add`.
  for (const auto* map : {&ops.set(), &ops.add()}) {
    std::optional<std::string_view> found;
    for (const auto* kv : SortedByKey(*map)) {
      if (IsAuthorityHeader(kv->first)) found = kv->second;  // several: the last (Istio)
    }
    if (found) return found;
  }
  return std::nullopt;
}

void ApplyRewrite(const CompiledRoute& route, int match_index, http::RequestHead& head,
                  const pb::WeightedDestination* destination) {
  const pb::HttpRoute& r = route.proto();
  std::optional<std::string_view> authority;
  if (!r.rewrite().authority().empty()) {
    authority = r.rewrite().authority();
  } else if (auto a = AuthorityFromHeaderOperations(r.request_headers())) {
    authority = a;
  } else if (destination) {
    authority = AuthorityFromHeaderOperations(destination->request_headers());
  }
  if (authority) head.authority = std::string(*authority);

  if (!r.has_rewrite()) return;
  const pb::Rewrite& rw = r.rewrite();
  std::string_view path_only = PathWithoutQuery(head.path);
  std::string rest(std::string_view(head.path).substr(path_only.size()));  // "?query#fragment"
  std::string path;
  if (route.uri_regex()) {
    // Envoy regex_rewrite: the path without query, every non-overlapping match replaced.
    path = std::string(path_only);
    re2::RE2::GlobalReplace(&path, *route.uri_regex(), rw.uri_regex_substitution());
  } else if (rw.full_path()) {
    path = rw.uri();
  } else if (!rw.uri().empty()) {
    path = RewriteUri(route, match_index, path_only, rw.uri());
  } else {
    return;
  }
  head.path = std::move(path) + rest;
}

void ApplyHeaderOperations(const pb::HeaderOperations& ops, http::HeaderMap& headers) {
  for (const std::string& name : ops.remove()) {
    if (!IsInternalHeader(name)) headers.Remove(name);
  }
  for (const auto* kv : SortedByKey(ops.set())) {
    if (!IsInternalHeader(kv->first)) headers.Set(kv->first, kv->second);
  }
  for (const auto* kv : SortedByKey(ops.add())) {
    if (!IsInternalHeader(kv->first)) headers.Add(kv->first, kv->second);
  }
}

http::ResponseHead BuildRedirect(const CompiledRoute& route, const http::RequestHead& head,
                                 std::string_view request_scheme, int match_index) {
  const pb::Redirect& rd = route.proto().redirect();
  if (request_scheme.empty()) request_scheme = head.scheme;
  if (request_scheme.empty()) request_scheme = "http";
  std::string_view scheme = rd.scheme().empty() ? request_scheme : std::string_view(rd.scheme());

  uint32_t port = rd.port();
  const bool new_port = port != 0;
  // Istio ApplyRedirect (and Gateway API): no explicit :80 for http or :443 for https.
  if ((port == 80 && http::EqualsIgnoreCase(scheme, "http")) ||
      (port == 443 && http::EqualsIgnoreCase(scheme, "https"))) {
    port = 0;
  }
  std::string location(scheme);
  location += "://";
  if (!rd.authority().empty()) {
    location += rd.authority();  // Envoy host_redirect: the request's port is not kept
  } else {
    location += RedirectHost(head.authority, scheme, new_port, request_scheme);
  }
  if (port != 0) location += ":" + std::to_string(port);

  std::string path;
  if (!rd.prefix_rewrite().empty()) {
    std::string_view full = head.path;
    size_t q = full.find('?');
    path = RewriteUri(route, match_index, full.substr(0, q), rd.prefix_rewrite());
    if (q != std::string_view::npos) path += full.substr(q);
  } else if (!rd.uri().empty()) {
    path = rd.uri();
    // Envoy path_redirect: a query in it wins; otherwise the request's query is kept.
    if (path.find('?') == std::string::npos) {
      size_t q = head.path.find('?');
      if (q != std::string::npos) path += head.path.substr(q);
    }
  } else {
    path = head.path;
  }
  if (path.empty() || path[0] != '/') path.insert(path.begin(), '/');
  location += path;

  http::ResponseHead out;
  out.version = head.version;
  if (rd.response_code() != 0) {
    out.status = static_cast<int>(rd.response_code());
  } else {
    out.status = route.gateway_semantics() ? 302 : 301;
  }
  out.headers.Add("location", location);
  return out;
}

DirectResponse MakeDirectResponse(const pb::DirectResponse& response) {
  DirectResponse out;
  out.head.status = static_cast<int>(response.status());
  out.body = response.body();
  if (!out.body.empty()) out.head.headers.Add("content-type", "text/plain");
  return out;
}

}  // namespace weft::waypoint::route
