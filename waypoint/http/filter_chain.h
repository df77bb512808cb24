#pragma once

// The waypoint's per-request filter chain (docs/waypoint.md, "filter chain"). Each filter
// looks at (and may change) the request before it goes upstream, and the response head on its
// way back, in reverse order. A filter stops the chain by setting a local reply (404, 403,
// a redirect, a direct response): the exchange answers it and no upstream is contacted.
//
// The resilience filters of the next issue (fault, mirror, retry/timeout) slot in between the
// ones here; filters that must wait (a fault delay) will return kPause and resume the chain.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/authz/ip.h"
#include "core/http/message.h"
#include "waypoint/config/view.h"
#include "waypoint/route/route_table.h"

namespace weft::waypoint {

// What the waypoint knows about the downstream connection a request arrived on.
struct ConnectionInfo {
  std::string peer_principal;  // the client's verified SPIFFE ID ("spiffe://td/ns/x/sa/y")
  std::string peer_namespace;
  std::string source_ip;  // the original client's address (HBONE `forwarded`, else peer)
  std::string target_ip;  // the service VIP the client dialed (CONNECT authority)
  uint32_t target_port = 0;
  // The two addresses parsed once per connection, for authorization (unset: not an address).
  authz::IpAddress source_address;
  authz::IpAddress target_address;

  // Sets source_ip and target_ip and their parsed forms.
  void SetAddresses(std::string source, std::string target) {
    source_ip = std::move(source);
    target_ip = std::move(target);
    source_address = authz::IpAddress::Parse(source_ip).value_or(authz::IpAddress());
    target_address = authz::IpAddress::Parse(target_ip).value_or(authz::IpAddress());
  }
  http::Version version = http::Version::kHttp11;
};

// An answer the waypoint gives itself.
struct LocalReply {
  int status = 200;
  std::string body;
  http::HeaderMap headers;
  // Envoy response flag ("NR" no route, "UH" no healthy upstream, "UF" upstream connection
  // failure, "URX", "UPE", ...); "-" when none. Logged and counted, as Istio users read them.
  std::string flag = "-";
};

struct RequestState {
  std::shared_ptr<const WaypointView> view;
  const ConnectionInfo* conn = nullptr;
  const BoundService* target = nullptr;
  http::RequestHead* head = nullptr;
  uint64_t random = 0;  // per request, for weighted choices

  // Set by the filters.
  std::string request_id;
  route::RouteMatch match;
  const pb::WeightedDestination* destination = nullptr;
  std::string upstream_host;  // service hostname the request goes to
  std::string subset;
  uint32_t upstream_port = 0;  // service port of upstream_host
  std::optional<LocalReply> reply;
  std::string authz_policy;  // the policy that decided, for logs ("ns/name")
};

class Filter {
 public:
  virtual ~Filter() = default;
  virtual std::string_view name() const = 0;
  // false (with state.reply set) stops the chain.
  virtual bool OnRequest(RequestState& state) = 0;
  virtual void OnResponse(RequestState& state, http::ResponseHead& head) {
    (void)state;
    (void)head;
  }
};

class FilterChain {
 public:
  void Add(std::unique_ptr<Filter> f) { filters_.push_back(std::move(f)); }
  // Runs the request filters in order; false when one answered locally.
  bool OnRequest(RequestState& state) const;
  // Runs the response filters in reverse order, those whose OnRequest ran.
  void OnResponse(RequestState& state, http::ResponseHead& head) const;
  const std::vector<std::unique_ptr<Filter>>& filters() const { return filters_; }

 private:
  std::vector<std::unique_ptr<Filter>> filters_;
};

// The chain of this issue: forwarding headers (x-request-id, x-forwarded-for,
// x-forwarded-proto), authorization, routing, rewrite and header operations.
std::unique_ptr<FilterChain> DefaultFilterChain();

// Filters, exposed for tests.
std::unique_ptr<Filter> MakeForwardingFilter();
std::unique_ptr<Filter> MakeAuthorizationFilter();
std::unique_ptr<Filter> MakeRouteFilter();

// A random UUID v4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"), as Envoy's x-request-id.
std::string NewRequestId();

}  // namespace weft::waypoint
