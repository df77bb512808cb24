#pragma once

// The waypoint's HTTP routing: one compiled RouteTable (VirtualService or HTTPRoute, as the
// policy compiler produced it) matched against a request head, with Istio/Envoy semantics.
//
// Built once per snapshot (regular expressions compiled with RE2, Gateway API prefixes
// normalised, matches flattened); then Match() runs once per request: no locks, and no
// allocation unless a matched header has several values (Envoy joins them with ","). A table
// is immutable and safe to share between worker threads; it keeps its own copy of the routes,
// so the RouteTable it was built from may go away.
//
// Per request, after authorization (docs/waypoint.md, filter chain step 4):
//
//   route::RequestContext ctx{&head, service_port, &client_workload_labels, client_ns};
//   route::RouteMatch m = table.Match(ctx);
//   if (!m) { answer 404; }
//   const pb::HttpRoute& r = m.route->proto();
//   if (r.has_redirect())        { answer route::BuildRedirect(*m.route, head, scheme); }
//   if (r.has_direct_response()) { answer route::MakeDirectResponse(r.direct_response()); }
//   const pb::WeightedDestination* d = route::PickDestination(*m.route, rng());
//   if (!d) { answer 500; }                     // every weight 0 (Gateway API: 500)
//   route::ApplyRewrite(*m.route, m.match_index, head, d);
//   route::ApplyHeaderOperations(r.request_headers(), head.headers);
//   route::ApplyHeaderOperations(d->request_headers(), head.headers);
//
// Tables are in evaluation order (VirtualService: as written; HTTPRoute: sorted by the
// compiler by Gateway API precedence) and the first route with a matching match wins.
// The actions (rewrite, redirect, header operations, direct response) are in actions.h.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/http/message.h"
#include "waypoint/resilience/retry_policy.h"
#include "weft/config/v1/snapshot.pb.h"

namespace re2 {
class RE2;
}

namespace weft::waypoint::route {

namespace pb = ::weft::config::v1;

using Labels = std::map<std::string, std::string>;

// What matching may read of a request.
struct RequestContext {
  const http::RequestHead* head = nullptr;
  // The destination service port the client dialed (the HBONE authority's port); HttpMatch.port
  // compares with it.
  uint32_t port = 0;
  // Labels of the calling workload (HttpMatch.source_labels must be a subset). Null: no
  // workload known, so a match with source_labels fails.
  const Labels* source_labels = nullptr;
  // The calling workload's namespace (from its verified identity); HttpMatch.source_namespace
  // must equal it (Istio sourceNamespace). Empty: unknown, so such a match fails.
  std::string_view source_namespace;
};

namespace detail {

// One compiled StringMatchRule (uri, method, a header or query value).
struct StringMatcher {
  enum class Kind : uint8_t {
    kAny,      // unset: matches every value (uri, method)
    kPresent,  // header/query present, whatever the value
    kExact,
    kPrefix,      // plain string prefix (Istio)
    kRegex,       // RE2 full match
    kPathPrefix,  // Gateway API PathPrefix: whole segments
  };
  Kind kind = Kind::kAny;
  std::string value;         // kPathPrefix: without the trailing '/' ("" for "/")
  bool ignore_case = false;  // exact, prefix and path prefix only (Envoy case_sensitive)
  std::shared_ptr<const re2::RE2> regex;

  bool Matches(std::string_view s) const;
};

struct HeaderMatcher {
  std::string name;  // lowercase; ":authority", "host", ":method", ":path", ":scheme" read the head
  StringMatcher value;
  bool invert = false;
  // A missing header is compared as "" (withoutHeaders: Istio sets treat_missing_header_as_empty).
  bool missing_as_empty = false;
};

struct QueryMatcher {
  std::string name;
  StringMatcher value;
  bool invert = false;
};

struct Match {
  StringMatcher uri;
  StringMatcher method;
  // authority and scheme (Istio: matchers on :authority and :scheme), headers, then
  // without_headers.
  std::vector<HeaderMatcher> headers;
  std::vector<QueryMatcher> query_params;
  std::vector<std::pair<std::string, std::string>> source_labels;
  std::string source_namespace;  // empty: any
  uint32_t port = 0;
};

}  // namespace detail

// One HttpRoute with its matches compiled.
class CompiledRoute {
 public:
  const pb::HttpRoute& proto() const { return *proto_; }
  // Position in the table.
  int index() const { return index_; }
  // Gateway API semantics (HTTPRoute): segment-wise prefix rewrite, 302 as the default redirect
  // code. Otherwise Istio/Envoy semantics (VirtualService).
  bool gateway_semantics() const { return gateway_semantics_; }
  const std::vector<detail::Match>& matches() const { return matches_; }
  // Rewrite.uri_regex, compiled; null when not set.
  const re2::RE2* uri_regex() const { return uri_regex_.get(); }
  // The route's retry policy (its `retries`, else Istio's default), compiled once, not per
  // request.
  const resilience::RetryPolicy& retry_policy() const { return retry_policy_; }

 private:
  friend class CompiledRouteTable;
  const pb::HttpRoute* proto_ = nullptr;
  int index_ = 0;
  bool gateway_semantics_ = false;
  std::vector<detail::Match> matches_;
  std::shared_ptr<const re2::RE2> uri_regex_;
  resilience::RetryPolicy retry_policy_ = resilience::RetryPolicy::IstioDefault();
};

struct RouteMatch {
  const CompiledRoute* route = nullptr;
  // Index of the HttpMatch that matched in route->proto().matches(); -1 when the route has no
  // matches (it matches everything, as Envoy's prefix "/").
  int match_index = -1;
  explicit operator bool() const { return route != nullptr; }
};

class CompiledRouteTable {
 public:
  // Compiles every route. Fails (InvalidArgument, naming the route and match) on a regular
  // expression RE2 rejects or a Gateway API path prefix outside `uri`; the compiler rejects
  // both, so this only happens with a snapshot from elsewhere.
  static absl::StatusOr<CompiledRouteTable> Build(const pb::RouteTable& table);

  CompiledRouteTable(CompiledRouteTable&&) noexcept;
  CompiledRouteTable& operator=(CompiledRouteTable&&) noexcept;
  ~CompiledRouteTable();

  // The first route (in table order) one of whose matches succeeds; a route without matches
  // matches every request. Empty when none matches (the caller answers 404).
  RouteMatch Match(const RequestContext& ctx) const;

  const pb::RouteTable& proto() const { return *table_; }
  const std::vector<CompiledRoute>& routes() const { return routes_; }

 private:
  CompiledRouteTable() = default;
  std::unique_ptr<pb::RouteTable> table_;  // owned copy; routes_ point into it
  std::vector<CompiledRoute> routes_;
};

// Whether one compiled match accepts the request (exposed for tests and explain).
bool MatchesRequest(const detail::Match& m, const RequestContext& ctx);

// Weighted choice over route.destinations: `random` (any 64-bit value) modulo the total weight,
// walked cumulatively in destination order, as Envoy's weighted clusters. A destination of
// weight 0 is never picked; null when there is no destination or every weight is 0 (the
// caller answers 500, as Gateway API requires for a rule whose backends all have weight 0).
const pb::WeightedDestination* PickDestination(const CompiledRoute& route, uint64_t random);

// The path of origin-form `path` without query and fragment ("/a" of "/a?b#c"), which is what
// Envoy matches uri rules against.
std::string_view PathWithoutQuery(std::string_view path);

}  // namespace weft::waypoint::route
