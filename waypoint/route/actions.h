#pragma once

// What a matched route does to a request, with Istio/Envoy semantics for VirtualService routes
// and Gateway API semantics for HTTPRoute routes (CompiledRoute::gateway_semantics()): path and
// authority rewrite, redirect, direct response, header operations. Pure functions of the route
// and the request head; the order in which the filter chain calls them is in route_table.h.

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/http/message.h"
#include "waypoint/route/route_table.h"

namespace weft::waypoint::route {

// Rewrites `head` for the chosen route (`match_index` from RouteMatch) before it goes upstream.
//
// Path (only when the route has a `rewrite`), the query string always kept:
//  - uri_regex: every match in the path (without query) replaced by uri_regex_substitution
//    (RE2::GlobalReplace, "\1" back-references: Envoy regex_rewrite, Istio uriRegexRewrite);
//  - full_path (Gateway API ReplaceFullPath): the path becomes `uri`;
//  - uri, Istio: Envoy prefix_rewrite: the matched prefix is replaced; for an exact or regex
//    match the matched part is the whole path; a route or match without uri is prefix "/"
//    (so `uri: /v2` makes "/a" "/v2a", as in Istio);
//  - uri, Gateway API ReplacePrefixMatch: segment-wise, trailing "/" ignored on both sides:
//    prefix "/foo" replaced with "/bar" makes "/foo/x" "/bar/x"; with "/" it makes "/x"
//    (never "//x"), and "/foo" itself becomes "/".
// Authority: rewrite.authority, else a Host/:authority in the route's request_headers (set
// over add), else one in `destination`'s request_headers, as Istio folds them into Envoy's
// host_rewrite_literal (the route's rewrite wins over the destination's headers).
void ApplyRewrite(const CompiledRoute& route, int match_index, http::RequestHead& head,
                  const pb::WeightedDestination* destination = nullptr);

// The authority a header operation list asks for ("host" or ":authority" in `set`, else in
// `add`, any case), which Istio turns into a host rewrite; nullopt when none.
std::optional<std::string_view> AuthorityFromHeaderOperations(const pb::HeaderOperations& ops);

// Applies header operations in Envoy's order: every `remove`, then every `set` (replaces all
// fields of that name with one), then every `add` (appends a field); `set` and `add` each in
// key order (protobuf maps have no order; Istio sorts them by key). Names starting with ":"
// and "host" are skipped, as Istio drops them (isInternalHeader) and Envoy refuses to modify
// pseudo-headers: the authority is changed by ApplyRewrite instead.
void ApplyHeaderOperations(const pb::HeaderOperations& ops, http::HeaderMap& headers);

// The redirect response of a route with `redirect`: status and `location`, Envoy's
// RedirectAction with Istio's translation:
//  - status: response_code; when 0, 301 (Istio redirectCode default), or 302 for a Gateway API
//    route (HTTPRoute RequestRedirect statusCode default);
//  - scheme: redirect.scheme, else `request_scheme` (else head.scheme, else "http");
//  - host: redirect.authority, else the request's authority, its port removed when a port is
//    given or when the scheme changes away from the request's and the port was its default;
//  - port: redirect.port, left out when it is the scheme's default (80 for http, 443 for
//    https), as Istio and Gateway API do;
//  - path: redirect.uri replaces the whole path (Istio: "irrespective of the request URI being
//    matched as an exact path or prefix"; the compiler stores HTTPRoute ReplacePrefixMatch the
//    same way), keeping the request's query unless the uri has one (strip_query false);
//    empty: the request's path. A path that does not start with "/" gets one;
//    redirect.prefix_rewrite replaces the part of the path match `match_index` matched, as
//    Rewrite.uri does (Envoy prefix_rewrite), keeping the query.
http::ResponseHead BuildRedirect(const CompiledRoute& route, const http::RequestHead& head,
                                 std::string_view request_scheme, int match_index = -1);

// A route's direct response: the status, and with a body `content-type: text/plain` (as
// Envoy's direct_response with an inline body). The body points into the route's table; the
// codec frames it (Content-Length).
struct DirectResponse {
  http::ResponseHead head;
  std::string_view body;
};
DirectResponse MakeDirectResponse(const pb::DirectResponse& response);

}  // namespace weft::waypoint::route
