#include "waypoint/route/route_table.h"

#include <re2/re2.h>

#include <algorithm>
#include <optional>

#include "absl/status/status.h"

namespace weft::waypoint::route {

namespace {

using detail::HeaderMatcher;
using detail::QueryMatcher;
using detail::StringMatcher;

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && http::EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

bool StartsWith(std::string_view s, std::string_view prefix, bool ignore_case) {
  return ignore_case ? StartsWithIgnoreCase(s, prefix) : s.starts_with(prefix);
}

enum class Field : uint8_t { kUri, kMethod, kHeader, kQuery };

std::string_view FieldName(Field f) {
  switch (f) {
    case Field::kUri:
      return "uri";
    case Field::kMethod:
      return "method";
    case Field::kHeader:
      return "header";
    case Field::kQuery:
      return "query parameter";
  }
  return "";
}

absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileRegex(const std::string& pattern) {
  // Envoy's safe_regex is Google RE2 with default options; its match is a full match.
  auto re = std::make_shared<const re2::RE2>(pattern, re2::RE2::Quiet);
  if (!re->ok()) {
    return absl::InvalidArgumentError("invalid regular expression \"" + pattern +
                                      "\": " + re->error());
  }
  return re;
}

absl::Status Compile(const pb::StringMatchRule& in, Field field, bool ignore_case,
                     StringMatcher* out) {
  const bool value_field = field == Field::kHeader || field == Field::kQuery;
  // Istio: a header or query match with no value ({}) is a presence match.
  out->kind = value_field ? StringMatcher::Kind::kPresent : StringMatcher::Kind::kAny;
  switch (in.kind_case()) {
    case pb::StringMatchRule::KIND_NOT_SET:
      return absl::OkStatus();
    case pb::StringMatchRule::kExact:
      out->kind = StringMatcher::Kind::kExact;
      out->value = in.exact();
      break;
    case pb::StringMatchRule::kPrefix:
      out->kind = StringMatcher::Kind::kPrefix;
      out->value = in.prefix();
      break;
    case pb::StringMatchRule::kRegex: {
      // Istio: regex "*" on a header or query parameter is not RE2 but "present"
      // (canBeConvertedToPresentMatch, istio/istio#20629).
      if (value_field && in.regex() == "*") return absl::OkStatus();
      auto re = CompileRegex(in.regex());
      if (!re.ok()) return re.status();
      out->kind = StringMatcher::Kind::kRegex;
      out->regex = std::move(*re);
      return absl::OkStatus();
    }
    case pb::StringMatchRule::kPathPrefix: {
      if (field != Field::kUri) {
        return absl::InvalidArgumentError(std::string(FieldName(field)) +
                                          ": a path prefix is only valid for the uri");
      }
      // Gateway API PathPrefix, as Istio compiles it to Envoy's path_separated_prefix: the
      // trailing "/" is ignored ("/foo/" is "/foo"), and "/" matches every path.
      out->kind = StringMatcher::Kind::kPathPrefix;
      std::string_view v = in.path_prefix();
      if (v.ends_with('/')) v.remove_suffix(1);
      out->value = std::string(v);
      break;
    }
  }
  // Envoy's case_sensitive=false (Istio ignoreUriCase) applies to exact and prefix path
  // matches, never to regex ones.
  out->ignore_case = ignore_case && field == Field::kUri;
  return absl::OkStatus();
}

absl::Status CompileHeaders(const google::protobuf::RepeatedPtrField<pb::HeaderMatch>& in,
                            bool without, std::vector<HeaderMatcher>* out) {
  for (const auto& h : in) {
    HeaderMatcher m;
    m.name = http::ToLower(h.name());
    if (auto s = Compile(h.value(), Field::kHeader, false, &m.value); !s.ok()) {
      return absl::InvalidArgumentError("header \"" + h.name() + "\": " + std::string(s.message()));
    }
    // withoutHeaders, as Istio translates it: the same matcher with invert_match, and a missing
    // header compared as "" (treat_missing_header_as_empty) unless it is a presence match, so
    // that a request without the header matches `withoutHeaders: {x: {exact: v}}`. An entry's
    // own `invert` flag flips it back.
    m.invert = h.invert() != without;
    m.missing_as_empty = without && m.value.kind != StringMatcher::Kind::kPresent;
    out->push_back(std::move(m));
  }
  return absl::OkStatus();
}

// The value of a request header as Envoy's header matchers see it: pseudo-headers and Host
// read the head (Host is :authority); several fields of one name are joined with "," into
// `scratch` (HeaderUtility::getAllOfHeaderAsString). nullopt when absent.
std::optional<std::string_view> HeaderValue(const http::RequestHead& h, std::string_view name,
                                            std::string& scratch) {
  if (!name.empty() && name[0] == ':') {
    std::string_view v;
    if (name == ":authority") {
      v = h.authority;
    } else if (name == ":method") {
      v = h.method;
    } else if (name == ":path") {
      v = h.path;
    } else if (name == ":scheme") {
      v = h.scheme;
    } else {
      return std::nullopt;
    }
    if (v.empty()) return std::nullopt;
    return v;
  }
  if (name == "host") {
    if (h.authority.empty()) return std::nullopt;
    return std::string_view(h.authority);
  }
  std::optional<std::string_view> first;
  bool joined = false;
  for (const auto& f : h.headers) {
    if (!http::EqualsIgnoreCase(f.name, name)) continue;
    if (!first) {
      first = f.value;
      continue;
    }
    if (!joined) {
      scratch.assign(first->data(), first->size());
      joined = true;
    }
    scratch += ',';
    scratch += f.value;
  }
  if (joined) return std::string_view(scratch);
  return first;
}

// The first value of query parameter `name`, neither side URL-decoded: Envoy's route matcher
// parses the query with QueryParamsMulti::parseQueryString (decode_params=false) and matches
// getFirstValue(name). A parameter without "=" has the value "". nullopt when absent.
std::optional<std::string_view> QueryValue(std::string_view path, std::string_view name) {
  size_t q = path.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = path.substr(q + 1);
  if (size_t hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    size_t eq = param.find('=');
    std::string_view key = param.substr(0, eq);
    if (key == name) {
      return eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

bool HeaderMatches(const HeaderMatcher& m, const http::RequestHead& head, std::string& scratch) {
  std::optional<std::string_view> v = HeaderValue(head, m.name, scratch);
  if (m.value.kind == StringMatcher::Kind::kPresent) return v.has_value() != m.invert;
  if (!v) {
    // Envoy: a missing header fails a value match, inverted or not, unless
    // treat_missing_header_as_empty.
    if (!m.missing_as_empty) return false;
    v = std::string_view();
  }
  return m.value.Matches(*v) != m.invert;
}

bool QueryMatches(const QueryMatcher& m, std::string_view path) {
  std::optional<std::string_view> v = QueryValue(path, m.name);
  if (m.value.kind == StringMatcher::Kind::kPresent) return v.has_value() != m.invert;
  if (!v) return false;
  return m.value.Matches(*v) != m.invert;
}

}  // namespace

namespace detail {

bool StringMatcher::Matches(std::string_view s) const {
  switch (kind) {
    case Kind::kAny:
    case Kind::kPresent:
      return true;
    case Kind::kExact:
      return ignore_case ? http::EqualsIgnoreCase(s, value) : s == value;
    case Kind::kPrefix:
      return StartsWith(s, value, ignore_case);
    case Kind::kRegex:
      return re2::RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *regex);
    case Kind::kPathPrefix:
      // Envoy path_separated_prefix: the path is the prefix, or the prefix then "/".
      return StartsWith(s, value, ignore_case) &&
             (s.size() == value.size() || s[value.size()] == '/');
  }
  return false;
}

}  // namespace detail

std::string_view PathWithoutQuery(std::string_view path) {
  // Envoy: Http::PathUtil::removeQueryAndFragment.
  return path.substr(0, path.find_first_of("?#"));
}

bool MatchesRequest(const detail::Match& m, const RequestContext& ctx) {
  const http::RequestHead& head = *ctx.head;
  // Istio HTTPMatchRequest.port: the port the request was sent to, here the service port.
  if (m.port != 0 && m.port != ctx.port) return false;
  if (!m.method.Matches(head.method)) return false;  // Istio: a :method header matcher
  // uri rules see the path without query and fragment (Envoy route matching).
  if (!m.uri.Matches(PathWithoutQuery(head.path))) return false;
  if (!m.headers.empty()) {
    std::string scratch;  // allocates only when a matched header has several fields
    for (const HeaderMatcher& h : m.headers) {
      if (!HeaderMatches(h, head, scratch)) return false;
    }
  }
  for (const QueryMatcher& q : m.query_params) {
    if (!QueryMatches(q, head.path)) return false;
  }
  // Istio sourceLabels: a subset of the calling workload's labels.
  if (!m.source_labels.empty()) {
    if (!ctx.source_labels) return false;
    for (const auto& [k, v] : m.source_labels) {
      auto it = ctx.source_labels->find(k);
      if (it == ctx.source_labels->end() || it->second != v) return false;
    }
  }
  // Istio sourceNamespace: the client's namespace, exactly.
  if (!m.source_namespace.empty() && m.source_namespace != ctx.source_namespace) return false;
  return true;
}

CompiledRouteTable::CompiledRouteTable(CompiledRouteTable&&) noexcept = default;
CompiledRouteTable& CompiledRouteTable::operator=(CompiledRouteTable&&) noexcept = default;
CompiledRouteTable::~CompiledRouteTable() = default;

absl::StatusOr<CompiledRouteTable> CompiledRouteTable::Build(const pb::RouteTable& table) {
  CompiledRouteTable out;
  out.table_ = std::make_unique<pb::RouteTable>(table);
  const auto& routes = out.table_->http_routes();
  out.routes_.resize(static_cast<size_t>(routes.size()));
  for (int i = 0; i < routes.size(); ++i) {
    const pb::HttpRoute& r = routes[i];
    CompiledRoute& c = out.routes_[static_cast<size_t>(i)];
    c.proto_ = &r;
    c.index_ = i;
    // Istio applies Gateway API semantics to what it converted from an HTTPRoute
    // (UseGatewaySemantics); only an HTTPRoute has path prefixes.
    c.gateway_semantics_ = r.source().kind() == "HTTPRoute";
    auto where = [&](int m) {
      std::string s = "route " + std::to_string(i);
      if (!r.name().empty()) s += " (" + r.name() + ")";
      if (m >= 0) s += " match " + std::to_string(m);
      return s + ": ";
    };
    c.matches_.reserve(static_cast<size_t>(r.matches_size()));
    for (int m = 0; m < r.matches_size(); ++m) {
      const pb::HttpMatch& in = r.matches(m);
      detail::Match dm;
      absl::Status s = Compile(in.uri(), Field::kUri, in.ignore_uri_case(), &dm.uri);
      if (s.ok()) s = Compile(in.method(), Field::kMethod, false, &dm.method);
      // Istio translates authority and scheme to header matchers on :authority and :scheme
      // (case-sensitive values, like any header match).
      for (auto [name, rule] :
           {std::pair{":authority", &in.authority()}, std::pair{":scheme", &in.scheme()}}) {
        if (!s.ok() || rule->kind_case() == pb::StringMatchRule::KIND_NOT_SET) continue;
        pb::HeaderMatch h;
        h.set_name(name);
        *h.mutable_value() = *rule;
        google::protobuf::RepeatedPtrField<pb::HeaderMatch> one;
        *one.Add() = std::move(h);
        s = CompileHeaders(one, false, &dm.headers);
      }
      if (s.ok()) s = CompileHeaders(in.headers(), false, &dm.headers);
      if (s.ok()) s = CompileHeaders(in.without_headers(), true, &dm.headers);
      for (int q = 0; s.ok() && q < in.query_params_size(); ++q) {
        const pb::HeaderMatch& qp = in.query_params(q);
        QueryMatcher qm;
        qm.name = qp.name();  // Envoy compares query parameter names as written
        qm.invert = qp.invert();
        s = Compile(qp.value(), Field::kQuery, false, &qm.value);
        if (s.ok()) dm.query_params.push_back(std::move(qm));
      }
      if (!s.ok()) return absl::InvalidArgumentError(where(m) + std::string(s.message()));
      if (in.uri().has_path_prefix()) c.gateway_semantics_ = true;
      dm.port = in.port();
      dm.source_namespace = in.source_namespace();
      for (const auto& [k, v] : in.source_labels()) dm.source_labels.emplace_back(k, v);
      std::sort(dm.source_labels.begin(), dm.source_labels.end());
      c.matches_.push_back(std::move(dm));
    }
    if (!r.rewrite().uri_regex().empty()) {
      auto re = CompileRegex(r.rewrite().uri_regex());
      if (!re.ok())
        return absl::InvalidArgumentError(where(-1) + "rewrite: " + re.status().ToString());
      c.uri_regex_ = std::move(*re);
    }
    c.retry_policy_ = resilience::RetryPolicy::ForRoute(&r);
  }
  return out;
}

RouteMatch CompiledRouteTable::Match(const RequestContext& ctx) const {
  if (!ctx.head) return {};
  for (const CompiledRoute& r : routes_) {
    // No matches: everything (Istio translates a route without match to prefix "/").
    if (r.matches_.empty()) return {&r, -1};
    for (size_t m = 0; m < r.matches_.size(); ++m) {
      if (MatchesRequest(r.matches_[m], ctx)) return {&r, static_cast<int>(m)};
    }
  }
  return {};
}

const pb::WeightedDestination* PickDestination(const CompiledRoute& route, uint64_t random) {
  const auto& dests = route.proto().destinations();
  uint64_t total = 0;
  for (const auto& d : dests) total += d.weight();
  if (total == 0) return nullptr;
  // Envoy WeightedClusterEntry selection: random % total, then the first destination whose
  // cumulative weight exceeds it. A weight-0 destination never covers any value.
  uint64_t pick = random % total;
  uint64_t cumulative = 0;
  for (const auto& d : dests) {
    cumulative += d.weight();
    if (pick < cumulative) return &d;
  }
  return nullptr;  // unreachable
}

}  // namespace weft::waypoint::route
