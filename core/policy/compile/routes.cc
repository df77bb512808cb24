// Routes pass: VirtualServices (gateways: mesh) and GAMMA HTTPRoutes -> one RouteTable per
// host. Hosts resolve in the resource's namespace; destinations and subsets must exist; the
// first route whose match succeeds wins, so tables keep the order written; the oldest resource
// owns a host and later ones conflict.

#include <algorithm>
#include <numeric>
#include <tuple>

#include "core/policy/compile/passes.h"

namespace weft::policy {

namespace {

struct Owner {
  const Resource* resource;
  FieldPos pos;
};

bool SubsetExists(const DestinationRules& rules, const std::string& host,
                  const std::string& subset) {
  const DestinationRuleSpec* dr = rules.For(host);
  if (!dr) return false;
  for (const auto& s : dr->subsets) {
    if (s.name == subset) return true;
  }
  return false;
}

// Resolves and checks one destination; false (with an error) when it cannot be routed to.
bool ResolveDestination(const ResourceIndex& index, const DestinationRules& rules,
                        const Resource& r, const DestinationRef& ref, std::string* hostname,
                        PassReport& report) {
  *hostname = index.ResolveHost(ref.host.host, r.meta.ns);
  if (index.options().standalone) return true;
  if (!index.HostExists(*hostname)) {
    std::string hint;
    if (std::count(ref.host.host.begin(), ref.host.host.end(), '.') == 1) {
      hint =
          " (did you mean \"" + ref.host.host + ".svc." + index.options().cluster_domain + "\"?)";
    }
    report.Error(
        r, code::kReference, ref.host.pos,
        "destination host \"" + *hostname + "\" matches no Service or ServiceEntry" + hint);
    return false;
  }
  if (!ref.subset.empty() && !SubsetExists(rules, *hostname, ref.subset)) {
    report.Error(r, code::kReference, ref.subset_pos,
                 "subset \"" + ref.subset + "\" is not defined by any DestinationRule for host \"" +
                     *hostname + "\"");
    return false;
  }
  return true;
}

// Scales weights summing to `total` (> 0) to shares of 100; largest-remainder rounding keeps
// the sum exactly 100.
void ScaleWeights(google::protobuf::RepeatedPtrField<pb::WeightedDestination>* dests,
                  uint32_t total) {
  if (total == 0 || total == 100) return;
  std::vector<std::pair<uint32_t, int>> rem;
  uint32_t assigned = 0;
  for (int i = 0; i < dests->size(); ++i) {
    uint64_t scaled = static_cast<uint64_t>((*dests)[i].weight()) * 100;
    (*dests)[i].set_weight(static_cast<uint32_t>(scaled / total));
    assigned += (*dests)[i].weight();
    rem.push_back({static_cast<uint32_t>(scaled % total), i});
  }
  std::stable_sort(rem.begin(), rem.end(), [](auto a, auto b) { return a.first > b.first; });
  for (size_t k = 0; assigned < 100 && k < rem.size(); ++k, ++assigned) {
    auto& d = (*dests)[rem[k].second];
    d.set_weight(d.weight() + 1);
  }
}

// Weights: unset everywhere = equal split; otherwise Istio expects a total of 100 and
// normalises anything else (with a warning here).
void NormaliseWeights(const Resource& r, const FieldPos& pos, bool has_weights,
                      google::protobuf::RepeatedPtrField<pb::WeightedDestination>* dests,
                      PassReport& report) {
  if (dests->empty()) return;
  if (dests->size() == 1) {
    // One destination takes all traffic whatever its weight, as in Istio.
    (*dests)[0].set_weight(100);
    return;
  }
  if (!has_weights) {
    if (dests->size() > 1) {
      report.Warning(r, code::kWeights, pos,
                     std::to_string(dests->size()) +
                         " destinations without weights; traffic is split equally");
    }
    uint32_t n = static_cast<uint32_t>(dests->size());
    for (int i = 0; i < dests->size(); ++i) {
      (*dests)[i].set_weight(100 / n + (static_cast<uint32_t>(i) < 100 % n ? 1 : 0));
    }
    return;
  }
  uint32_t total = 0;
  for (const auto& d : *dests) total += d.weight();
  if (total == 100) return;
  if (total == 0) {
    report.Error(r, code::kWeights, pos, "all destination weights are 0: no traffic can be routed");
    return;
  }
  report.Warning(r, code::kWeights, pos,
                 "destination weights sum to " + std::to_string(total) +
                     ", not 100; they are normalised to shares of 100");
  ScaleWeights(dests, total);
}

// Warnings for a route's written retries (`retries_pos` set) that cannot work as meant.
void CheckRetries(const ResourceIndex& index, const DestinationRules& rules, const Resource& r,
                  const pb::HttpRoute& route, const FieldPos& retries_pos, PassReport& report) {
  if (retries_pos.mark.line == 0 || !route.has_retries() || route.retries().attempts() == 0) {
    return;
  }
  // Under consistent hashing every attempt hashes to the same endpoint (docs/waypoint.md).
  for (const auto& d : route.destinations()) {
    auto it = rules.by_host.find(d.hostname());
    if (d.hostname().empty() || it == rules.by_host.end()) continue;
    auto lb = EffectiveLoadBalancer(it->second->as<DestinationRuleSpec>(), d.subset(), d.port());
    if (lb && lb->has_consistent_hash()) {
      report.Warning(r, code::kValue, retries_pos,
                     "retries go to the same endpoint under consistent hashing (DestinationRule " +
                         KeyOf(*it->second) + " sets consistentHash for " + d.hostname() +
                         "): a retry cannot avoid a failing endpoint until it is ejected");
      break;
    }
  }
  // retryRemoteLocalities chooses among locality tiers, which exist only with an
  // outlierDetection (Istio enables locality failover only then).
  if (route.retries().retry_remote_localities() && route.destinations_size() > 0) {
    bool any = false;
    for (const auto& d : route.destinations()) {
      auto it = rules.by_host.find(d.hostname());
      if (it != rules.by_host.end() &&
          HasOutlierDetection(it->second->as<DestinationRuleSpec>(), d.subset(), d.port())) {
        any = true;
      }
    }
    if (!any) {
      report.Warning(r, code::kValue, retries_pos,
                     "retryRemoteLocalities has no effect: no destination of this route has an "
                     "outlierDetection, without which load balancing is not locality-aware");
    }
  }
  // gRPC conditions need gRPC responses, which an `http` (HTTP/1.1) port does not carry unless
  // the destination's connectionPool has the waypoint speak HTTP/2 (or the client's protocol).
  static const std::set<std::string> grpc = {"cancelled", "deadline-exceeded", "internal",
                                             "resource-exhausted", "unavailable"};
  const auto& on = route.retries().retry_on();
  if (on.empty() || route.retries().retriable_status_codes_size() > 0 ||
      route.destinations_size() == 0) {
    return;
  }
  for (const auto& c : on) {
    if (!grpc.count(c)) return;
  }
  std::set<uint32_t> ports;
  for (const auto& d : route.destinations()) {
    auto protocols = HostPortProtocols(index, d.hostname());
    if (protocols.empty()) return;
    if (auto it = rules.by_host.find(d.hostname()); it != rules.by_host.end()) {
      auto pool =
          EffectiveConnectionPool(it->second->as<DestinationRuleSpec>(), d.subset(), d.port());
      if (pool && (pool->use_client_protocol() ||
                   pool->h2_upgrade_policy() == pb::ConnectionPool::H2_UPGRADE_UPGRADE)) {
        return;
      }
    }
    for (const auto& [port, proto] : protocols) {
      if (d.port() && d.port() != port) continue;
      if (proto != "http") return;
      ports.insert(port);
    }
  }
  if (ports.empty()) return;
  std::string list;
  for (uint32_t p : ports) list += (list.empty() ? "" : ", ") + std::to_string(p);
  FieldPos at = retries_pos;
  at.field += ".retryOn";
  report.Warning(r, code::kValue, at,
                 "retryOn names only gRPC conditions, but the destination port" +
                     std::string(ports.size() > 1 ? "s " : " ") + list +
                     (ports.size() > 1 ? " are" : " is") +
                     " http (HTTP/1.1), which carries no gRPC status: no request is retried");
}

void CompileVirtualService(const ResourceIndex& index, const DestinationRules& rules,
                           const Resource& r, std::map<std::string, pb::RouteTable>& tables,
                           std::map<std::string, Owner>& owners, PassReport& report) {
  const auto& vs = r.as<VirtualServiceSpec>();
  bool mesh = vs.gateways.empty();
  for (const auto& g : vs.gateways) {
    if (g == "mesh") {
      mesh = true;
    } else {
      report.Warning(r, code::kUnsupported, vs.gateways_pos,
                     "gateway \"" + g + "\" is not supported: weft routes mesh traffic only");
    }
  }
  if (!mesh) return;

  size_t errors_before = report.rejected.size();
  std::vector<pb::HttpRoute> http;
  for (const auto& h : vs.http) {
    if (h.delegate) continue;  // delegation is a gateway feature (decode warned)
    pb::HttpRoute route = h.route;
    *route.mutable_source() = SourceOf(r, h.pos.field);
    route.mutable_source()->set_line(h.pos.mark.line);
    route.mutable_source()->set_column(h.pos.mark.column);
    for (size_t i = 0; i < h.destinations.size(); ++i) {
      std::string host;
      if (!ResolveDestination(index, rules, r, h.destinations[i], &host, report)) continue;
      auto* d = route.mutable_destinations(static_cast<int>(i));
      d->set_hostname(host);
      d->set_cluster(ClusterName(d->port(), d->subset(), host));
    }
    for (size_t i = 0; i < h.mirrors.size(); ++i) {
      std::string host;
      if (ResolveDestination(index, rules, r, h.mirrors[i], &host, report)) {
        route.mutable_mirrors(static_cast<int>(i))->set_hostname(host);
      }
    }
    if (route.destinations_size() == 0 && !route.has_redirect() && !route.has_direct_response()) {
      report.Error(r, code::kMissingField, h.pos,
                   "route has no destination, redirect or directResponse");
    }
    NormaliseWeights(r, h.pos, h.has_weights, route.mutable_destinations(), report);
    CheckRetries(index, rules, r, route, h.retries_pos, report);
    http.push_back(std::move(route));
  }
  std::vector<pb::TcpRoute> tcp;
  for (const auto& t : vs.tcp) {
    pb::TcpRoute route = t.route;
    *route.mutable_source() = SourceOf(r, t.pos.field);
    route.mutable_source()->set_line(t.pos.mark.line);
    route.mutable_source()->set_column(t.pos.mark.column);
    bool weights = false;
    for (size_t i = 0; i < t.destinations.size(); ++i) {
      std::string host;
      auto* d = route.mutable_destinations(static_cast<int>(i));
      weights |= d->weight() > 0;
      if (!ResolveDestination(index, rules, r, t.destinations[i], &host, report)) continue;
      d->set_hostname(host);
      d->set_cluster(ClusterName(d->port(), d->subset(), host));
    }
    NormaliseWeights(r, t.pos, weights, route.mutable_destinations(), report);
    tcp.push_back(std::move(route));
  }
  if (report.rejected.size() != errors_before) return;  // broken: left out whole

  // Check every host before taking any, so a conflict on one host leaves the others free.
  std::vector<std::string> hosts;
  for (const auto& h : vs.hosts) {
    std::string host = index.ResolveHost(h.host, r.meta.ns);
    if (host.find('*') != std::string::npos) {
      report.Warning(r, code::kUnsupported, h.pos,
                     "wildcard host \"" + host + "\" is not supported for mesh routing; skipped");
      continue;
    }
    if (!index.HostExists(host)) {
      report.Warning(r, code::kReference, h.pos,
                     "host \"" + host +
                         "\" matches no Service or ServiceEntry; its routes are "
                         "unused until one exists");
    }
    if (auto it = owners.find(host); it != owners.end()) {
      report.Error(r, code::kConflict, h.pos,
                   "host \"" + host + "\" is already routed by " +
                       std::string(it->second.resource->ref.kind) + " " +
                       KeyOf(*it->second.resource) + " (older; it wins)");
      return;
    }
    if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) hosts.push_back(host);
  }
  for (const auto& host : hosts) {
    owners.emplace(host, Owner{&r, {}});
    pb::RouteTable& t = tables[host];
    t.set_hostname(host);
    *t.mutable_source() = SourceOf(r);
    for (const auto& route : http) *t.add_http_routes() = route;
    for (const auto& route : tcp) *t.add_tcp_routes() = route;
  }
}

// Gateway API precedence of a (single-match) route: Exact path, then the longest PathPrefix,
// then a method match, then most header matches, then most query matches. A match without
// `path` is the CRD default `PathPrefix /` (one character), so it competes with other "/"
// prefixes on method, headers and query. RegularExpression precedence is implementation-
// specific: below every prefix, as Istio ranks it.
std::tuple<int, size_t, int, int, int> HTTPRouteRank(const pb::HttpRoute& route) {
  const pb::HttpMatch& m = route.matches(0);
  const bool no_path = m.uri().kind_case() == pb::StringMatchRule::KIND_NOT_SET;
  int kind = m.uri().has_exact() ? 2 : (m.uri().has_path_prefix() || no_path) ? 1 : 0;
  size_t length = m.uri().has_path_prefix() ? m.uri().path_prefix().size() : no_path ? 1 : 0;
  return std::make_tuple(kind, length, m.has_method() ? 1 : 0, m.headers_size(),
                         m.query_params_size());
}

void CompileHTTPRoute(const ResourceIndex& index, const DestinationRules& rules, const Resource& r,
                      std::map<std::string, pb::RouteTable>& tables,
                      std::map<std::string, Owner>& owners, PassReport& report) {
  const auto& hr = r.as<HTTPRouteSpec>();
  size_t errors_before = report.rejected.size();
  std::vector<std::pair<std::string, uint32_t>> parents;  // hostname, port
  bool service_parent = false;
  for (const auto& p : hr.parents) {
    if (p.kind == "Service" && (p.group.empty() || p.group == "core")) {
      service_parent = true;
      std::string ns = p.ns.empty() ? r.meta.ns : p.ns;
      if (!index.options().standalone && !index.Get(Kind::kService, ns + "/" + p.name)) {
        report.Error(r, code::kReference, p.pos,
                     "parent Service " + ns + "/" + p.name + " does not exist");
        continue;
      }
      parents.push_back({index.ServiceHostname(p.name, ns), p.port});
    } else {
      // A Gateway's route (north-south, until weft has gateways) or a ServiceImport's
      // (multi-cluster): valid, and simply not served here.
      report.Note(r, code::kUnsupported, p.pos,
                  "parentRef " + (p.group.empty() ? std::string() : p.group + "/") + p.kind + " " +
                      p.name + " is not served by weft, which serves mesh (GAMMA) routes, " +
                      "whose parent is a Service");
    }
  }
  if (!service_parent) {
    if (hr.parents.empty()) {
      report.Note(r, code::kUnsupported, {{}, "spec"},
                  "no parentRefs: the route attaches to nothing, and weft does not serve it");
    }
    return;  // nothing of it reaches the snapshot: its backends are not checked either
  }
  if (!hr.hostnames.empty()) {
    report.Warning(r, code::kUnsupported, hr.hostnames_pos,
                   "hostnames are ignored for routes attached to a Service (GAMMA)");
  }
  std::vector<pb::HttpRoute> http;
  for (const auto& rule : hr.rules) {
    pb::HttpRoute route = rule.route;
    *route.mutable_source() = SourceOf(r, rule.pos.field);
    route.mutable_source()->set_line(rule.pos.mark.line);
    route.mutable_source()->set_column(rule.pos.mark.column);
    // A backend that cannot be resolved keeps its weight: as Gateway API requires, the
    // requests that would have gone to it get 500 (a destination without a hostname).
    auto resolve = [&](const HTTPRouteSpec::BackendRef& b, std::string* host,
                       std::string_view consequence) {
      if (b.kind != "Service" || !(b.group.empty() || b.group == "core")) {
        report.Warning(r, code::kUnsupported, b.pos,
                       "backendRef kind \"" + (b.group.empty() ? "" : b.group + "/") + b.kind +
                           "\" is not supported: " + std::string(consequence));
        return false;
      }
      std::string ns = b.ns.empty() ? r.meta.ns : b.ns;
      if (!index.Get(Kind::kService, ns + "/" + b.name)) {
        report.Warning(r, code::kReference, b.pos,
                       "backend Service " + ns + "/" + b.name +
                           " does not exist: " + std::string(consequence));
        return false;
      }
      *host = index.ServiceHostname(b.name, ns);
      return true;
    };
    uint32_t total = 0;
    for (const auto& b : rule.backends) {
      std::string host;
      pb::WeightedDestination* d = route.add_destinations();
      d->set_weight(b.weight);
      total += b.weight;
      if (!resolve(b, &host, "its share of the requests gets 500")) continue;
      d->set_hostname(host);
      d->set_port(b.port);
      d->set_cluster(ClusterName(b.port, "", host));
      *d->mutable_request_headers() = b.request_headers;
      *d->mutable_response_headers() = b.response_headers;
    }
    for (size_t i = 0; i < rule.mirrors.size() && i < static_cast<size_t>(route.mirrors_size());
         ++i) {
      std::string host;
      if (resolve(rule.mirrors[i], &host, "nothing is mirrored to it")) {
        route.mutable_mirrors(static_cast<int>(i))->set_hostname(host);
        route.mutable_mirrors(static_cast<int>(i))->set_port(rule.mirrors[i].port);
      }
    }
    // Unresolved mirrors (no hostname) are dropped.
    auto* mirrors = route.mutable_mirrors();
    mirrors->erase(std::remove_if(mirrors->begin(), mirrors->end(),
                                  [](const pb::Mirror& m) { return m.hostname().empty(); }),
                   mirrors->end());
    if (route.matches_size() == 0) {
      route.add_matches()->mutable_uri()->set_path_prefix("/");
    }
    // Gateway API weights are relative (any total): normalised to shares of 100 silently.
    if (total == 0 && !rule.backends.empty()) {
      report.Warning(r, code::kWeights, rule.pos,
                     "all backendRefs have weight 0: requests get 500");
    } else {
      ScaleWeights(route.mutable_destinations(), total);
    }
    CheckRetries(index, rules, r, route, rule.retry_pos, report);
    // One entry per match, so that matches can be ordered by precedence below.
    for (int m = 0; m < route.matches_size(); ++m) {
      pb::HttpRoute single = route;
      single.clear_matches();
      *single.add_matches() = route.matches(m);
      if (route.matches_size() > 1) {
        single.mutable_source()->set_field(route.source().field() + ".matches[" +
                                           std::to_string(m) + "]");
      }
      http.push_back(std::move(single));
    }
  }
  if (report.rejected.size() != errors_before) return;
  for (const auto& [host, port] : parents) {
    std::string table_key = port ? host + ":" + std::to_string(port) : host;
    auto it = owners.find(table_key);
    if (it != owners.end() && it->second.resource->kind != Kind::kHTTPRoute) {
      report.Error(r, code::kConflict, {{}, "spec.parentRefs"},
                   "host \"" + host + "\" is already routed by " +
                       std::string(it->second.resource->ref.kind) + " " +
                       KeyOf(*it->second.resource) + " (older; it wins)");
      return;
    }
  }
  // Several HTTPRoutes of one parent are merged, as Gateway API requires: their rules form one
  // table in precedence order (HTTPRouteRank); ties go to the older route (the routes come
  // here oldest first, then by namespace/name), then to rule order. The stable sort keeps both.
  for (const auto& [host, port] : parents) {
    std::string table_key = port ? host + ":" + std::to_string(port) : host;
    owners.emplace(table_key, Owner{&r, {}});  // the oldest owns it; younger ones merge in
    pb::RouteTable& t = tables[table_key];
    if (t.hostname().empty()) {
      t.set_hostname(host);
      t.set_port(port);
      *t.mutable_source() = SourceOf(r);
    }
    for (const auto& route : http) *t.add_http_routes() = route;
    std::stable_sort(t.mutable_http_routes()->begin(), t.mutable_http_routes()->end(),
                     [](const pb::HttpRoute& a, const pb::HttpRoute& b) {
                       return HTTPRouteRank(a) > HTTPRouteRank(b);
                     });
  }
}

}  // namespace

std::vector<pb::RouteTable> CompileRouteTables(const ResourceIndex& index,
                                               const DestinationRules& rules, PassReport& report) {
  // VirtualServices and HTTPRoutes compete for hosts in one age order.
  std::vector<const Resource*> all = OldestFirst(index.All(Kind::kVirtualService));
  auto routes = OldestFirst(index.All(Kind::kHTTPRoute));
  all.insert(all.end(), routes.begin(), routes.end());
  std::stable_sort(all.begin(), all.end(), [](const Resource* a, const Resource* b) {
    return a->meta.creation_timestamp < b->meta.creation_timestamp;
  });
  std::map<std::string, pb::RouteTable> tables;
  std::map<std::string, Owner> owners;
  for (const Resource* r : all) {
    if (r->kind == Kind::kVirtualService) {
      CompileVirtualService(index, rules, *r, tables, owners, report);
    } else {
      CompileHTTPRoute(index, rules, *r, tables, owners, report);
    }
  }
  std::vector<pb::RouteTable> out;
  for (auto& [k, t] : tables) out.push_back(std::move(t));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.hostname() != b.hostname() ? a.hostname() < b.hostname() : a.port() < b.port();
  });
  return out;
}

}  // namespace weft::policy
