// Decoder for gateway.networking.k8s.io/v1 HTTPRoute, as used for mesh traffic (GAMMA:
// parentRefs naming a Service).

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

void DecodeFilter(ObjectReader& f, HTTPRouteSpec::Rule& rule, pb::HeaderOperations* req,
                  pb::HeaderOperations* resp, bool backend_level) {
  auto type = f.Enum("type", {"RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror",
                              "RequestRedirect", "URLRewrite", "ExtensionRef"});
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
    if (auto v = r.Int("statusCode", 301, 302)) rd->set_response_code(static_cast<uint32_t>(*v));
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
      r.Object("timeouts", [&](ObjectReader& t) {
        auto request = t.DurationMs("request");
        auto backend = t.DurationMs("backendRequest");
        if (request) rule.route.set_timeout_ms(*request);
        if (backend) {
          if (request && *request && *backend > *request) {
            t.Error(code::kValue, "backendRequest",
                    "backendRequest must not be longer than request");
          }
          rule.route.mutable_retries()->set_per_try_timeout_ms(*backend);
        }
      });
      r.Unsupported("retry", "use a VirtualService for retries");
      r.Unsupported("sessionPersistence");
      out.rules.push_back(std::move(rule));
    });
  });
}

}  // namespace weft::policy
