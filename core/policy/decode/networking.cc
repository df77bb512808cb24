// Decoders for networking.istio.io (v1alpha3, v1beta1, v1): VirtualService, DestinationRule,
// ServiceEntry. Field names and meanings follow Istio's reference documentation.

#include <cctype>
#include <set>

#include "core/policy/decode/decode.h"
#include "core/policy/decode/istio_checks.h"
#include "core/policy/decode/values.h"

namespace weft::policy {

namespace {

bool IsBase64(std::string_view s) {
  size_t pad = 0;
  for (char c : s) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad || !(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
  }
  return pad <= 2 && s.size() % 4 == 0;
}

// A field weft ignores still has its schema's type, which the API server checks: 's' a
// string, 'b' a boolean, 'd' a duration, 'L' a list of strings, 'l' a list, 'm' a mapping.
void CheckIgnoredType(ObjectReader& r, std::string_view key, char type) {
  if (!r.node().IsMap()) return;
  auto n = r.node().Find(key);
  if (!n || n->IsNull()) return;
  const std::string path = r.Child(key);
  auto fail = [&](const char* want) {
    r.sink().Error(code::kType, n->mark(), path,
                   std::string("expected ") + want + ", got " + n->Describe());
  };
  switch (type) {
    case 's':
      ScalarString(r.sink(), *n, path);
      break;
    case 'b':
      if (!n->IsScalar() || !ParseBool(n->scalar()) || !n->NonStringType().size()) {
        fail("a boolean");
      }
      break;
    case 'd':
      if (!n->IsScalar() || !ParseDuration(n->scalar(), nullptr)) fail("a duration");
      break;
    case 'L':
      if (!n->IsSeq()) {
        fail("a list of strings");
        break;
      }
      for (size_t i = 0; i < n->size(); ++i) {
        ScalarString(r.sink(), n->item(i), path + "[" + std::to_string(i) + "]");
      }
      break;
    case 'l':
      if (!n->IsSeq()) fail("a list");
      break;
    case 'm':
      if (!n->IsMap()) fail("a mapping");
      break;
  }
}

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

// sourceNamespace: the calling workload's namespace (a value that is not a namespace name is
// an error of Istio's checks, istio_checks.cc).
std::optional<std::string> DecodeSourceNamespace(ObjectReader& m) {
  return m.String("sourceNamespace");
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
  // 0 is unset (Istio); out of range is Istio's check's error.
  if (auto v = m.Int("port", 0, UINT32_MAX); v && *v <= 65535) out->set_port(*v);
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
  m.String("statPrefix");  // Envoy statistics only
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
    // Weights are relative (Istio: "the sum of all weights" need not be 100).
    if (auto w = r.Int("weight", 0, INT32_MAX)) d->set_weight(static_cast<uint32_t>(*w));
    DecodeHeaders(r, d->mutable_request_headers(), d->mutable_response_headers());
    out.destinations.push_back(std::move(ref));
  });
  h.Object("redirect", [&](ObjectReader& r) {
    auto* rd = route.mutable_redirect();
    if (auto v = r.String("uri")) rd->set_uri(*v);
    if (auto v = r.String("prefixRewrite")) rd->set_prefix_rewrite(*v);
    if (auto v = r.String("authority")) rd->set_authority(*v);
    // 0 is unset; values out of range are errors of Istio's checks (istio_checks.cc).
    if (auto v = r.Int("port", 0, UINT32_MAX); v && *v <= 65535) rd->set_port(*v);
    if (auto v = r.String("scheme")) rd->set_scheme(*v);
    rd->set_response_code(301);  // Istio's default (Gateway API's is 302)
    if (auto v = r.Int("redirectCode", 0, INT32_MAX); v && *v >= 300 && *v <= 399) {
      rd->set_response_code(static_cast<uint32_t>(*v));
    }
    if (r.Has("derivePort")) {
      r.Enum("derivePort", {"FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"});
      r.Warning(code::kUnsupported, "derivePort",
                "derivePort is not supported: the redirect keeps the request's port unless "
                "port is set");
    }
  });
  h.Object("directResponse", [&](ObjectReader& r) {
    auto* dr = route.mutable_direct_response();
    r.Require("status");
    if (auto v = r.Int("status", 0, INT32_MAX); v && *v >= 200 && *v <= 600) {
      dr->set_status(static_cast<uint32_t>(*v));
    }
    r.Object("body", [&](ObjectReader& b) {
      if (auto v = b.String("string")) dr->set_body(*v);
      CheckIgnoredType(b, "bytes", 's');
      // The CRD: bytes is base64 (format: byte), and a body is one of string or bytes.
      if (auto n = b.node().IsMap() ? b.node().Find("bytes") : std::nullopt;
          n && n->IsScalar() && n->NonStringType().empty() && !IsBase64(n->scalar())) {
        b.Error(code::kValue, "bytes", "bytes must be base64");
      }
      if (b.Has("string") && b.Has("bytes")) {
        b.Error(code::kValue, "bytes", "set only one of string and bytes");
      }
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
    if (auto v = r.Int("attempts", 0, INT32_MAX)) rp->set_attempts(static_cast<uint32_t>(*v));
    if (auto v = r.DurationMs("perTryTimeout")) rp->set_per_try_timeout_ms(*v);
    if (auto v = r.String("retryOn"); v && !v->empty()) {
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
    CheckIgnoredType(r, "retryIgnorePreviousHosts", 'b');
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
      CheckIgnoredType(d, "exponentialDelay", 'd');
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
      if (auto v = a.Int("httpStatus", 0, INT32_MAX); v && *v >= 200 && *v <= 600)
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
      CheckIgnoredType(a, "http2Error", 's');
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
  // mirrorPercentage wins over the deprecated mirrorPercent (and its mirror_percent spelling).
  double mirror_percent = 100;
  auto percentage = DecodePercent(h, "mirrorPercentage");
  auto deprecated = h.Int("mirrorPercent", 0, 100);
  auto snake = h.Int("mirror_percent", 0, UINT32_MAX);
  if (percentage) {
    mirror_percent = *percentage;
  } else if (deprecated) {
    mirror_percent = static_cast<double>(*deprecated);
  } else if (snake) {
    mirror_percent = static_cast<double>(std::min<int64_t>(*snake, 100));
  }
  h.Object("mirror", [&](ObjectReader& m) { add_mirror(m, mirror_percent); });
  h.ObjectList("mirrors", [&](ObjectReader& m, size_t) {
    double pct = 100;
    if (auto p = DecodePercent(m, "percentage")) pct = *p;
    m.Object("destination", [&](ObjectReader& d) { add_mirror(d, pct); });
  });
  DecodeHeaders(h, route.mutable_request_headers(), route.mutable_response_headers());
  // corsPolicy: read for its types (as the API server does), not enforced yet.
  h.Object("corsPolicy", [&](ObjectReader& c) {
    c.ObjectList("allowOrigins", [&](ObjectReader& o, size_t) { DecodeStringMatch(o); });
    c.StringList("allowMethods");
    c.StringList("allowHeaders");
    c.StringList("exposeHeaders");
    c.DurationMs("maxAge");
    c.Bool("allowCredentials");
    c.Enum("unmatchedPreflights", {"UNSPECIFIED", "FORWARD", "IGNORE"});
    c.StringList("allowOrigin");  // deprecated: allowOrigins
    h.Warning(code::kUnsupported, "corsPolicy",
              "corsPolicy is not enforced yet: requests pass without CORS checks or headers");
  });
  CheckIgnoredType(h, "delegate", 'm');
  out.delegate = h.Has("delegate");
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
    if (auto w = r.Int("weight", 0, INT32_MAX)) d->set_weight(static_cast<uint32_t>(*w));
    out.destinations.push_back(std::move(ref));
  });
}

pb::LoadBalancer DecodeLoadBalancer(ObjectReader& lb) {
  pb::LoadBalancer out;
  // Istio 1.32's client-side weighted round robin (Envoy's ORCA-based balancer): one of the
  // load-balancing policies (the CRD's oneOf with simple and consistentHash).
  if (lb.Has("backendUtilization") && (lb.Has("simple") || lb.Has("consistentHash"))) {
    lb.Error(code::kValue, "backendUtilization",
             "set only one of simple, consistentHash and backendUtilization");
  }
  lb.Object("backendUtilization", [&](ObjectReader& b) {
    b.Int("errorUtilizationPenaltyPercent", 0, UINT32_MAX);
    b.StringList("metricNamesForComputingUtilization");
    b.DurationMs("weightExpirationPeriod");
    b.DurationMs("weightStabilizationPeriod");
    b.DurationMs("weightUpdatePeriod");
    lb.Warning(code::kUnsupported, "backendUtilization",
               "backendUtilization (weighted round robin by backend load reports) is not "
               "supported: endpoints are balanced as without it");
  });
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
      if (k.Has("attributes")) {
        k.ObjectList("attributes", [&](ObjectReader& a, size_t) {
          a.Require("name");
          a.String("name");
          a.String("value");
        });
        k.Warning(code::kUnsupported, "attributes",
                  "cookie attributes are not enforced yet: the generated cookie has only its "
                  "path and ttl");
      }
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
    if (keys > 1) {
      ch.Error(code::kValue, "",
               "set only one hash key: httpHeaderName, httpCookie, useSourceIp or "
               "httpQueryParameterName");
    } else if (keys == 0) {
      ch.Warning(code::kValue, "",
                 "no hash key (httpHeaderName, httpCookie, useSourceIp or "
                 "httpQueryParameterName): as in Istio, requests are spread over the ring at "
                 "random, with no affinity");
    }
    // Ring sizes: 0 is Envoy's default (1024); more than 8388608 Envoy refuses (its
    // RingHashLbConfig bound), so weft does too (docs/policies.md, intended differences).
    ch.Object("ringHash", [&](ObjectReader& r) {
      if (auto v = r.Int("minimumRingSize", 0, 8'388'608); v && *v) c->set_minimum_ring_size(*v);
    });
    ch.Object("maglev", [&](ObjectReader& m) {
      out.set_policy(pb::LoadBalancer::MAGLEV);
      // 0, non-primes and sizes from 5000011 on are errors of Istio's checks.
      if (auto v = m.Int("tableSize", 0, UINT32_MAX); v && *v > 0 && *v < 5'000'011) {
        c->set_table_size(*v);
      }
    });
    if (auto v = ch.Int("minimumRingSize", 0, 8'388'608); v && *v) c->set_minimum_ring_size(*v);
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
    z.Int("minClusterSize", 1, UINT32_MAX);
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
  if (auto v = DurationAtLeast1ms(lb, "warmupDurationSecs")) out.set_warmup_duration_ms(*v);
  lb.Object("warmup", [&](ObjectReader& w) {
    w.Require("duration");
    if (auto v = w.DurationMs("duration")) out.set_warmup_duration_ms(*v);
    w.Double("minimumPercent", 0, 100);
    if (auto a = w.Double("aggression", 0, 1e300); a && *a <= 0) {
      w.Error(code::kValue, "aggression", "aggression should be greater than 0");
    }
    lb.Warning(code::kUnsupported, "warmup", std::string("warmup is ") + kNoWarmup);
  });
  return out;
}

pb::ConnectionPool DecodeConnectionPool(ObjectReader& cp) {
  pb::ConnectionPool out;
  cp.Object("tcp", [&](ObjectReader& t) {
    // Limits of 0 are unset (Envoy's defaults), as in Istio.
    if (auto v = t.Int("maxConnections", 0, INT32_MAX); v && *v) out.set_max_connections(*v);
    if (auto v = t.DurationMs("connectTimeout")) out.set_connect_timeout_ms(*v);
    if (auto v = t.DurationMs("idleTimeout")) out.set_idle_timeout_ms(*v);
    t.Object("tcpKeepalive", [&](ObjectReader& k) {
      out.set_tcp_keepalive(true);
      // Read for their types (the API server's), then warned: the kernel's settings apply.
      bool any = k.Has("probes") || k.Has("time") || k.Has("interval");
      k.Int("probes", 0, UINT32_MAX);
      k.DurationMs("time");
      k.DurationMs("interval");
      if (any) {
        k.Warning(code::kUnsupported, "",
                  "probes, time and interval are not supported: the kernel's keepalive settings "
                  "apply");
      }
    });
    if (t.Has("maxConnectionDuration")) {
      t.DurationMs("maxConnectionDuration");
      t.Warning(code::kUnsupported, "maxConnectionDuration",
                "maxConnectionDuration is not supported: upstream connections have no maximum "
                "age");
    }
  });
  cp.Object("http", [&](ObjectReader& h) {
    if (auto v = h.Int("http1MaxPendingRequests", 0, INT32_MAX); v && *v)
      out.set_http1_max_pending_requests(*v);
    if (auto v = h.Int("http2MaxRequests", 0, INT32_MAX); v && *v) out.set_http2_max_requests(*v);
    if (auto v = h.Int("maxRequestsPerConnection", 0, INT32_MAX))
      out.set_max_requests_per_connection(*v);
    if (auto v = h.Int("maxRetries", 0, INT32_MAX)) out.set_max_retries(*v);
    if (auto v = h.Int("maxConcurrentStreams", 0, INT32_MAX); v && *v)
      out.set_max_concurrent_streams(*v);
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
  if (auto v = od.Int("consecutive5xxErrors", 0, UINT32_MAX)) out.set_consecutive_5xx_errors(*v);
  if (auto v = od.Int("consecutiveErrors", INT32_MIN, INT32_MAX); v && *v != 0) {
    od.Warning(code::kValue, "consecutiveErrors",
               "consecutiveErrors is deprecated; use consecutive5xxErrors");
    if (!od.Has("consecutive5xxErrors") && *v > 0) out.set_consecutive_5xx_errors(*v);
  }
  if (auto v = od.Int("consecutiveGatewayErrors", 0, UINT32_MAX))
    out.set_consecutive_gateway_errors(*v);
  if (auto v = DurationAtLeast1ms(od, "interval")) out.set_interval_ms(*v);
  if (auto v = DurationAtLeast1ms(od, "baseEjectionTime")) out.set_base_ejection_time_ms(*v);
  if (auto v = od.Int("maxEjectionPercent", 0, 100)) out.set_max_ejection_percent(*v);
  if (auto v = od.Int("minHealthPercent", 0, 100)) out.set_min_health_percent(*v);
  if (od.Has("failurePercentageThreshold")) {
    od.Int("failurePercentageThreshold", 0, 100);
    od.Warning(code::kUnsupported, "failurePercentageThreshold",
               "failurePercentageThreshold is not enforced yet: only consecutive errors eject "
               "an endpoint");
  }
  if (auto v = od.Bool("splitExternalLocalOriginErrors"))
    out.set_split_external_local_origin_errors(*v);
  if (auto v = od.Int("consecutiveLocalOriginFailures", 0, UINT32_MAX))
    out.set_consecutive_local_origin_failures(*v);
  if (od.Has("outlierDetectionHttpErrorCodes")) {
    od.List("outlierDetectionHttpErrorCodes", [&](yaml::Node n, const std::string& path, size_t) {
      auto v = n.IsScalar() ? ParseInt(n.scalar()) : std::nullopt;
      if (!v || *v < 100 || *v > 599) {
        od.sink().Error(code::kValue, n.mark(), path,
                        "expected an HTTP status code from 100 to 599, got " + n.Describe());
      }
    });
    od.Warning(code::kUnsupported, "outlierDetectionHttpErrorCodes",
               "outlierDetectionHttpErrorCodes is not enforced yet: 5xx responses (and gateway "
               "errors) count as errors, as without it");
  }
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
  if (t.Has("caCertCredentialName")) {
    t.String("caCertCredentialName");
    t.Warning(code::kUnsupported, "caCertCredentialName",
              "caCertCredentialName is not supported: the CA certificates come from "
              "caCertificates or credentialName");
  }
  if (auto v = t.String("sni")) out.set_sni(*v);
  if (auto v = t.StringList("subjectAltNames")) {
    for (auto& s : *v) out.add_subject_alt_names(s);
  }
  if (auto v = t.Bool("insecureSkipVerify")) out.set_insecure_skip_verify(*v);
  CheckIgnoredType(t, "caCrl", 's');
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
  tp.Object("tunnel", [&](ObjectReader& t) {
    t.String("protocol");
    t.String("targetHost");
    t.Int("targetPort", 0, UINT32_MAX);
    tp.Warning(code::kUnsupported, "tunnel",
               "tunnel is not supported: weft does not tunnel upstream connections through a "
               "proxy");
  });
  tp.Object("proxyProtocol", [&](ObjectReader& pp) {
    pp.Enum("version", {"V1", "V2"});
    tp.Warning(code::kUnsupported, "proxyProtocol",
               "proxyProtocol is not supported: no PROXY header is sent upstream");
  });
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
    // No hosts: a delegate VirtualService (Istio's checks say what it may hold).
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
    CheckIgnoredType(spec, "tls", 'l');
    spec.Unsupported("tls", "TLS (SNI) routes are not implemented; TCP routes are");
    out.export_to = DecodeExportTo(spec);
    CheckVirtualServiceAsIstio(spec.sink(), spec.node(), spec.path(), spec.sink().resource().ns);
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
    if (spec.Has("workloadSelector")) {
      yaml::Mark at = spec.MarkOf("workloadSelector");
      DecodeWorkloadSelector(spec, "workloadSelector");  // its types, as the API server's
      spec.sink().Warning(code::kUnsupported, at, spec.Child("workloadSelector"),
                          "field \"workloadSelector\" is not supported by weft and is ignored: the "
                          "rule applies to every client");
    }
    CheckDestinationRuleAsIstio(spec.sink(), spec.node(), spec.path(), spec.sink().resource().ns);
  });
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
    if (auto v =
            spec.Enum("resolution", {"NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"})) {
      out.resolution = *v;
      if (*v == "DYNAMIC_DNS") {
        // The node proxy has no per-request DNS: connections go where the client resolved the
        // name, as with NONE.
        spec.Warning(code::kUnsupported, "resolution",
                     "DYNAMIC_DNS is not supported: weft treats it as NONE (connections go to the "
                     "address the client resolved)");
        out.resolution = "NONE";
      }
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
      for (const char* key : {"locality", "network"}) {
        if (auto n = e.node().Find(key); n && n->IsScalar() && n->scalar().size() > 2048) {
          e.Error(code::kValue, key, "may not be more than 2048 bytes");
        }
      }
      if (auto v = e.Int("weight", 0, UINT32_MAX)) ep.weight = static_cast<uint32_t>(*v);
      if (auto v = e.String("serviceAccount")) ep.service_account = *v;
      CheckIgnoredType(e, "network", 's');
      e.Unsupported("network");
      out.endpoints.push_back(std::move(ep));
    });
    spec.Object("workloadSelector", [&](ObjectReader& sel) {
      out.workload_selector = sel.StringMap("labels").value_or(Labels{});
    });
    out.export_to = DecodeExportTo(spec);
    CheckIgnoredType(spec, "subjectAltNames", 'L');
    spec.Unsupported("subjectAltNames");
    std::string use_waypoint;
    if (auto md = root.node().Find("metadata"); md && md->IsMap()) {
      if (auto l = md->Find("labels"); l && l->IsMap()) {
        if (auto w = l->Find("istio.io/use-waypoint"); w && w->IsScalar()) {
          use_waypoint = std::string(w->scalar());
        }
      }
    }
    CheckServiceEntryAsIstio(spec.sink(), spec.node(), spec.path(), spec.sink().resource().ns,
                             use_waypoint);
  });
}

}  // namespace weft::policy
