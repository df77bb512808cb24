// Decoders for networking.istio.io (v1alpha3, v1beta1, v1): VirtualService, DestinationRule,
// ServiceEntry. Field names and meanings follow Istio's reference documentation.

#include <set>

#include "core/policy/decode/decode.h"
#include "core/policy/decode/values.h"

namespace weft::policy {

namespace {

// Istio StringMatch: exactly one of exact, prefix, regex.
std::optional<pb::StringMatchRule> DecodeStringMatch(ObjectReader& r) {
  pb::StringMatchRule out;
  int set = 0;
  if (auto v = r.String("exact")) {
    out.set_exact(*v);
    ++set;
  }
  if (auto v = r.String("prefix")) {
    out.set_prefix(*v);
    ++set;
  }
  if (auto v = r.String("regex")) {
    if (auto why = RegexError(*v)) {
      r.Error(code::kValue, "regex", "invalid regular expression \"" + *v + "\": " + *why);
    }
    out.set_regex(*v);
    ++set;
  }
  if (set > 1) r.Error(code::kValue, "", "set only one of exact, prefix, regex");
  if (set == 0) return std::nullopt;
  return out;
}

void DecodeHeaderMatches(ObjectReader& r, std::string_view key,
                         google::protobuf::RepeatedPtrField<pb::HeaderMatch>* out) {
  auto n = r.Raw(key);
  if (!n) return;
  if (!n->IsMap()) {
    r.sink().Error(code::kType, n->mark(), r.Child(key),
                   "expected a mapping, got " + n->Describe());
    return;
  }
  for (size_t i = 0; i < n->size(); ++i) {
    std::string name(n->key(i).scalar());
    ObjectReader m(r.sink(), n->value(i), r.Child(key) + "." + name);
    pb::HeaderMatch hm;
    hm.set_name(name);
    if (auto sm = DecodeStringMatch(m)) *hm.mutable_value() = *sm;
    out->Add(std::move(hm));
  }
}

DestinationRef DecodeDestination(ObjectReader& d, uint32_t* port) {
  DestinationRef ref;
  d.Require("host");
  ref.host.pos = PosOf(d, "host");
  if (auto v = d.String("host")) ref.host.host = *v;
  ref.subset_pos = PosOf(d, "subset");
  if (auto v = d.String("subset")) ref.subset = *v;
  d.Object("port", [&](ObjectReader& p) {
    if (auto v = p.Port("number")) *port = *v;
  });
  return ref;
}

void DecodeHeaderOperations(ObjectReader& r, pb::HeaderOperations* out) {
  if (auto v = r.StringMap("set")) out->mutable_set()->insert(v->begin(), v->end());
  if (auto v = r.StringMap("add")) out->mutable_add()->insert(v->begin(), v->end());
  if (auto v = r.StringList("remove")) {
    for (auto& s : *v) out->add_remove(s);
  }
}

void DecodeHeaders(ObjectReader& r, pb::HeaderOperations* request, pb::HeaderOperations* response) {
  r.Object("headers", [&](ObjectReader& h) {
    h.Object("request", [&](ObjectReader& q) { DecodeHeaderOperations(q, request); });
    h.Object("response", [&](ObjectReader& q) { DecodeHeaderOperations(q, response); });
  });
}

// Milliseconds as a duration for messages: 2000 -> "2s", 1500 -> "1500ms".
std::string MsText(uint64_t ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// A duration Istio requires to be at least 1ms (its ValidateDuration): "0s" or "500us" is a
// `value` error.
std::optional<uint64_t> DurationAtLeast1ms(ObjectReader& r, std::string_view key) {
  std::optional<yaml::Node> raw = r.node().IsMap() ? r.node().Find(key) : std::nullopt;
  auto ms = r.DurationMs(key);
  if (!ms || !raw || !raw->IsScalar()) return ms;
  auto ns = ParseDuration(raw->scalar(), nullptr);
  if (ns && *ns < 1'000'000) {
    r.Error(code::kValue, key,
            std::string(key) + " must be at least 1ms (as in Istio), got \"" +
                std::string(raw->scalar()) + "\"");
    return std::nullopt;
  }
  return ms;
}

std::optional<double> DecodePercent(ObjectReader& r, std::string_view key) {
  std::optional<double> out;
  r.Object(key, [&](ObjectReader& p) { out = p.Double("value", 0, 100); });
  return out;
}

// sourceNamespace: the calling workload's namespace. A value that cannot be a namespace name
// matches nothing: a warning, as the rest of the match still compiles.
std::optional<std::string> DecodeSourceNamespace(ObjectReader& m) {
  auto v = m.String("sourceNamespace");
  if (v && !IsDnsLabel(*v)) {
    m.Warning(code::kValue, "sourceNamespace",
              "\"" + *v + "\" is not a valid namespace name; this match never succeeds");
  }
  return v;
}

void DecodeHttpMatch(ObjectReader& m, pb::HttpMatch* out) {
  if (auto v = m.String("name")) out->set_name(*v);
  m.Object("uri", [&](ObjectReader& u) {
    if (auto sm = DecodeStringMatch(u)) *out->mutable_uri() = *sm;
  });
  m.Object("method", [&](ObjectReader& u) {
    if (auto sm = DecodeStringMatch(u)) *out->mutable_method() = *sm;
  });
  DecodeHeaderMatches(m, "headers", out->mutable_headers());
  DecodeHeaderMatches(m, "queryParams", out->mutable_query_params());
  DecodeHeaderMatches(m, "withoutHeaders", out->mutable_without_headers());
  if (auto v = m.Port("port")) out->set_port(*v);
  if (auto v = m.StringMap("sourceLabels"))
    out->mutable_source_labels()->insert(v->begin(), v->end());
  if (auto v = m.Bool("ignoreUriCase")) out->set_ignore_uri_case(*v);
  if (auto g = m.StringList("gateways")) {
    for (const auto& gw : *g) {
      if (gw != "mesh") {
        m.Warning(code::kUnsupported, "gateways",
                  "match on gateway \"" + gw + "\": only the mesh gateway is supported");
      }
    }
  }
  m.Object("authority", [&](ObjectReader& u) {
    if (auto sm = DecodeStringMatch(u)) *out->mutable_authority() = *sm;
  });
  m.Object("scheme", [&](ObjectReader& u) {
    if (auto sm = DecodeStringMatch(u)) *out->mutable_scheme() = *sm;
  });
  if (auto v = DecodeSourceNamespace(m)) out->set_source_namespace(*v);
  m.Ignore("statPrefix");
}

void DecodeHttpRoute(ObjectReader& h, size_t index, VirtualServiceSpec::Http& out) {
  pb::HttpRoute& route = out.route;
  out.pos = {h.node().mark(), h.path()};
  route.mutable_source()->set_field(h.path());
  route.mutable_source()->set_line(h.node().mark().line);
  route.mutable_source()->set_column(h.node().mark().column);
  if (auto v = h.String("name")) route.set_name(*v);
  (void)index;
  h.ObjectList("match", [&](ObjectReader& m, size_t) { DecodeHttpMatch(m, route.add_matches()); });
  h.ObjectList("route", [&](ObjectReader& r, size_t) {
    pb::WeightedDestination* d = route.add_destinations();
    DestinationRef ref;
    r.Require("destination");
    r.Object("destination", [&](ObjectReader& dst) {
      uint32_t port = 0;
      ref = DecodeDestination(dst, &port);
      d->set_port(port);
    });
    d->set_hostname(ref.host.host);
    d->set_subset(ref.subset);
    if (r.Has("weight")) out.has_weights = true;
    if (auto w = r.Int("weight", 0, 100)) d->set_weight(static_cast<uint32_t>(*w));
    DecodeHeaders(r, d->mutable_request_headers(), d->mutable_response_headers());
    out.destinations.push_back(std::move(ref));
  });
  h.Object("redirect", [&](ObjectReader& r) {
    auto* rd = route.mutable_redirect();
    if (auto v = r.String("uri")) rd->set_uri(*v);
    if (auto v = r.String("authority")) rd->set_authority(*v);
    if (auto v = r.Port("port")) rd->set_port(*v);
    if (auto v = r.String("scheme")) rd->set_scheme(*v);
    rd->set_response_code(301);  // Istio's default (Gateway API's is 302)
    if (auto v = r.Int("redirectCode", 300, 399)) rd->set_response_code(static_cast<uint32_t>(*v));
    r.Unsupported("derivePort");
  });
  h.Object("directResponse", [&](ObjectReader& r) {
    auto* dr = route.mutable_direct_response();
    r.Require("status");
    if (auto v = r.Int("status", 200, 599)) dr->set_status(static_cast<uint32_t>(*v));
    r.Object("body", [&](ObjectReader& b) {
      if (auto v = b.String("string")) dr->set_body(*v);
      b.Unsupported("bytes");
    });
  });
  h.Object("rewrite", [&](ObjectReader& r) {
    auto* rw = route.mutable_rewrite();
    if (auto v = r.String("uri")) rw->set_uri(*v);
    if (auto v = r.String("authority")) rw->set_authority(*v);
    r.Object("uriRegexRewrite", [&](ObjectReader& x) {
      if (auto v = x.String("match")) rw->set_uri_regex(*v);
      if (auto v = x.String("rewrite")) rw->set_uri_regex_substitution(*v);
    });
  });
  if (auto v = h.DurationMs("timeout")) route.set_timeout_ms(*v);
  if (h.Has("retries")) out.retries_pos = PosOf(h, "retries");
  h.Object("retries", [&](ObjectReader& r) {
    auto* rp = route.mutable_retries();
    if (auto v = r.Int("attempts", 0, 1000)) rp->set_attempts(static_cast<uint32_t>(*v));
    if (auto v = r.DurationMs("perTryTimeout")) rp->set_per_try_timeout_ms(*v);
    if (auto v = r.String("retryOn")) {
      static const std::vector<std::string_view> known = {"5xx",
                                                          "gateway-error",
                                                          "reset",
                                                          "reset-before-request",
                                                          "connect-failure",
                                                          "envoy-ratelimited",
                                                          "retriable-4xx",
                                                          "refused-stream",
                                                          "retriable-status-codes",
                                                          "retriable-headers",
                                                          "http3-post-connect-failure",
                                                          "cancelled",
                                                          "deadline-exceeded",
                                                          "internal",
                                                          "resource-exhausted",
                                                          "unavailable"};
      size_t start = 0;
      while (start <= v->size()) {
        size_t comma = v->find(',', start);
        std::string item =
            v->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        bool ok = !item.empty() && (std::find(known.begin(), known.end(), item) != known.end() ||
                                    ParseInt(item).has_value());
        if (!ok) {
          r.Error(code::kValue, "retryOn", "unknown retry condition \"" + item + "\"");
        } else {
          rp->add_retry_on(item);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    if (auto v = r.Bool("retryRemoteLocalities")) rp->set_retry_remote_localities(*v);
    r.Unsupported("retryIgnorePreviousHosts");
    // Istio's backoff: Envoy's base interval (the cap is 10 times it).
    if (auto v = DurationAtLeast1ms(r, "backoff")) rp->set_backoff_base_ms(*v);
    // The route timeout covers every attempt: a per-try timeout as long never fires first.
    if (rp->attempts() > 0 && rp->per_try_timeout_ms() > 0 && route.timeout_ms() > 0 &&
        rp->per_try_timeout_ms() >= route.timeout_ms()) {
      r.Warning(code::kValue, "perTryTimeout",
                "perTryTimeout " + MsText(rp->per_try_timeout_ms()) +
                    " is not shorter than the route timeout " + MsText(route.timeout_ms()) +
                    ": the route timeout ends the request first, so an attempt that times out "
                    "is never retried");
    }
  });
  h.Object("fault", [&](ObjectReader& f) {
    auto* fi = route.mutable_fault();
    f.Object("delay", [&](ObjectReader& d) {
      if (auto v = d.DurationMs("fixedDelay")) fi->set_delay_ms(*v);
      d.Unsupported("exponentialDelay");
      if (auto p = DecodePercent(d, "percentage")) {
        fi->set_delay_percent(*p);
      } else if (auto v = d.Int("percent", 0, 100)) {
        fi->set_delay_percent(static_cast<double>(*v));
      } else {
        // Istio leaves Envoy's percentage unset, which is 0%: no request is delayed.
        fi->set_delay_percent(0);
        d.Warning(code::kValue, "", "percentage is not set: as in Istio, no request is delayed");
      }
    });
    f.Object("abort", [&](ObjectReader& a) {
      // Istio's abort has one error type (a oneof): httpStatus, grpcStatus or http2Error.
      if (a.Has("httpStatus") && a.Has("grpcStatus")) {
        a.Error(code::kValue, "grpcStatus",
                "set only one of httpStatus and grpcStatus: an abort has one error type");
      }
      if (!a.Has("httpStatus") && !a.Has("grpcStatus") && !a.Has("http2Error")) {
        a.Warning(code::kValue, "",
                  "abort has no httpStatus or grpcStatus (as in Istio, the error type is not "
                  "set)");
      }
      if (auto v = a.Int("httpStatus", 200, 599))
        fi->set_abort_http_status(static_cast<uint32_t>(*v));
      if (auto v = a.String("grpcStatus")) {
        if (auto c = GrpcStatusCode(*v)) {
          fi->set_abort_grpc_status(*c);
        } else {
          std::string names;
          for (auto n : GrpcStatusNames()) names += (names.empty() ? "" : ", ") + std::string(n);
          a.Error(code::kValue, "grpcStatus",
                  "unknown gRPC status \"" + *v + "\"; expected one of: " + names);
        }
      }
      a.Unsupported("http2Error");
      if (auto p = DecodePercent(a, "percentage")) {
        fi->set_abort_percent(*p);
      } else if (auto v = a.Int("percent", 0, 100)) {  // deprecated, as for delay
        fi->set_abort_percent(static_cast<double>(*v));
      } else {
        fi->set_abort_percent(0);
        a.Warning(code::kValue, "", "percentage is not set: as in Istio, no request is aborted");
      }
    });
  });
  auto add_mirror = [&](ObjectReader& m, double percent) {
    uint32_t port = 0;
    DestinationRef ref = DecodeDestination(m, &port);
    pb::Mirror* mirror = route.add_mirrors();
    mirror->set_hostname(ref.host.host);
    mirror->set_subset(ref.subset);
    mirror->set_port(port);
    mirror->set_percent(percent);
    out.mirrors.push_back(std::move(ref));
  };
  double mirror_percent = 100;
  if (auto p = DecodePercent(h, "mirrorPercentage")) {
    mirror_percent = *p;
  } else if (auto v = h.Int("mirrorPercent", 0, 100)) {
    mirror_percent = static_cast<double>(*v);
  }
  h.Object("mirror", [&](ObjectReader& m) { add_mirror(m, mirror_percent); });
  h.ObjectList("mirrors", [&](ObjectReader& m, size_t) {
    double pct = 100;
    if (auto p = DecodePercent(m, "percentage")) pct = *p;
    m.Object("destination", [&](ObjectReader& d) { add_mirror(d, pct); });
  });
  DecodeHeaders(h, route.mutable_request_headers(), route.mutable_response_headers());
  h.Unsupported("corsPolicy");
  h.Unsupported("delegate", "delegate VirtualServices are a gateway feature");
}

void DecodeTcpRoute(ObjectReader& t, VirtualServiceSpec::Tcp& out) {
  out.pos = {t.node().mark(), t.path()};
  out.route.mutable_source()->set_field(t.path());
  out.route.mutable_source()->set_line(t.node().mark().line);
  t.ObjectList("match", [&](ObjectReader& m, size_t) {
    pb::TcpMatch* tm = out.route.add_matches();
    m.List("destinationSubnets", [&](yaml::Node n, const std::string& path, size_t) {
      auto s = ScalarString(m.sink(), n, path);
      if (!s) return;
      if (auto c = NormalizeCidr(*s)) {
        tm->add_destination_subnets(*c);
      } else {
        m.sink().Error(code::kValue, n.mark(), path, "invalid CIDR " + n.Describe());
      }
    });
    if (auto v = m.Port("port")) tm->set_port(*v);
    if (auto v = m.StringMap("sourceLabels"))
      tm->mutable_source_labels()->insert(v->begin(), v->end());
    for (const auto& gw : m.StringList("gateways").value_or(std::vector<std::string>{})) {
      if (gw != "mesh") {
        m.Warning(code::kUnsupported, "gateways",
                  "match on gateway \"" + gw + "\": only the mesh gateway is supported");
      }
    }
    if (auto v = DecodeSourceNamespace(m)) tm->set_source_namespace(*v);
  });
  t.ObjectList("route", [&](ObjectReader& r, size_t) {
    pb::WeightedDestination* d = out.route.add_destinations();
    DestinationRef ref;
    r.Object("destination", [&](ObjectReader& dst) {
      uint32_t port = 0;
      ref = DecodeDestination(dst, &port);
      d->set_port(port);
    });
    d->set_hostname(ref.host.host);
    d->set_subset(ref.subset);
    if (auto w = r.Int("weight", 0, 100)) d->set_weight(static_cast<uint32_t>(*w));
    out.destinations.push_back(std::move(ref));
  });
}

pb::LoadBalancer DecodeLoadBalancer(ObjectReader& lb) {
  pb::LoadBalancer out;
  if (auto v = lb.Enum("simple", {"UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH",
                                  "ROUND_ROBIN", "LEAST_REQUEST"})) {
    if (*v == "LEAST_CONN" || *v == "LEAST_REQUEST")
      out.set_policy(pb::LoadBalancer::LEAST_REQUEST);
    if (*v == "RANDOM") out.set_policy(pb::LoadBalancer::RANDOM);
    if (*v == "PASSTHROUGH") out.set_policy(pb::LoadBalancer::PASSTHROUGH);
    if (*v == "ROUND_ROBIN") out.set_policy(pb::LoadBalancer::ROUND_ROBIN);
  }
  lb.Object("consistentHash", [&](ObjectReader& ch) {
    if (lb.Has("simple")) {
      lb.Error(code::kValue, "simple", "set either simple or consistentHash, not both");
    }
    auto* c = out.mutable_consistent_hash();
    out.set_policy(pb::LoadBalancer::RING_HASH);
    int keys = 0;
    if (auto v = ch.String("httpHeaderName")) {
      c->set_http_header_name(*v);
      ++keys;
    }
    ch.Object("httpCookie", [&](ObjectReader& k) {
      auto* cookie = c->mutable_http_cookie();
      k.Require("name");
      if (auto v = k.String("name")) cookie->set_name(*v);
      if (auto v = k.String("path")) cookie->set_path(*v);
      if (auto v = k.DurationMs("ttl")) {
        cookie->set_ttl_ms(*v);
      } else if (!k.Has("ttl")) {
        k.Warning(code::kValue, "",
                  "httpCookie has no ttl: as in Istio, no cookie is generated, so only clients "
                  "that already send cookie \"" +
                      cookie->name() +
                      "\" stick to an endpoint (set ttl, 0s for a session cookie)");
      }
      ++keys;
    });
    if (auto v = ch.Bool("useSourceIp")) {
      c->set_use_source_ip(*v);
      ++keys;
    }
    if (auto v = ch.String("httpQueryParameterName")) {
      c->set_http_query_parameter_name(*v);
      ++keys;
    }
    if (keys != 1) {
      ch.Error(code::kValue, "",
               "set exactly one hash key: httpHeaderName, httpCookie, useSourceIp or "
               "httpQueryParameterName");
    }
    ch.Object("ringHash", [&](ObjectReader& r) {
      if (auto v = r.Int("minimumRingSize", 1, 8'388'608)) c->set_minimum_ring_size(*v);
    });
    ch.Object("maglev", [&](ObjectReader& m) {
      out.set_policy(pb::LoadBalancer::MAGLEV);
      if (auto v = m.Int("tableSize", 1, 5'000'011)) c->set_table_size(*v);
    });
    if (auto v = ch.Int("minimumRingSize", 1, 8'388'608)) c->set_minimum_ring_size(*v);
  });
  lb.Object("localityLbSetting", [&](ObjectReader& l) {
    auto* loc = out.mutable_locality();
    loc->set_enabled(l.Bool("enabled").value_or(true));
    l.ObjectList("distribute", [&](ObjectReader& d, size_t) {
      auto* dist = loc->add_distribute();
      if (auto v = d.String("from")) dist->set_from(*v);
      d.Object("to", [&](ObjectReader& to) {
        for (size_t i = 0; i < to.node().size(); ++i) {
          std::string k(to.node().key(i).scalar());
          if (auto w = to.Int(k, 0, 100)) (*dist->mutable_to())[k] = static_cast<uint32_t>(*w);
        }
      });
    });
    l.ObjectList("failover", [&](ObjectReader& f, size_t) {
      auto* fo = loc->add_failover();
      if (auto v = f.String("from")) fo->set_from(*v);
      if (auto v = f.String("to")) fo->set_to(*v);
    });
    if (auto v = l.StringList("failoverPriority")) {
      for (auto& s : *v) loc->add_failover_priority(s);
    }
  });
  if (lb.Has("zoneAwareLbSetting") && lb.Has("localityLbSetting")) {
    lb.Error(code::kValue, "zoneAwareLbSetting",
             "only one of localityLbSetting and zoneAwareLbSetting can be set");
  }
  lb.Object("zoneAwareLbSetting", [&](ObjectReader& z) {
    z.Bool("enabled");
    z.ObjectList("failover", [&](ObjectReader& f, size_t) {
      f.String("from");
      f.String("to");
    });
    z.StringList("failoverPriority");
    z.Int("minClusterSize", 0, UINT32_MAX);
    lb.Warning(code::kUnsupported, "zoneAwareLbSetting",
               "zoneAwareLbSetting is not enforced yet: endpoints are balanced as without it");
  });
  // Slow start (Envoy's slow_start_config): decoded and checked as Istio does; the waypoint's
  // balancer has none yet, so new endpoints get their full share at once.
  constexpr char kNoWarmup[] =
      "not enforced yet: the waypoint has no slow start, new endpoints get their full share at "
      "once";
  if (lb.Has("warmupDurationSecs") && lb.Has("warmup")) {
    lb.Error(code::kValue, "warmup", "only one of warmupDurationSecs or warmup can be set");
  }
  if (lb.Has("warmupDurationSecs")) {
    lb.Warning(code::kUnsupported, "warmupDurationSecs",
               std::string("warmupDurationSecs (deprecated: use warmup) is ") + kNoWarmup);
  }
  if (auto v = lb.DurationMs("warmupDurationSecs")) out.set_warmup_duration_ms(*v);
  lb.Object("warmup", [&](ObjectReader& w) {
    w.Require("duration");
    if (auto v = w.DurationMs("duration")) out.set_warmup_duration_ms(*v);
    w.Double("minimumPercent", 0, 100);
    if (auto a = w.Double("aggression", 0, 1e9); a && *a <= 0) {
      w.Error(code::kValue, "aggression", "aggression should be greater than 0");
    }
    lb.Warning(code::kUnsupported, "warmup", std::string("warmup is ") + kNoWarmup);
  });
  return out;
}

pb::ConnectionPool DecodeConnectionPool(ObjectReader& cp) {
  pb::ConnectionPool out;
  cp.Object("tcp", [&](ObjectReader& t) {
    if (auto v = t.Int("maxConnections", 1, INT32_MAX)) out.set_max_connections(*v);
    if (auto v = t.DurationMs("connectTimeout")) out.set_connect_timeout_ms(*v);
    if (auto v = t.DurationMs("idleTimeout")) out.set_idle_timeout_ms(*v);
    t.Object("tcpKeepalive", [&](ObjectReader& k) {
      out.set_tcp_keepalive(true);
      k.Unsupported("probes", "the kernel's keepalive settings apply");
      k.Unsupported("time", "the kernel's keepalive settings apply");
      k.Unsupported("interval", "the kernel's keepalive settings apply");
    });
    t.Unsupported("maxConnectionDuration");
  });
  cp.Object("http", [&](ObjectReader& h) {
    if (auto v = h.Int("http1MaxPendingRequests", 1, INT32_MAX))
      out.set_http1_max_pending_requests(*v);
    if (auto v = h.Int("http2MaxRequests", 1, INT32_MAX)) out.set_http2_max_requests(*v);
    if (auto v = h.Int("maxRequestsPerConnection", 0, INT32_MAX))
      out.set_max_requests_per_connection(*v);
    if (auto v = h.Int("maxRetries", 0, INT32_MAX)) out.set_max_retries(*v);
    if (auto v = h.Int("maxConcurrentStreams", 1, INT32_MAX)) out.set_max_concurrent_streams(*v);
    if (auto v = h.DurationMs("idleTimeout")) out.set_idle_timeout_ms(*v);
    if (auto v = h.Enum("h2UpgradePolicy", {"DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"})) {
      out.set_h2_upgrade_policy(*v == "UPGRADE" ? pb::ConnectionPool::H2_UPGRADE_UPGRADE
                                : *v == "DO_NOT_UPGRADE"
                                    ? pb::ConnectionPool::H2_UPGRADE_DO_NOT_UPGRADE
                                    : pb::ConnectionPool::H2_UPGRADE_DEFAULT);
    }
    if (auto v = h.Bool("useClientProtocol")) out.set_use_client_protocol(*v);
    if (out.use_client_protocol() &&
        out.h2_upgrade_policy() == pb::ConnectionPool::H2_UPGRADE_UPGRADE) {
      h.Error(code::kValue, "useClientProtocol",
              "useClientProtocol must not be true when h2UpgradePolicy is UPGRADE");
    }
    h.Object("http2KeepAlive", [&](ObjectReader& k) {
      k.Require("interval");
      k.Require("timeout");
      k.DurationMs("interval");
      k.DurationMs("timeout");
      h.Warning(code::kUnsupported, "http2KeepAlive",
                "http2KeepAlive is not enforced yet: the waypoint sends no HTTP/2 PING on its "
                "upstream connections (idle ones close after idleTimeout)");
    });
  });
  return out;
}

pb::OutlierDetection DecodeOutlierDetection(ObjectReader& od) {
  pb::OutlierDetection out;
  // Only what the YAML sets is set: unset consecutive5xxErrors and maxEjectionPercent take
  // Istio's defaults (5, 10) at the waypoint.
  if (auto v = od.Int("consecutive5xxErrors", 0, INT32_MAX)) out.set_consecutive_5xx_errors(*v);
  if (auto v = od.Int("consecutiveErrors", 0, INT32_MAX)) {
    od.Warning(code::kValue, "consecutiveErrors",
               "consecutiveErrors is deprecated; use consecutive5xxErrors");
    if (!od.Has("consecutive5xxErrors")) out.set_consecutive_5xx_errors(*v);
  }
  if (auto v = od.Int("consecutiveGatewayErrors", 0, INT32_MAX))
    out.set_consecutive_gateway_errors(*v);
  if (auto v = DurationAtLeast1ms(od, "interval")) out.set_interval_ms(*v);
  if (auto v = DurationAtLeast1ms(od, "baseEjectionTime")) out.set_base_ejection_time_ms(*v);
  if (auto v = od.Int("maxEjectionPercent", 0, 100)) out.set_max_ejection_percent(*v);
  if (auto v = od.Int("minHealthPercent", 0, 100)) out.set_min_health_percent(*v);
  if (auto v = od.Bool("splitExternalLocalOriginErrors"))
    out.set_split_external_local_origin_errors(*v);
  if (auto v = od.Int("consecutiveLocalOriginFailures", 0, INT32_MAX))
    out.set_consecutive_local_origin_failures(*v);
  if (out.consecutive_local_origin_failures() > 0 && !out.split_external_local_origin_errors()) {
    od.Error(code::kValue, "consecutiveLocalOriginFailures",
             "consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors: true (as in "
             "Istio); without it local-origin failures count as 5xx errors");
  }
  return out;
}

pb::ClientTls DecodeClientTls(ObjectReader& t) {
  pb::ClientTls out;
  if (auto v = t.Enum("mode", {"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"})) {
    pb::ClientTls::Mode m = pb::ClientTls::DISABLE;
    pb::ClientTls::Mode_Parse(*v, &m);
    out.set_mode(m);
  }
  if (auto v = t.String("clientCertificate")) out.set_client_certificate(*v);
  if (auto v = t.String("privateKey")) out.set_private_key(*v);
  if (auto v = t.String("caCertificates")) out.set_ca_certificates(*v);
  if (auto v = t.String("credentialName")) out.set_credential_name(*v);
  if (auto v = t.String("sni")) out.set_sni(*v);
  if (auto v = t.StringList("subjectAltNames")) {
    for (auto& s : *v) out.add_subject_alt_names(s);
  }
  if (auto v = t.Bool("insecureSkipVerify")) out.set_insecure_skip_verify(*v);
  t.Unsupported("caCrl");
  return out;
}

// Istio's TrafficPolicy.retryBudget (Envoy's circuit-breaker retry budget): unset fields take
// Envoy's defaults, 20 % and 3.
pb::EnvoyRetryBudget DecodeRetryBudget(ObjectReader& rb) {
  pb::EnvoyRetryBudget out;
  out.set_enabled(true);
  out.set_percent(rb.Double("percent", 0, 100).value_or(20));
  out.set_min_retry_concurrency(rb.Uint32("minRetryConcurrency").value_or(3));
  if (auto v = rb.DurationMs("budgetInterval"); v && *v > 0) {
    rb.Warning(code::kUnsupported, "budgetInterval",
               "budgetInterval is not supported: the budget counts the requests active now "
               "(Envoy's default, budgetInterval 0s)");
  }
  return out;
}

template <class P>
void DecodePolicyParts(ObjectReader& tp, P& out) {
  tp.Object("loadBalancer", [&](ObjectReader& r) { out.load_balancer = DecodeLoadBalancer(r); });
  tp.Object("connectionPool",
            [&](ObjectReader& r) { out.connection_pool = DecodeConnectionPool(r); });
  tp.Object("outlierDetection",
            [&](ObjectReader& r) { out.outlier_detection = DecodeOutlierDetection(r); });
  tp.Object("tls", [&](ObjectReader& r) { out.tls = DecodeClientTls(r); });
}

TrafficPolicy DecodeTrafficPolicy(ObjectReader& tp) {
  TrafficPolicy out;
  DecodePolicyParts(tp, out);
  tp.ObjectList("portLevelSettings", [&](ObjectReader& p, size_t) {
    TrafficPolicy::PortPolicy pp;
    p.Require("port");
    p.Object("port", [&](ObjectReader& port) {
      if (auto v = port.Port("number")) pp.port = *v;
    });
    DecodePolicyParts(p, pp);
    if (p.Has("retryBudget")) {
      p.Error(code::kUnknownField, "retryBudget",
              "retryBudget is not a field of portLevelSettings: Istio sets it for the host or a "
              "subset");
    }
    p.Ignore("retryBudget");
    out.port_level.push_back(std::move(pp));
  });
  tp.Object("retryBudget", [&](ObjectReader& r) { out.retry_budget = DecodeRetryBudget(r); });
  tp.Unsupported("tunnel");
  tp.Unsupported("proxyProtocol");
  return out;
}

std::vector<std::string> DecodeExportTo(ObjectReader& spec) {
  std::vector<std::string> out = spec.StringList("exportTo").value_or(std::vector<std::string>{});
  for (const auto& e : out) {
    if (e != "*" && e != ".") {
      spec.Warning(code::kUnsupported, "exportTo",
                   "exportTo \"" + e + "\": weft exports to all namespaces (\"*\") or own (\".\")");
    }
  }
  return out;
}

std::vector<HostRef> DecodeHosts(ObjectReader& spec) {
  std::vector<HostRef> hosts;
  spec.List("hosts", [&](yaml::Node n, const std::string& path, size_t) {
    if (auto s = ScalarString(spec.sink(), n, path)) hosts.push_back({*s, {n.mark(), path}});
  });
  return hosts;
}

}  // namespace

void DecodeVirtualService(ObjectReader& root, VirtualServiceSpec& out) {
  if (!root.Require("spec")) return;
  root.Object("spec", [&](ObjectReader& spec) {
    spec.Require("hosts");
    out.hosts = DecodeHosts(spec);
    out.gateways_pos = PosOf(spec, "gateways");
    if (auto g = spec.StringList("gateways")) out.gateways = *g;
    spec.ObjectList("http", [&](ObjectReader& h, size_t i) {
      VirtualServiceSpec::Http http;
      DecodeHttpRoute(h, i, http);
      out.http.push_back(std::move(http));
    });
    spec.ObjectList("tcp", [&](ObjectReader& t, size_t) {
      VirtualServiceSpec::Tcp tcp;
      DecodeTcpRoute(t, tcp);
      out.tcp.push_back(std::move(tcp));
    });
    spec.Unsupported("tls", "TLS (SNI) routes are not implemented; TCP routes are");
    out.export_to = DecodeExportTo(spec);
  });
}

void DecodeDestinationRule(ObjectReader& root, DestinationRuleSpec& out) {
  if (!root.Require("spec")) return;
  root.Object("spec", [&](ObjectReader& spec) {
    spec.Require("host");
    out.host.pos = PosOf(spec, "host");
    if (auto v = spec.String("host")) out.host.host = *v;
    spec.Object("trafficPolicy", [&](ObjectReader& tp) { out.policy = DecodeTrafficPolicy(tp); });
    spec.ObjectList("subsets", [&](ObjectReader& s, size_t) {
      DestinationRuleSpec::Subset subset;
      subset.pos = {s.node().mark(), s.path()};
      s.Require("name");
      if (auto v = s.String("name")) subset.name = *v;
      if (auto v = s.StringMap("labels")) subset.labels = *v;
      s.Object("trafficPolicy", [&](ObjectReader& tp) { subset.policy = DecodeTrafficPolicy(tp); });
      for (const auto& other : out.subsets) {
        if (other.name == subset.name && !subset.name.empty()) {
          s.Error(code::kConflict, "name", "duplicate subset name \"" + subset.name + "\"");
        }
      }
      out.subsets.push_back(std::move(subset));
    });
    out.export_to = DecodeExportTo(spec);
    spec.Unsupported("workloadSelector", "the rule applies to every client");
  });
}

// The rules of Istio's ValidateServiceEntry that its schema does not already check.
// `resolution_ok`: false when the resolution was invalid (its checks would only add noise).
void ValidateServiceEntry(ObjectReader& spec, const ServiceEntrySpec& se, bool resolution_ok) {
  if (spec.Has("workloadSelector") && spec.Has("endpoints")) {
    spec.Error(code::kValue, "workloadSelector",
               "only one of workloadSelector or endpoints is allowed");
  }
  for (const auto& h : se.hosts) {
    if (h.host == "*") {
      spec.sink().Error(code::kValue, h.pos.mark, h.pos.field,
                        "invalid host \"*\": a ServiceEntry cannot match every host");
    }
  }
  std::set<std::string> names;
  std::set<uint32_t> numbers;
  for (const auto& p : se.ports) {
    if (!p.name.empty() && !names.insert(p.name).second) {
      spec.Error(code::kConflict, "ports", "port name \"" + p.name + "\" already defined");
    }
    if (p.number && !numbers.insert(p.number).second) {
      spec.Error(code::kConflict, "ports", "port " + std::to_string(p.number) + " already defined");
    }
  }
  bool cidr = false;
  for (const auto& a : se.addresses) cidr |= a.find('/') != std::string::npos;
  const std::string res = resolution_ok ? se.resolution : "";
  if (cidr && res != "NONE" && res != "STATIC") {
    spec.Error(code::kValue, "addresses",
               "CIDR addresses are allowed only for NONE and STATIC resolution");
  }
  if (res == "NONE" && !se.endpoints.empty()) {
    spec.Error(code::kValue, "endpoints", "no endpoints should be given for resolution NONE");
  }
  if (res == "NONE" && spec.Has("workloadSelector")) {
    spec.Warning(code::kValue, "workloadSelector",
                 "workloadSelector should not be set when resolution is NONE");
  }
  if (res == "DNS_ROUND_ROBIN" && se.endpoints.size() > 1) {
    spec.Error(code::kValue, "endpoints",
               "there must only be 0 or 1 endpoint for resolution DNS_ROUND_ROBIN");
  }
  for (const auto& ep : se.endpoints) {
    for (const auto& [name, number] : ep.ports) {
      if (!names.count(name)) {
        spec.sink().Error(code::kReference, ep.pos.mark, ep.pos.field + ".ports",
                          "endpoint port " + name + " is not defined by the ServiceEntry");
      }
    }
  }
}

void DecodeServiceEntry(ObjectReader& root, ServiceEntrySpec& out) {
  if (!root.Require("spec")) return;
  root.Object("spec", [&](ObjectReader& spec) {
    spec.Require("hosts");
    out.hosts = DecodeHosts(spec);
    spec.List("addresses", [&](yaml::Node n, const std::string& path, size_t) {
      auto s = ScalarString(spec.sink(), n, path);
      if (!s) return;
      if (auto c = NormalizeCidr(*s)) {
        out.addresses.push_back(*s);
      } else {
        spec.sink().Error(code::kValue, n.mark(), path, "invalid address or CIDR " + n.Describe());
      }
    });
    spec.ObjectList("ports", [&](ObjectReader& p, size_t) {
      ServiceEntrySpec::Port port;
      p.Require("number");
      if (auto v = p.Port("number")) port.number = *v;
      if (auto v = p.String("protocol")) port.protocol = *v;
      if (auto v = p.String("name")) port.name = *v;
      if (auto v = p.Port("targetPort")) port.target_port = *v;
      out.ports.push_back(std::move(port));
    });
    if (auto v = spec.Enum("location", {"MESH_EXTERNAL", "MESH_INTERNAL"})) out.location = *v;
    bool resolution_ok = !spec.Has("resolution");
    if (auto v = spec.Enum("resolution", {"NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"})) {
      out.resolution = *v;
      resolution_ok = true;
    }
    spec.ObjectList("endpoints", [&](ObjectReader& e, size_t) {
      ServiceEntrySpec::Endpoint ep;
      ep.pos = {e.node().mark(), e.path()};
      if (auto v = e.String("address")) ep.address = *v;
      if (auto n = e.Raw("ports"); n && !n->IsMap()) {
        e.sink().Error(code::kType, n->mark(), e.Child("ports"),
                       "expected a mapping of port name to number, got " + n->Describe());
      } else if (n) {
        ObjectReader ports(e.sink(), *n, e.Child("ports"));
        for (size_t i = 0; i < n->size(); ++i) {
          std::string k(n->key(i).scalar());
          if (auto v = ports.Port(k)) ep.ports[k] = *v;
        }
      }
      if (auto v = e.StringMap("labels")) ep.labels = *v;
      if (auto v = e.String("locality")) ep.locality = *v;
      if (auto v = e.Int("weight", 0, UINT32_MAX)) ep.weight = static_cast<uint32_t>(*v);
      if (auto v = e.String("serviceAccount")) ep.service_account = *v;
      e.Unsupported("network");
      out.endpoints.push_back(std::move(ep));
    });
    spec.Object("workloadSelector", [&](ObjectReader& sel) {
      out.workload_selector = sel.StringMap("labels").value_or(Labels{});
    });
    out.export_to = DecodeExportTo(spec);
    spec.Unsupported("subjectAltNames");
    ValidateServiceEntry(spec, out, resolution_ok);
  });
}

}  // namespace weft::policy
