#include "waypoint/http/filter_chain.h"

#include <random>

#include "waypoint/route/actions.h"

namespace weft::waypoint {

namespace {

// ---- forwarding headers ----

class ForwardingFilter : public Filter {
 public:
  std::string_view name() const override { return "forwarding"; }
  bool OnRequest(RequestState& s) override {
    http::HeaderMap& h = s.head->headers;
    // x-request-id: kept when the client sent one (Envoy preserves it inside a mesh), else
    // a new UUID.
    if (auto id = h.Get("x-request-id"); id && !id->empty()) {
      s.request_id = std::string(*id);
    } else {
      s.request_id = NewRequestId();
      h.Set("x-request-id", s.request_id);
    }
    // x-forwarded-for: the original client's address appended, as Envoy does with
    // use_remote_address (the waypoint is the client's first L7 hop in the mesh).
    if (!s.conn->source_ip.empty()) {
      if (auto xff = h.Get("x-forwarded-for"); xff && !xff->empty()) {
        h.Set("x-forwarded-for", std::string(*xff) + "," + s.conn->source_ip);
      } else {
        h.Set("x-forwarded-for", s.conn->source_ip);
      }
    }
    // x-forwarded-proto: the scheme the client used with the mesh (plaintext "http" inside
    // the HBONE tunnel), unless a previous hop set it.
    if (!h.Has("x-forwarded-proto")) h.Set("x-forwarded-proto", "http");
    return true;
  }
};

// ---- authorization ----

class AuthorizationFilter : public Filter {
 public:
  std::string_view name() const override { return "authorization"; }
  bool OnRequest(RequestState& s) override {
    authz::RequestAttributes a;
    a.source_principal = s.conn->peer_principal;
    a.source_namespace = s.conn->peer_namespace;
    a.source_ip = s.conn->source_address;
    a.destination_ip = s.conn->target_address;
    a.destination_port = s.conn->target_port;
    a.method = s.head->method;
    a.path = s.head->path;
    a.host = s.head->authority;
    a.headers = &s.head->headers;
    authz::Decision d = s.view->authorizer().Authorize(s.target->service, a);
    s.authz_policy = std::string(d.policy);
    if (d.allowed) return true;
    LocalReply r;
    r.status = 403;
    r.body = "RBAC: access denied";
    r.headers.Set("content-type", "text/plain");
    r.flag = "RBAC";
    s.reply = std::move(r);
    return false;
  }
};

// ---- routing, rewrite and header operations ----

uint32_t DestinationPort(const RequestState& s, const pb::WeightedDestination& d) {
  if (d.port() != 0) return d.port();
  if (d.hostname() == s.target->service->hostname()) return s.target->port->port();
  // Another service: its only port, else the port the request arrived on (as Istio, which
  // requires destination.port when the destination has several).
  if (const pb::Service* svc = s.view->ServiceByHost(d.hostname()); svc && svc->ports_size() == 1) {
    return svc->ports(0).port();
  }
  return s.target->port->port();
}

class RouteFilter : public Filter {
 public:
  std::string_view name() const override { return "route"; }
  bool OnRequest(RequestState& s) override {
    const pb::Service& svc = *s.target->service;
    uint32_t port = s.target->port->port();
    const route::CompiledRouteTable* table = s.view->Routes(svc.hostname(), port);
    if (!table) {
      // No VirtualService or HTTPRoute: the request goes to the service it was sent to, as
      // Istio's default route.
      s.upstream_host = svc.hostname();
      s.upstream_port = port;
      return true;
    }
    const pb::Workload* client = s.view->WorkloadByAddress(s.conn->source_ip);
    route::Labels labels;
    if (client) labels = route::Labels(client->labels().begin(), client->labels().end());
    route::RequestContext ctx;
    ctx.head = s.head;
    ctx.port = port;
    ctx.source_labels = client ? &labels : nullptr;
    ctx.source_namespace = s.conn->peer_namespace;
    s.match = table->Match(ctx);
    if (!s.match) {
      LocalReply r;
      r.status = 404;
      r.flag = "NR";
      s.reply = std::move(r);
      return false;
    }
    const pb::HttpRoute& r = s.match.route->proto();
    if (r.has_redirect()) {
      LocalReply lr;
      http::ResponseHead head =
          route::BuildRedirect(*s.match.route, *s.head, "http", s.match.match_index);
      lr.status = head.status;
      lr.headers = std::move(head.headers);
      s.reply = std::move(lr);
      return false;
    }
    if (r.has_direct_response()) {
      route::DirectResponse dr = route::MakeDirectResponse(r.direct_response());
      LocalReply lr;
      lr.status = dr.head.status;
      lr.headers = std::move(dr.head.headers);
      lr.body = std::string(dr.body);
      s.reply = std::move(lr);
      return false;
    }
    s.destination = route::PickDestination(*s.match.route, s.random);
    if (!s.destination || s.destination->hostname().empty()) {
      // Every backend has weight 0, or the one picked could not be resolved (Gateway API:
      // 500 for its share).
      LocalReply lr;
      lr.status = 500;
      lr.flag = "NR";
      s.reply = std::move(lr);
      return false;
    }
    route::ApplyRewrite(*s.match.route, s.match.match_index, *s.head, s.destination);
    route::ApplyHeaderOperations(r.request_headers(), s.head->headers);
    route::ApplyHeaderOperations(s.destination->request_headers(), s.head->headers);
    s.upstream_host = s.destination->hostname();
    s.subset = s.destination->subset();
    s.upstream_port = DestinationPort(s, *s.destination);
    return true;
  }
  void OnResponse(RequestState& s, http::ResponseHead& head) override {
    if (!s.match) return;
    // The most specific first, as Envoy: the chosen destination's, then the route's.
    if (s.destination)
      route::ApplyHeaderOperations(s.destination->response_headers(), head.headers);
    route::ApplyHeaderOperations(s.match.route->proto().response_headers(), head.headers);
  }
};

}  // namespace

bool FilterChain::OnRequest(RequestState& state) const {
  for (const auto& f : filters_) {
    if (!f->OnRequest(state)) return false;
  }
  return true;
}

void FilterChain::OnResponse(RequestState& state, http::ResponseHead& head) const {
  for (auto it = filters_.rbegin(); it != filters_.rend(); ++it) (*it)->OnResponse(state, head);
}

std::unique_ptr<Filter> MakeForwardingFilter() {
  return std::make_unique<ForwardingFilter>();
}
std::unique_ptr<Filter> MakeAuthorizationFilter() {
  return std::make_unique<AuthorizationFilter>();
}
std::unique_ptr<Filter> MakeRouteFilter() {
  return std::make_unique<RouteFilter>();
}

std::unique_ptr<FilterChain> DefaultFilterChain() {
  auto chain = std::make_unique<FilterChain>();
  chain->Add(MakeForwardingFilter());
  chain->Add(MakeAuthorizationFilter());
  chain->Add(MakeRouteFilter());
  return chain;
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  // 8-4-4-4-12 lowercase hex digits of hi then lo (by hand: snprintf was ~1 % of a request).
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t pos = 0;
  for (int i = 0; i < 32; ++i) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
    uint64_t word = i < 16 ? hi : lo;
    out[pos++] = kHex[(word >> (60 - 4 * (i % 16))) & 0xF];
  }
  return out;
}

}  // namespace weft::waypoint
