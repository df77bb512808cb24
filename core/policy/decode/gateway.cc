// Decoders for gateway.networking.k8s.io: HTTPRoute, as used for mesh traffic (GAMMA:
// parentRefs naming a Service), and Gateway, of which weft serves the waypoints (classes
// weft-waypoint and istio-waypoint).

#include <algorithm>
#include <cctype>

#include <re2/re2.h>

#include "core/policy/decode/decode.h"
#include "core/policy/decode/values.h"

namespace weft::policy {

namespace {

// A Gateway API typed match ({type, value}). `default_value` applies when value is absent
// (a path match defaults to "/").
std::optional<pb::StringMatchRule> DecodeTypedMatch(ObjectReader& r,
                                                    const std::vector<std::string_view>& types,
                                                    std::string_view default_type,
                                                    std::optional<std::string> default_value = {}) {
  std::string type = r.Enum("type", types).value_or(std::string(default_type));
  auto value = r.String("value");
  if (!value) value = default_value;
  if (!value) return std::nullopt;
  pb::StringMatchRule m;
  if (type == "Exact") {
    m.set_exact(*value);
  } else if (type == "PathPrefix") {
    if (value->empty() || (*value)[0] != '/') {
      r.Error(code::kValue, "value", "a path must start with '/'");
    }
    m.set_path_prefix(*value);
  } else {
    if (auto why = RegexError(*value)) {
      r.Error(code::kValue, "value", "invalid regular expression \"" + *value + "\": " + *why);
    }
    m.set_regex(*value);
  }
  return m;
}

void DecodeNameValueMatches(ObjectReader& r, std::string_view key,
                            google::protobuf::RepeatedPtrField<pb::HeaderMatch>* out) {
  r.ObjectList(key, [&](ObjectReader& h, size_t) {
    pb::HeaderMatch hm;
    h.Require("name");
    if (auto v = h.String("name")) hm.set_name(*v);
    if (auto m = DecodeTypedMatch(h, {"Exact", "RegularExpression"}, "Exact")) {
      *hm.mutable_value() = *m;
    }
    out->Add(std::move(hm));
  });
}

void DecodeHeaderModifier(ObjectReader& r, pb::HeaderOperations* out) {
  auto pairs = [&](std::string_view key, google::protobuf::Map<std::string, std::string>* m) {
    r.ObjectList(key, [&](ObjectReader& p, size_t) {
      auto name = p.String("name");
      auto value = p.String("value");
      if (name && value) (*m)[*name] = *value;
    });
  };
  pairs("set", out->mutable_set());
  pairs("add", out->mutable_add());
  if (auto v = r.StringList("remove")) {
    for (auto& s : *v) out->add_remove(s);
  }
}

HTTPRouteSpec::BackendRef DecodeBackendRef(ObjectReader& b) {
  HTTPRouteSpec::BackendRef ref;
  ref.pos = {b.node().mark(), b.path()};
  if (auto v = b.String("group")) ref.group = *v;
  if (auto v = b.String("kind")) ref.kind = *v;
  b.Require("name");
  if (auto v = b.String("name")) ref.name = *v;
  if (auto v = b.String("namespace")) ref.ns = *v;
  if (auto v = b.Port("port")) ref.port = *v;
  if (auto v = b.Int("weight", 0, 1'000'000)) ref.weight = static_cast<uint32_t>(*v);
  if (ref.kind == "Service" && ref.group.empty() && ref.port == 0) {
    b.Error(code::kMissingField, "port", "port is required when referring to a Service");
  }
  return ref;
}

void DecodePathModifier(ObjectReader& p, pb::Rewrite* rw, pb::Redirect* rd) {
  auto type = p.Enum("type", {"ReplaceFullPath", "ReplacePrefixMatch"});
  auto full = p.String("replaceFullPath");
  auto prefix = p.String("replacePrefixMatch");
  std::string value = full ? *full : prefix.value_or("");
  if (type && *type == "ReplaceFullPath" && !full) {
    p.Error(code::kMissingField, "replaceFullPath", "replaceFullPath is required for its type");
  }
  if (type && *type == "ReplacePrefixMatch" && !prefix) {
    p.Error(code::kMissingField, "replacePrefixMatch",
            "replacePrefixMatch is required for its type");
  }
  if (rw) {
    rw->set_uri(value);
    rw->set_full_path(type && *type == "ReplaceFullPath");
  }
  if (rd) rd->set_uri(value);
}

// An HTTPHeaderName of Gateway API: 1 to 256 token characters (RFC 7230 tchar).
bool IsHeaderName(const std::string& s) {
  if (s.empty() || s.size() > 256) return false;
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                 std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

// A list of the CORS filter in which "*" must stand alone (the schema's CEL rule).
void CheckWildcardAlone(ObjectReader& c, std::string_view key,
                        const std::optional<std::vector<std::string>>& values) {
  if (values && values->size() > 1 &&
      std::find(values->begin(), values->end(), "*") != values->end()) {
    c.Error(code::kValue, key, std::string(key) + " cannot contain '*' alongside other values");
  }
}

// filters[].cors (Gateway API v1.5+, Extended support): validated as the CRD's schema does;
// not enforced yet (a warning says so).
void DecodeCors(ObjectReader& c) {
  static const RE2 kOrigin(
      R"((^\*$)|(^(http(s)?)://(((\*\.)?([a-zA-Z0-9\-]+\.)*[a-zA-Z0-9-]+|\*)(:([0-9]{1,5}))?)$))");
  c.List("allowOrigins", [&](yaml::Node n, const std::string& path, size_t) {
    auto s = ScalarString(c.sink(), n, path);
    if (s && (s->empty() || s->size() > 253 || !RE2::FullMatch(*s, kOrigin))) {
      c.sink().Error(
          code::kValue, n.mark(), path,
          "invalid origin " + n.Describe() + ": expected \"*\" or <http|https>://<host>[:<port>]");
    }
  });
  auto origins = c.StringList("allowOrigins");
  CheckWildcardAlone(c, "allowOrigins", origins);
  auto methods = c.StringList("allowMethods");
  if (methods) {
    static const std::vector<std::string_view> kMethods = {
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*"};
    for (const auto& m : *methods) {
      if (std::find(kMethods.begin(), kMethods.end(), m) == kMethods.end()) {
        c.Error(code::kValue, "allowMethods",
                "invalid method \"" + m +
                    "\"; expected one of GET, HEAD, POST, PUT, DELETE, "
                    "CONNECT, OPTIONS, TRACE, PATCH, *");
      }
    }
    CheckWildcardAlone(c, "allowMethods", methods);
  }
  for (std::string_view key : {"allowHeaders", "exposeHeaders"}) {
    auto headers = c.StringList(key);
    if (!headers) continue;
    for (const auto& h : *headers) {
      if (!IsHeaderName(h)) {
        c.Error(code::kValue, key, "invalid header name \"" + h + "\"");
      }
    }
    if (key == "allowHeaders") CheckWildcardAlone(c, key, headers);
  }
  c.Int("maxAge", 1, INT32_MAX);
  c.Bool("allowCredentials");
  c.Warning(code::kUnsupported, "",
            "the CORS filter is not enforced yet: the waypoint neither answers preflight "
            "requests nor adds Access-Control-* headers; requests are routed as if it were "
            "absent");
}

void DecodeFilter(ObjectReader& f, HTTPRouteSpec::Rule& rule, pb::HeaderOperations* req,
                  pb::HeaderOperations* resp, bool backend_level) {
  auto type = f.Enum("type", {"RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror",
                              "RequestRedirect", "URLRewrite", "ExtensionRef", "CORS"});
  // The schema's CEL rules: the field named after the type is set, and no other filter's.
  static const std::vector<std::pair<std::string_view, std::string_view>> kFields = {
      {"RequestHeaderModifier", "requestHeaderModifier"},
      {"ResponseHeaderModifier", "responseHeaderModifier"},
      {"RequestMirror", "requestMirror"},
      {"RequestRedirect", "requestRedirect"},
      {"URLRewrite", "urlRewrite"},
      {"ExtensionRef", "extensionRef"},
      {"CORS", "cors"}};
  if (type) {
    for (const auto& [t, field] : kFields) {
      if (t == *type && !f.Has(field)) {
        f.Error(code::kMissingField, field,
                std::string(field) + " is required for a filter of type " + std::string(t));
      } else if (t != *type && f.Has(field)) {
        f.Error(code::kValue, field,
                std::string(field) + " must not be set for a filter of type " + *type);
      }
    }
  }
  f.Object("cors", [&](ObjectReader& c) { DecodeCors(c); });
  f.Object("requestHeaderModifier", [&](ObjectReader& r) { DecodeHeaderModifier(r, req); });
  f.Object("responseHeaderModifier", [&](ObjectReader& r) { DecodeHeaderModifier(r, resp); });
  f.Object("requestMirror", [&](ObjectReader& m) {
    if (backend_level) {
      m.Error(code::kUnsupported, "", "RequestMirror is supported on rules, not on backendRefs");
      m.IgnoreAllOthers();
      return;
    }
    double pct = 100;
    m.Object("backendRef", [&](ObjectReader& b) {
      HTTPRouteSpec::BackendRef ref = DecodeBackendRef(b);
      rule.mirrors.push_back(std::move(ref));
    });
    if (auto v = m.Int("percent", 0, 100)) pct = static_cast<double>(*v);
    m.Object("fraction", [&](ObjectReader& fr) {
      auto num = fr.Int("numerator", 0, INT32_MAX);
      auto den = fr.Int("denominator", 1, INT32_MAX).value_or(100);
      if (num) pct = 100.0 * static_cast<double>(*num) / static_cast<double>(den);
    });
    pb::Mirror* mirror = rule.route.add_mirrors();
    mirror->set_percent(pct);
  });
  f.Object("requestRedirect", [&](ObjectReader& r) {
    auto* rd = rule.route.mutable_redirect();
    if (auto v = r.Enum("scheme", {"http", "https"})) rd->set_scheme(*v);
    if (auto v = r.String("hostname")) rd->set_authority(*v);
    if (auto v = r.Port("port")) rd->set_port(*v);
    // Gateway API's default code is 302 (Istio's VirtualService: 301); the snapshot says it.
    rd->set_response_code(302);
    if (auto v = r.Int("statusCode", 301, 308)) {
      if (*v != 301 && *v != 302 && *v != 303 && *v != 307 && *v != 308) {
        r.Error(
            code::kValue, "statusCode",
            "invalid statusCode " + std::to_string(*v) + "; expected 301, 302, 303, 307 or 308");
      } else {
        rd->set_response_code(static_cast<uint32_t>(*v));
      }
    }
    r.Object("path", [&](ObjectReader& p) { DecodePathModifier(p, nullptr, rd); });
  });
  f.Object("urlRewrite", [&](ObjectReader& r) {
    auto* rw = rule.route.mutable_rewrite();
    if (auto v = r.String("hostname")) rw->set_authority(*v);
    r.Object("path", [&](ObjectReader& p) { DecodePathModifier(p, rw, nullptr); });
  });
  if (type && *type == "ExtensionRef") {
    f.Error(code::kUnsupported, "type", "ExtensionRef filters are not supported");
  }
  f.Ignore("extensionRef");
}

}  // namespace

void DecodeHTTPRoute(ObjectReader& root, HTTPRouteSpec& out) {
  if (!root.Require("spec")) return;
  root.Object("spec", [&](ObjectReader& spec) {
    spec.ObjectList("parentRefs", [&](ObjectReader& p, size_t) {
      HTTPRouteSpec::ParentRef ref;
      ref.pos = {p.node().mark(), p.path()};
      if (auto v = p.String("group")) ref.group = *v;
      if (auto v = p.String("kind")) ref.kind = *v;
      p.Require("name");
      if (auto v = p.String("name")) ref.name = *v;
      if (auto v = p.String("namespace")) ref.ns = *v;
      if (auto v = p.Port("port")) ref.port = *v;
      p.Unsupported("sectionName");
      out.parents.push_back(std::move(ref));
    });
    if (spec.Has("hostnames")) {
      out.hostnames_pos = {spec.Raw("hostnames")->mark(), spec.Child("hostnames")};
    }
    if (auto v = spec.StringList("hostnames")) out.hostnames = *v;
    spec.ObjectList("rules", [&](ObjectReader& r, size_t) {
      HTTPRouteSpec::Rule rule;
      rule.pos = {r.node().mark(), r.path()};
      auto* src = rule.route.mutable_source();
      src->set_field(r.path());
      src->set_line(r.node().mark().line);
      src->set_column(r.node().mark().column);
      if (auto v = r.String("name")) rule.route.set_name(*v);
      r.ObjectList("matches", [&](ObjectReader& m, size_t) {
        pb::HttpMatch* hm = rule.route.add_matches();
        m.Object("path", [&](ObjectReader& p) {
          if (auto sm = DecodeTypedMatch(p, {"Exact", "PathPrefix", "RegularExpression"},
                                         "PathPrefix", "/")) {
            *hm->mutable_uri() = *sm;
          }
        });
        DecodeNameValueMatches(m, "headers", hm->mutable_headers());
        DecodeNameValueMatches(m, "queryParams", hm->mutable_query_params());
        if (auto v = m.Enum("method", {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                                       "TRACE", "PATCH"})) {
          hm->mutable_method()->set_exact(*v);
        }
      });
      r.ObjectList("filters", [&](ObjectReader& f, size_t) {
        DecodeFilter(f, rule, rule.route.mutable_request_headers(),
                     rule.route.mutable_response_headers(), false);
      });
      r.ObjectList("backendRefs", [&](ObjectReader& b, size_t) {
        HTTPRouteSpec::BackendRef ref;
        b.ObjectList("filters", [&](ObjectReader& f, size_t) {
          DecodeFilter(f, rule, &ref.request_headers, &ref.response_headers, true);
        });
        HTTPRouteSpec::BackendRef decoded = DecodeBackendRef(b);
        decoded.request_headers = std::move(ref.request_headers);
        decoded.response_headers = std::move(ref.response_headers);
        rule.backends.push_back(std::move(decoded));
      });
      // retry (HTTPRouteRetry, experimental since v1.2), as Istio converts it to a
      // VirtualService's retries: retry on connection errors (connect-failure, refused-stream,
      // and gRPC unavailable, cancelled: retry_on left empty is Istio's default set) and on
      // `codes`; `attempts` default 2; `attempts: 0` disables retries.
      bool has_retry = r.Has("retry");
      if (has_retry) rule.retry_pos = PosOf(r, "retry");
      r.Object("retry", [&](ObjectReader& t) {
        auto* rp = rule.route.mutable_retries();
        rp->set_attempts(2);
        if (auto v = t.Int("attempts", 0, 1000)) rp->set_attempts(static_cast<uint32_t>(*v));
        t.List("codes", [&](yaml::Node n, const std::string& path, size_t) {
          auto text = n.IsScalar() ? ParseInt(n.scalar()) : std::nullopt;
          if (!text) {
            t.sink().Error(code::kType, n.mark(), path,
                           "expected an HTTP status code, got " + n.Describe());
          } else if (*text < 400 || *text > 599) {
            t.sink().Error(code::kValue, n.mark(), path,
                           "status code " + std::to_string(*text) + " is not in 400-599");
          } else {
            rp->add_retriable_status_codes(static_cast<uint32_t>(*text));
          }
        });
        if (auto v = t.DurationMs("backoff")) rp->set_backoff_base_ms(*v);
      });
      r.Object("timeouts", [&](ObjectReader& t) {
        auto request = t.DurationMs("request");
        auto backend = t.DurationMs("backendRequest");
        if (request) rule.route.set_timeout_ms(*request);
        if (backend) {
          if (request && *request && *backend > *request) {
            t.Error(code::kValue, "backendRequest",
                    "backendRequest must not be longer than request");
          } else if (request && *request && *backend && *backend == *request && has_retry &&
                     rule.route.retries().attempts() > 0) {
            t.Warning(code::kValue, "backendRequest",
                      "backendRequest equals request: the request timeout ends the request "
                      "first, so an attempt that times out is never retried");
          }
          // Each attempt's timeout. Without `retry`, Istio's default retry policy (2 retries
          // on connect-failure, refused-stream, unavailable, cancelled) stays in force.
          auto* rp = rule.route.mutable_retries();
          if (!has_retry) rp->set_attempts(2);
          rp->set_per_try_timeout_ms(*backend);
        }
      });
      r.Unsupported("sessionPersistence");
      out.rules.push_back(std::move(rule));
    });
  });
}

namespace {

constexpr std::string_view kNodeAnnotation = "weft.dev/node";
constexpr std::string_view kWaypointForLabel = "istio.io/waypoint-for";
constexpr uint32_t kHbonePort = 15008;

// Gateway API ProtocolType: a core name ("HTTP", "HBONE", ...) or "<domain>/<name>".
bool IsProtocolType(std::string_view p) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  size_t slash = p.find('/');
  if (slash == std::string_view::npos) {
    if (p.empty() || p.size() > 255 || !alnum(p.front()) || !alnum(p.back())) return false;
    for (char c : p) {
      if (!alnum(c) && c != '-') return false;
    }
    return true;
  }
  std::string_view name = p.substr(slash + 1);
  if (!IsDnsSubdomain(p.substr(0, slash)) || name.empty()) return false;
  for (char c : name) {
    if (!alnum(c)) return false;
  }
  return true;
}

// Gateway API Hostname: a DNS subdomain, optionally with a leading "*." wildcard label.
bool IsGatewayHostname(std::string_view h) {
  if (h.starts_with("*.")) h.remove_prefix(2);
  return IsDnsSubdomain(h);
}

// A Kubernetes LabelSelector with matchExpressions, as Gateway API allowedRoutes uses it.
std::optional<LabelSelector> DecodeFullLabelSelector(ObjectReader& parent, std::string_view key) {
  std::optional<LabelSelector> out;
  parent.Object(key, [&](ObjectReader& sel) {
    LabelSelector ls;
    if (auto v = sel.StringMap("matchLabels")) ls.match_labels = std::move(*v);
    sel.ObjectList("matchExpressions", [&](ObjectReader& e, size_t) {
      LabelSelector::Requirement req;
      e.Require("key");
      e.Require("operator");
      if (auto v = e.String("key")) req.key = *v;
      if (auto v = e.Enum("operator", {"In", "NotIn", "Exists", "DoesNotExist"})) req.op = *v;
      if (auto v = e.StringList("values")) req.values = std::move(*v);
      bool set_op = req.op == "In" || req.op == "NotIn";
      if (set_op && req.values.empty()) {
        e.Error(code::kValue, "values", "operator " + req.op + " needs at least one value");
      } else if (!req.op.empty() && !set_op && !req.values.empty()) {
        e.Error(code::kValue, "values", "operator " + req.op + " takes no values");
      }
      ls.match_expressions.push_back(std::move(req));
    });
    out = std::move(ls);
  });
  return out;
}

// Gateway API SecretObjectReference / ObjectReference: {group, kind, name, namespace}.
void DecodeObjectReference(ObjectReader& r) {
  r.Require("name");
  r.String("group");
  r.String("kind");
  r.String("name");
  r.String("namespace");
}

}  // namespace

bool LabelSelector::Matches(const Labels& labels) const {
  for (const auto& [k, v] : match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& req : match_expressions) {
    auto it = labels.find(req.key);
    bool present = it != labels.end();
    bool listed =
        present && std::find(req.values.begin(), req.values.end(), it->second) != req.values.end();
    if (req.op == "In" && !listed) return false;
    if (req.op == "NotIn" && listed) return false;
    if (req.op == "Exists" && !present) return false;
    if (req.op == "DoesNotExist" && present) return false;
  }
  return true;
}

bool IsWaypointClass(std::string_view gateway_class) {
  return gateway_class == "weft-waypoint" || gateway_class == "istio-waypoint";
}

void DecodeGateway(ObjectReader& root, const Meta& meta, GatewaySpec& out) {
  DiagnosticSink& sink = root.sink();
  if (auto it = meta.annotations.find(std::string(kNodeAnnotation)); it != meta.annotations.end()) {
    if (!it->second.empty() && !IsDnsSubdomain(it->second)) {
      sink.Error(code::kValue, root.MarkOf("metadata"),
                 "metadata.annotations." + std::string(kNodeAnnotation),
                 "invalid node name \"" + it->second + "\"");
    } else {
      out.node = it->second;
    }
  }
  if (!root.Require("spec")) return;
  root.Object("spec", [&](ObjectReader& spec) {
    spec.Require("gatewayClassName");
    out.class_pos = PosOf(spec, "gatewayClassName");
    if (auto v = spec.String("gatewayClassName")) out.gateway_class = *v;
    out.waypoint = IsWaypointClass(out.gateway_class);

    // Listeners, with where their port and protocol were written (for the waypoint checks).
    struct Where {
      FieldPos port, protocol;
    };
    std::vector<Where> where;
    spec.Require("listeners");
    spec.ObjectList("listeners", [&](ObjectReader& l, size_t) {
      GatewaySpec::Listener listener;
      listener.pos = {l.node().mark(), l.path()};
      l.Require("name");
      l.Require("port");
      l.Require("protocol");
      if (auto v = l.String("name")) {
        listener.name = *v;
        if (!IsDnsSubdomain(*v)) {
          l.Error(code::kValue, "name",
                  "invalid listener name \"" + *v +
                      "\": must be lowercase letters, digits, '-' and '.'");
        }
        for (const auto& other : out.listeners) {
          if (other.name == *v) {
            l.Error(code::kConflict, "name", "duplicate listener name \"" + *v + "\"");
          }
        }
      }
      if (auto v = l.String("hostname")) {
        listener.hostname = *v;
        if (!IsGatewayHostname(*v)) {
          l.Error(code::kValue, "hostname", "invalid hostname \"" + *v + "\"");
        }
      }
      Where w{PosOf(l, "port"), PosOf(l, "protocol")};
      if (auto v = l.Port("port")) listener.port = *v;
      if (auto v = l.String("protocol")) {
        listener.protocol = *v;
        if (!IsProtocolType(*v)) {
          l.Error(code::kValue, "protocol",
                  "invalid protocol \"" + *v +
                      "\": expected a name such as HTTP or HBONE, or <domain>/<name>");
        }
      }
      l.Object("tls", [&](ObjectReader& t) {
        listener.has_tls = true;
        t.Enum("mode", {"Terminate", "Passthrough"});
        t.ObjectList("certificateRefs", [&](ObjectReader& c, size_t) { DecodeObjectReference(c); });
        t.StringMap("options");
        t.Unsupported("frontendValidation");
      });
      l.Object("allowedRoutes", [&](ObjectReader& a) {
        a.Object("namespaces", [&](ObjectReader& n) {
          if (auto v = n.Enum("from", {"All", "Selector", "Same"})) listener.routes_from = *v;
          listener.routes_selector = DecodeFullLabelSelector(n, "selector");
          if (listener.routes_from == "Selector" && !listener.routes_selector) {
            n.Error(code::kMissingField, "selector", "from: Selector needs a selector");
          }
        });
        a.ObjectList("kinds", [&](ObjectReader& k, size_t) {
          k.Require("kind");
          k.String("group");
          k.String("kind");
        });
      });
      out.listeners.push_back(std::move(listener));
      where.push_back(std::move(w));
    });
    if (spec.Has("listeners") && out.listeners.empty()) {
      spec.Error(code::kValue, "listeners", "at least one listener is required");
    } else if (out.listeners.size() > 64) {
      spec.Error(code::kValue, "listeners", "at most 64 listeners are allowed");
    }

    spec.ObjectList("addresses", [&](ObjectReader& a, size_t) {
      GatewaySpec::Address addr;
      if (auto v = a.String("type")) {
        addr.type = *v;
        if (*v != "IPAddress" && *v != "Hostname" && v->find('/') == std::string::npos) {
          a.Error(code::kValue, "type",
                  "invalid address type \"" + *v +
                      "\"; expected IPAddress, Hostname or a domain-prefixed type");
        }
      }
      if (auto v = a.String("value")) addr.value = *v;
      if (addr.type == "IPAddress" && !addr.value.empty() && !IsIpAddress(addr.value)) {
        a.Error(code::kValue, "value", "invalid IP address \"" + addr.value + "\"");
      } else if (addr.type == "Hostname" && !addr.value.empty() && !IsGatewayHostname(addr.value)) {
        a.Error(code::kValue, "value", "invalid hostname \"" + addr.value + "\"");
      }
      out.addresses.push_back(std::move(addr));
    });
    bool has_parameters_ref = false;
    spec.Object("infrastructure", [&](ObjectReader& i) {
      if (auto v = i.StringMap("labels")) out.infrastructure_labels = std::move(*v);
      if (auto v = i.StringMap("annotations")) out.infrastructure_annotations = std::move(*v);
      i.Object("parametersRef", [&](ObjectReader& p) {
        has_parameters_ref = true;
        p.Require("group");
        p.Require("kind");
        p.Require("name");
        p.String("group");
        p.String("kind");
        p.String("name");
      });
    });
    // Newer fields (ListenerSets, Gateway-level TLS, default Gateways): known, not used.
    spec.Unsupported("allowedListeners");
    spec.Unsupported("tls");
    spec.Unsupported("backendTLS");
    spec.Unsupported("defaultScope");

    if (out.gateway_class.empty()) return;
    if (!out.waypoint) {
      sink.Note(code::kUnsupported, out.class_pos.mark, out.class_pos.field,
                "gateway class \"" + out.gateway_class +
                    "\" is not served by weft (gateways come later); only waypoints "
                    "(weft-waypoint, istio-waypoint) are");
      return;
    }

    // A waypoint: its HBONE listener on 15008 is what clients' node proxies connect to.
    std::optional<size_t> mesh;
    for (size_t i = 0; i < out.listeners.size(); ++i) {
      if (out.listeners[i].port == kHbonePort && out.listeners[i].protocol == "HBONE") {
        mesh = i;
        break;
      }
    }
    if (!mesh) {
      const FieldPos* at = nullptr;
      std::string msg;
      for (size_t i = 0; i < out.listeners.size() && !at; ++i) {
        if (out.listeners[i].protocol == "HBONE") {
          at = &where[i].port;
          msg = "a waypoint's HBONE listener must be on port 15008";
        } else if (out.listeners[i].port == kHbonePort) {
          at = &where[i].protocol;
          msg = "a waypoint's listener on port 15008 must have protocol HBONE";
        }
      }
      if (at) {
        sink.Error(code::kValue, at->mark, at->field, msg);
      } else if (!out.listeners.empty()) {
        spec.Error(code::kMissingField, "listeners",
                   "a waypoint needs the listener {name: mesh, port: 15008, protocol: HBONE}");
      }
      return;
    }
    out.mesh_listener = *mesh;
    for (size_t i = 0; i < out.listeners.size(); ++i) {
      const auto& l = out.listeners[i];
      if (i == *mesh) {
        if (!l.hostname.empty()) {
          sink.Warning(code::kUnsupported, l.pos.mark, l.pos.field + ".hostname",
                       "ignored: a waypoint serves every Service bound to it");
        }
        if (l.has_tls) {
          sink.Warning(code::kUnsupported, l.pos.mark, l.pos.field + ".tls",
                       "ignored: HBONE is mutual TLS with the mesh's certificates");
        }
        continue;
      }
      sink.Warning(code::kUnsupported, l.pos.mark, l.pos.field,
                   "listener \"" + l.name + "\" (port " + std::to_string(l.port) + ", " +
                       l.protocol +
                       ") is not served: a waypoint serves only its HBONE listener on port "
                       "15008");
    }
    if (!out.addresses.empty()) {
      spec.Warning(code::kUnsupported, "addresses",
                   "ignored: a waypoint's addresses are those of its pods");
    }
    if (has_parameters_ref) {
      spec.Warning(code::kUnsupported, "infrastructure",
                   "infrastructure.parametersRef is not supported for waypoints and is ignored");
    }
    if (auto it = meta.labels.find(std::string(kWaypointForLabel));
        it != meta.labels.end() && it->second != "service") {
      sink.Warning(code::kUnsupported, root.MarkOf("metadata"),
                   "metadata.labels." + std::string(kWaypointForLabel),
                   "istio.io/waypoint-for: " + it->second +
                       " is not supported: weft waypoints take Service traffic only (as "
                       "istio.io/waypoint-for: service); traffic to pod addresses goes direct");
    }
  });
}

}  // namespace weft::policy
