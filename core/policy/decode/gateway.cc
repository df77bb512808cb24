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

// ---- The constraints of the CRDs' schemas (Gateway API v1.6.3, standard channel) ----
//
// The API server checks minLength/maxLength, patterns, minItems/maxItems, list-map keys and the
// x-kubernetes-validations (CEL) rules; weft checks the same, with the CRD's messages where it
// has one, so that what `kubectl apply` refuses weft refuses too.

// A string field's schema. Patterns match as Kubernetes matches them (Go regexp, unanchored
// unless written with ^ and $); lengths count characters.
struct StringSchema {
  size_t min = 0;
  size_t max = 0;  // 0: no maximum
  const RE2& (*pattern)() = nullptr;
};

#define WEFT_PATTERN(fn, text) \
  const RE2& fn() {            \
    static const RE2 re(text); \
    return re;                 \
  }
WEFT_PATTERN(DnsSubdomainRe, R"(^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)")
WEFT_PATTERN(GroupRe, R"(^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)")
WEFT_PATTERN(KindRe, R"(^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$)")
WEFT_PATTERN(DnsLabelRe, R"(^[a-z0-9]([-a-z0-9]*[a-z0-9])?$)")
WEFT_PATTERN(HostnameRe,
             R"(^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)")
WEFT_PATTERN(HeaderNameRe, R"(^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$)")
WEFT_PATTERN(
    ProtocolRe,
    R"(^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$)")
WEFT_PATTERN(
    AddressTypeRe,
    R"(^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$)")
WEFT_PATTERN(
    LabelKeyRe,
    R"(^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$)")
WEFT_PATTERN(LabelValueRe, R"(^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$)")
WEFT_PATTERN(PathCharsRe, R"(^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$)")
WEFT_PATTERN(TimeoutRe, R"(^([0-9]{1,5}(h|m|s|ms)){1,4}$)")
#undef WEFT_PATTERN

constexpr StringSchema kGroup{0, 253, GroupRe};
constexpr StringSchema kKind{1, 63, KindRe};
constexpr StringSchema kObjectName{1, 253};
constexpr StringSchema kNamespace{1, 63, DnsLabelRe};
constexpr StringSchema kSectionName{1, 253, DnsSubdomainRe};
constexpr StringSchema kHostname{1, 253, HostnameRe};  // wildcard "*." allowed
constexpr StringSchema kPreciseHostname{1, 253, DnsSubdomainRe};
constexpr StringSchema kHeaderName{1, 256, HeaderNameRe};
constexpr StringSchema kSubdomainName{1, 253, DnsSubdomainRe};

size_t CharCount(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// Checks `v` against its schema, reporting at (mark, path). False when it does not conform.
bool CheckString(DiagnosticSink& sink, yaml::Mark mark, const std::string& path,
                 const std::string& v, const StringSchema& s) {
  size_t n = CharCount(v);
  if (n < s.min) {
    sink.Error(code::kValue, mark, path,
               s.min == 1 ? std::string("must not be empty")
                          : "must be at least " + std::to_string(s.min) + " characters long");
    return false;
  }
  if (s.max && n > s.max) {
    sink.Error(code::kValue, mark, path,
               "must be at most " + std::to_string(s.max) + " characters long (is " +
                   std::to_string(n) + ")");
    return false;
  }
  if (s.pattern && !RE2::PartialMatch(v, s.pattern())) {
    sink.Error(code::kValue, mark, path,
               "invalid value \"" + v + "\": must match " + s.pattern().pattern());
    return false;
  }
  return true;
}

// A string field with its schema's checks. The value is returned even when it does not conform.
std::optional<std::string> Str(ObjectReader& r, std::string_view key, const StringSchema& s) {
  auto v = r.String(key);
  if (v) CheckString(r.sink(), r.MarkOf(key), r.Child(key), *v, s);
  return v;
}

// The number of items of a list field (0 when absent or not a list).
size_t ItemCount(const ObjectReader& r, std::string_view key) {
  auto n = r.node().IsMap() ? r.node().Find(key) : std::nullopt;
  return n && n->IsSeq() ? n->size() : 0;
}

// minItems / maxItems of a list field (maxItems 0: none).
void CheckItems(ObjectReader& r, std::string_view key, size_t min, size_t max) {
  auto n = r.node().IsMap() ? r.node().Find(key) : std::nullopt;
  if (!n || !n->IsSeq()) return;
  if (n->size() < min) {
    r.Error(code::kValue, key,
            min == 1 ? std::string("must have at least one item")
                     : "must have at least " + std::to_string(min) + " items");
  } else if (max && n->size() > max) {
    r.Error(code::kValue, key,
            "must have at most " + std::to_string(max) + " items (has " +
                std::to_string(n->size()) + ")");
  }
}

// maxProperties of a mapping field.
void CheckProperties(ObjectReader& r, std::string_view key, size_t max) {
  auto n = r.node().IsMap() ? r.node().Find(key) : std::nullopt;
  if (n && n->IsMap() && n->size() > max) {
    r.Error(code::kValue, key,
            "must have at most " + std::to_string(max) + " entries (has " +
                std::to_string(n->size()) + ")");
  }
}

// A list of strings, each checked against `item`; `set`: no value twice (x-kubernetes-list-type
// set).
std::optional<std::vector<std::string>> StrList(ObjectReader& r, std::string_view key,
                                                const StringSchema& item, size_t max_items,
                                                bool set) {
  CheckItems(r, key, 0, max_items);
  std::optional<std::vector<std::string>> out;
  if (r.Has(key)) out.emplace();
  r.List(key, [&](yaml::Node n, const std::string& path, size_t) {
    auto s = ScalarString(r.sink(), n, path);
    if (!s) return;
    CheckString(r.sink(), n.mark(), path, *s, item);
    if (set && std::find(out->begin(), out->end(), *s) != out->end()) {
      r.sink().Error(code::kConflict, n.mark(), path, "duplicate value \"" + *s + "\"");
    }
    out->push_back(std::move(*s));
  });
  return out;
}

// The keys of a list-map (x-kubernetes-list-type map): one item per key value.
class ListMapKeys {
 public:
  explicit ListMapKeys(std::string_view key) : key_(key) {}
  void Add(ObjectReader& item, const std::optional<std::string>& value) {
    if (!value) return;
    if (std::find(seen_.begin(), seen_.end(), *value) != seen_.end()) {
      item.Error(code::kConflict, key_,
                 "duplicate " + std::string(key_) + " \"" + *value + "\" in this list");
    }
    seen_.push_back(*value);
  }

 private:
  std::string_view key_;
  std::vector<std::string> seen_;
};

// The fields of Gateway API's object references (ParentReference, BackendObjectReference,
// SecretObjectReference, ObjectReference, LocalObjectReference, ...): the ones in `fields`,
// those in `required` required.
enum RefField : unsigned { kRefGroup = 1, kRefKind = 2, kRefName = 4, kRefNamespace = 8 };
struct RefValues {
  std::optional<std::string> group, kind, name, ns;
};
RefValues DecodeRef(ObjectReader& r, unsigned fields, unsigned required) {
  RefValues v;
  auto field = [&](RefField f, std::string_view key, const StringSchema& s,
                   std::optional<std::string>& out) {
    if (!(fields & f)) return;
    if (required & f) r.Require(key);
    out = Str(r, key, s);
  };
  field(kRefGroup, "group", kGroup, v.group);
  field(kRefKind, "kind", kKind, v.kind);
  field(kRefName, "name", kObjectName, v.name);
  field(kRefNamespace, "namespace", kNamespace, v.ns);
  return v;
}

// A string of a node (nullopt unless a scalar).
std::optional<std::string_view> ScalarAt(std::optional<yaml::Node> n) {
  if (!n || !n->IsScalar()) return std::nullopt;
  return n->scalar();
}
// A field of a mapping node that is present and not null.
std::optional<yaml::Node> FieldOf(std::optional<yaml::Node> n, std::string_view key) {
  if (!n || !n->IsMap()) return std::nullopt;
  auto v = n->Find(key);
  if (!v || v->IsNull()) return std::nullopt;
  return v;
}

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
    m.set_path_prefix(*value);
  } else {
    if (auto why = RegexError(*value)) {
      r.Error(code::kValue, "value", "invalid regular expression \"" + *value + "\": " + *why);
    }
    m.set_regex(*value);
  }
  return m;
}

// The CEL rules of an HTTPPathMatch of type Exact or PathPrefix (absent: PathPrefix "/").
void CheckPathMatch(ObjectReader& p) {
  auto type = ScalarAt(FieldOf(p.node(), "type")).value_or("PathPrefix");
  if (type != "Exact" && type != "PathPrefix") return;
  auto node = FieldOf(p.node(), "value");
  if (node && (!node->IsScalar() || !node->NonStringType().empty())) return;  // a type error
  std::string v = node ? std::string(node->scalar()) : "/";
  std::vector<std::string> why;
  if (!v.starts_with('/')) why.push_back("value must be an absolute path and start with '/'");
  for (std::string_view bad : {"//", "/./", "/../", "%2f", "%2F", "#"}) {
    if (v.find(bad) != std::string::npos) {
      why.push_back("must not contain '" + std::string(bad) + "'");
    }
  }
  for (std::string_view bad : {"/..", "/."}) {
    if (v.ends_with(bad)) why.push_back("must not end with '" + std::string(bad) + "'");
  }
  if (!RE2::FullMatch(v, PathCharsRe())) {
    why.push_back("must only contain valid characters (matching " + PathCharsRe().pattern() + ")");
  }
  for (auto& w : why) {
    p.Error(code::kValue, "value", w + " when type is one of ['Exact', 'PathPrefix']");
  }
}

void DecodeNameValueMatches(ObjectReader& r, std::string_view key, size_t value_max,
                            google::protobuf::RepeatedPtrField<pb::HeaderMatch>* out) {
  CheckItems(r, key, 0, 16);
  ListMapKeys names("name");
  r.ObjectList(key, [&](ObjectReader& h, size_t) {
    pb::HeaderMatch hm;
    h.Require("name");
    h.Require("value");
    auto name = Str(h, "name", kHeaderName);
    names.Add(h, name);
    if (name) hm.set_name(*name);
    Str(h, "value", {1, value_max});
    if (auto m = DecodeTypedMatch(h, {"Exact", "RegularExpression"}, "Exact")) {
      *hm.mutable_value() = *m;
    }
    out->Add(std::move(hm));
  });
}

void DecodeHeaderModifier(ObjectReader& r, pb::HeaderOperations* out) {
  auto pairs = [&](std::string_view key, google::protobuf::Map<std::string, std::string>* m) {
    CheckItems(r, key, 0, 16);
    ListMapKeys names("name");
    r.ObjectList(key, [&](ObjectReader& p, size_t) {
      p.Require("name");
      p.Require("value");
      auto name = Str(p, "name", kHeaderName);
      auto value = Str(p, "value", {1, 4096});
      names.Add(p, name);
      if (name && value) (*m)[*name] = *value;
    });
  };
  pairs("set", out->mutable_set());
  pairs("add", out->mutable_add());
  if (auto v = StrList(r, "remove", {}, 16, true)) {
    for (auto& s : *v) out->add_remove(s);
  }
}

HTTPRouteSpec::BackendRef DecodeBackendRef(ObjectReader& b) {
  HTTPRouteSpec::BackendRef ref;
  ref.pos = {b.node().mark(), b.path()};
  RefValues v = DecodeRef(b, kRefGroup | kRefKind | kRefName | kRefNamespace, kRefName);
  if (v.group) ref.group = *v.group;
  if (v.kind) ref.kind = *v.kind;
  if (v.name) ref.name = *v.name;
  if (v.ns) ref.ns = *v.ns;
  if (auto v = b.Port("port")) ref.port = *v;
  if (auto v = b.Int("weight", 0, 1'000'000)) ref.weight = static_cast<uint32_t>(*v);
  if (ref.kind == "Service" && ref.group.empty() && ref.port == 0) {
    b.Error(code::kMissingField, "port", "port is required when referring to a Service");
  }
  return ref;
}

void DecodePathModifier(ObjectReader& p, pb::Rewrite* rw, pb::Redirect* rd) {
  p.Require("type");
  auto type = p.Enum("type", {"ReplaceFullPath", "ReplacePrefixMatch"});
  auto full = Str(p, "replaceFullPath", {0, 1024});
  auto prefix = Str(p, "replacePrefixMatch", {0, 1024});
  std::string value = full ? *full : prefix.value_or("");
  if (type && *type == "ReplaceFullPath" && !full) {
    p.Error(code::kMissingField, "replaceFullPath",
            "replaceFullPath must be specified when type is set to 'ReplaceFullPath'");
  }
  if (type && *type == "ReplacePrefixMatch" && !prefix) {
    p.Error(code::kMissingField, "replacePrefixMatch",
            "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'");
  }
  if (type && full && *type != "ReplaceFullPath") {
    p.Error(code::kValue, "type", "type must be 'ReplaceFullPath' when replaceFullPath is set");
  }
  if (type && prefix && *type != "ReplacePrefixMatch") {
    p.Error(code::kValue, "type",
            "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set");
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

// A list of the CORS filter in which "*" must stand alone (the schema's CEL rule), a set (no
// value twice) of at most `max` items.
void CheckWildcardAlone(ObjectReader& c, std::string_view key,
                        const std::optional<std::vector<std::string>>& values, size_t max) {
  CheckItems(c, key, 0, max);
  if (values) {
    for (size_t i = 1; i < values->size(); ++i) {
      if (std::find(values->begin(), values->begin() + static_cast<std::ptrdiff_t>(i),
                    (*values)[i]) != values->begin() + static_cast<std::ptrdiff_t>(i)) {
        c.Error(code::kConflict, key, "duplicate value \"" + (*values)[i] + "\"");
      }
    }
  }
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
  CheckWildcardAlone(c, "allowOrigins", origins, 64);
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
    CheckWildcardAlone(c, "allowMethods", methods, 9);
  }
  for (std::string_view key : {"allowHeaders", "exposeHeaders"}) {
    auto headers = c.StringList(key);
    if (!headers) continue;
    for (const auto& h : *headers) {
      if (!IsHeaderName(h)) {
        c.Error(code::kValue, key, "invalid header name \"" + h + "\"");
      }
    }
    if (key == "allowHeaders") {
      CheckWildcardAlone(c, key, headers, 64);
    } else {
      CheckWildcardAlone(c, key, std::nullopt, 64);
      for (size_t i = 1; i < headers->size(); ++i) {
        if (std::find(headers->begin(), headers->begin() + static_cast<std::ptrdiff_t>(i),
                      (*headers)[i]) != headers->begin() + static_cast<std::ptrdiff_t>(i)) {
          c.Error(code::kConflict, key, "duplicate value \"" + (*headers)[i] + "\"");
        }
      }
    }
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
  f.Require("type");
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
    m.Require("backendRef");
    if (m.Has("percent") && m.Has("fraction")) {
      m.Error(code::kValue, "",
              "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter");
    }
    m.Object("backendRef", [&](ObjectReader& b) {
      HTTPRouteSpec::BackendRef ref = DecodeBackendRef(b);
      rule.mirrors.push_back(std::move(ref));
    });
    if (auto v = m.Int("percent", 0, 100)) pct = static_cast<double>(*v);
    m.Object("fraction", [&](ObjectReader& fr) {
      fr.Require("numerator");
      auto num = fr.Int("numerator", 0, INT32_MAX);
      auto den = fr.Int("denominator", 1, INT32_MAX).value_or(100);
      if (num && *num > den) {
        fr.Error(code::kValue, "", "numerator must be less than or equal to denominator");
      }
      if (num) pct = 100.0 * static_cast<double>(*num) / static_cast<double>(den);
    });
    pb::Mirror* mirror = rule.route.add_mirrors();
    mirror->set_percent(pct);
  });
  f.Object("requestRedirect", [&](ObjectReader& r) {
    auto* rd = rule.route.mutable_redirect();
    if (auto v = r.Enum("scheme", {"http", "https"})) rd->set_scheme(*v);
    if (auto v = Str(r, "hostname", kPreciseHostname)) rd->set_authority(*v);
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
    if (auto v = Str(r, "hostname", kPreciseHostname)) rw->set_authority(*v);
    r.Object("path", [&](ObjectReader& p) { DecodePathModifier(p, rw, nullptr); });
  });
  if (type && *type == "ExtensionRef") {
    f.Error(code::kUnsupported, "type", "ExtensionRef filters are not supported");
  }
  f.Object("extensionRef", [](ObjectReader& e) {
    unsigned all = kRefGroup | kRefKind | kRefName;
    DecodeRef(e, all, all);
  });
}

// The CEL rules of a list of filters (a rule's or a backendRef's): each type at most once
// (RequestMirror excepted), and not both RequestRedirect and URLRewrite.
void CheckFilterList(ObjectReader& owner) {
  CheckItems(owner, "filters", 0, 16);
  auto filters = FieldOf(owner.node(), "filters");
  if (!filters || !filters->IsSeq()) return;
  std::map<std::string, size_t, std::less<>> count;
  for (size_t i = 0; i < filters->size(); ++i) {
    if (auto t = ScalarAt(FieldOf(filters->item(i), "type"))) ++count[std::string(*t)];
  }
  if (count["RequestRedirect"] && count["URLRewrite"]) {
    owner.Error(code::kValue, "filters",
                "May specify either httpRouteFilterRequestRedirect or "
                "httpRouteFilterRequestRewrite, but not both");
  }
  for (std::string_view t : {"CORS", "RequestHeaderModifier", "ResponseHeaderModifier",
                             "RequestRedirect", "URLRewrite"}) {
    auto it = count.find(t);
    if (it != count.end() && it->second > 1) {
      owner.Error(code::kValue, "filters", std::string(t) + " filter cannot be repeated");
    }
  }
}

// The number of filters of `filters` whose `field` (requestRedirect or urlRewrite) replaces the
// matched prefix.
size_t PrefixReplacements(std::optional<yaml::Node> filters, std::string_view field) {
  if (!filters || !filters->IsSeq()) return 0;
  size_t n = 0;
  for (size_t i = 0; i < filters->size(); ++i) {
    auto path = FieldOf(FieldOf(filters->item(i), field), "path");
    if (ScalarAt(FieldOf(path, "type")) == "ReplacePrefixMatch" &&
        FieldOf(path, "replacePrefixMatch")) {
      ++n;
    }
  }
  return n;
}

// The CEL rules of an HTTPRouteRule that look at several of its fields.
void CheckRuleRules(ObjectReader& r) {
  yaml::Node rule = r.node();
  auto filters = FieldOf(rule, "filters");
  auto backends = FieldOf(rule, "backendRefs");
  bool has_backends = backends && backends->IsSeq() && backends->size() > 0;
  if (has_backends && filters && filters->IsSeq()) {
    for (size_t i = 0; i < filters->size(); ++i) {
      if (FieldOf(filters->item(i), "requestRedirect")) {
        r.Error(code::kValue, "",
                "RequestRedirect filter must not be used together with backendRefs");
        break;
      }
    }
  }
  // replacePrefixMatch needs exactly one match, of type PathPrefix (absent matches, path and
  // type default to that).
  bool one_prefix_match = true;
  if (auto matches = FieldOf(rule, "matches"); matches && matches->IsSeq()) {
    one_prefix_match = false;
    if (matches->size() == 1) {
      auto type = ScalarAt(FieldOf(FieldOf(matches->item(0), "path"), "type"));
      one_prefix_match = !type || *type == "PathPrefix";
    }
  }
  if (one_prefix_match) return;
  for (auto [field, name] :
       {std::pair{"requestRedirect", "RequestRedirect"}, std::pair{"urlRewrite", "URLRewrite"}}) {
    if (PrefixReplacements(filters, field) == 1) {
      r.Error(code::kValue, "",
              std::string("When using ") + name +
                  " filter with path.replacePrefixMatch, exactly one PathPrefix match must be "
                  "specified");
    }
    size_t backends_with = 0;
    for (size_t i = 0; has_backends && i < backends->size(); ++i) {
      if (PrefixReplacements(FieldOf(backends->item(i), "filters"), field) == 1) ++backends_with;
    }
    if (backends_with == 1) {
      r.Error(code::kValue, "",
              std::string("Within backendRefs, ") +
                  (field == std::string_view("urlRewrite") ? "When" : "when") + " using " + name +
                  " filter with path.replacePrefixMatch, exactly one PathPrefix match must be "
                  "specified");
    }
  }
}

// The CEL rules of HTTPRoute's parentRefs: references to one parent (group, kind, namespace,
// name, with their defaults) either all name a sectionName or none does, and no two name the
// same one.
void CheckParentRefs(ObjectReader& spec) {
  auto refs = FieldOf(spec.node(), "parentRefs");
  if (!refs || !refs->IsSeq()) return;
  struct Ref {
    std::string parent, section;
  };
  std::vector<Ref> all;
  for (size_t i = 0; i < refs->size(); ++i) {
    yaml::Node p = refs->item(i);
    auto get = [&](std::string_view key, std::string_view def) {
      auto v = FieldOf(p, key);
      return std::string(v ? ScalarAt(v).value_or("") : def);
    };
    all.push_back({get("group", "gateway.networking.k8s.io") + "\n" + get("kind", "Gateway") +
                       "\n" + get("namespace", "") + "\n" + get("name", ""),
                   get("sectionName", "")});
  }
  bool mixed = false, duplicate = false;
  for (const auto& a : all) {
    size_t same = 0;
    for (const auto& b : all) {
      if (a.parent != b.parent) continue;
      if (a.section.empty() != b.section.empty()) mixed = true;
      if (a.section == b.section) ++same;
    }
    if (same != 1) duplicate = true;
  }
  if (mixed) {
    spec.Error(code::kValue, "parentRefs",
               "sectionName must be specified when parentRefs includes 2 or more references to "
               "the same parent");
  }
  if (duplicate) {
    spec.Error(code::kConflict, "parentRefs",
               "sectionName must be unique when parentRefs includes 2 or more references to the "
               "same parent");
  }
}

}  // namespace

void DecodeHTTPRoute(ObjectReader& root, HTTPRouteSpec& out) {
  if (!root.Require("spec")) return;
  root.Object("spec", [&](ObjectReader& spec) {
    CheckItems(spec, "parentRefs", 0, 32);
    spec.ObjectList("parentRefs", [&](ObjectReader& p, size_t) {
      HTTPRouteSpec::ParentRef ref;
      ref.pos = {p.node().mark(), p.path()};
      RefValues v = DecodeRef(p, kRefGroup | kRefKind | kRefName | kRefNamespace, kRefName);
      if (v.group) ref.group = *v.group;
      if (v.kind) ref.kind = *v.kind;
      if (v.name) ref.name = *v.name;
      if (v.ns) ref.ns = *v.ns;
      if (auto port = p.Port("port")) ref.port = *port;
      Str(p, "sectionName", kSectionName);
      p.Unsupported("sectionName");
      out.parents.push_back(std::move(ref));
    });
    CheckParentRefs(spec);
    if (spec.Has("hostnames")) {
      out.hostnames_pos = {spec.Raw("hostnames")->mark(), spec.Child("hostnames")};
    }
    if (auto v = StrList(spec, "hostnames", kHostname, 16, false)) out.hostnames = *v;
    CheckItems(spec, "rules", 1, 16);
    if (auto rules = FieldOf(spec.node(), "rules"); rules && rules->IsSeq()) {
      size_t total = 0;  // absent matches default to one
      for (size_t i = 0; i < rules->size(); ++i) {
        auto m = FieldOf(rules->item(i), "matches");
        total += m ? m->size() : 1;
      }
      if (total > 128) {
        spec.Error(code::kValue, "rules",
                   "While 16 rules and 64 matches per rule are allowed, the total number of "
                   "matches across all rules in a route must be less than 128 (has " +
                       std::to_string(total) + ")");
      }
    }
    spec.ObjectList("rules", [&](ObjectReader& r, size_t) {
      CheckRuleRules(r);
      HTTPRouteSpec::Rule rule;
      rule.pos = {r.node().mark(), r.path()};
      auto* src = rule.route.mutable_source();
      src->set_field(r.path());
      src->set_line(r.node().mark().line);
      src->set_column(r.node().mark().column);
      if (auto v = Str(r, "name", kSubdomainName)) rule.route.set_name(*v);
      CheckItems(r, "matches", 0, 64);
      r.ObjectList("matches", [&](ObjectReader& m, size_t) {
        pb::HttpMatch* hm = rule.route.add_matches();
        m.Object("path", [&](ObjectReader& p) {
          Str(p, "value", {0, 1024});
          CheckPathMatch(p);
          if (auto sm = DecodeTypedMatch(p, {"Exact", "PathPrefix", "RegularExpression"},
                                         "PathPrefix", "/")) {
            *hm->mutable_uri() = *sm;
          }
        });
        DecodeNameValueMatches(m, "headers", 4096, hm->mutable_headers());
        DecodeNameValueMatches(m, "queryParams", 1024, hm->mutable_query_params());
        if (auto v = m.Enum("method", {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                                       "TRACE", "PATCH"})) {
          hm->mutable_method()->set_exact(*v);
        }
      });
      CheckFilterList(r);
      r.ObjectList("filters", [&](ObjectReader& f, size_t) {
        DecodeFilter(f, rule, rule.route.mutable_request_headers(),
                     rule.route.mutable_response_headers(), false);
      });
      CheckItems(r, "backendRefs", 0, 16);
      r.ObjectList("backendRefs", [&](ObjectReader& b, size_t) {
        HTTPRouteSpec::BackendRef ref;
        CheckFilterList(b);
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
        for (std::string_view key : {"request", "backendRequest"}) {
          auto n = FieldOf(t.node(), key);
          std::string why;
          if (n && n->IsScalar() && n->NonStringType().empty() &&
              ParseDuration(n->scalar(), &why) && !RE2::PartialMatch(n->scalar(), TimeoutRe())) {
            t.Error(code::kValue, key,
                    "invalid duration \"" + std::string(n->scalar()) +
                        "\": Gateway API durations are 1 to 4 of <0-99999><h|m|s|ms>, e.g. 1m30s "
                        "or 500ms");
          }
        }
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

// A Kubernetes LabelSelector with matchExpressions, as Gateway API allowedRoutes uses it. The
// CRD checks only the types; `evaluated` (a selector weft evaluates) refuses, as Kubernetes'
// LabelSelectorAsSelector does, an operator other than In, NotIn, Exists and DoesNotExist, In
// and NotIn without values, and Exists and DoesNotExist with values: no controller can
// evaluate those.
std::optional<LabelSelector> DecodeFullLabelSelector(ObjectReader& parent, std::string_view key,
                                                     bool evaluated = true) {
  std::optional<LabelSelector> out;
  parent.Object(key, [&](ObjectReader& sel) {
    LabelSelector ls;
    if (auto v = sel.StringMap("matchLabels")) ls.match_labels = std::move(*v);
    sel.ObjectList("matchExpressions", [&](ObjectReader& e, size_t) {
      LabelSelector::Requirement req;
      e.Require("key");
      e.Require("operator");
      if (auto v = e.String("key")) req.key = *v;
      if (!evaluated) {
        e.String("operator");
        e.StringList("values");
        return;
      }
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

// Label or annotation keys and values of spec.infrastructure, as the CRD's rules check them.
void CheckInfrastructureMap(ObjectReader& i, std::string_view key, size_t max_entries,
                            const StringSchema& value, std::string_view what) {
  CheckProperties(i, key, max_entries);
  auto n = FieldOf(i.node(), key);
  if (!n || !n->IsMap()) return;
  for (size_t k = 0; k < n->size(); ++k) {
    if (!n->key(k).IsScalar()) continue;
    std::string name(n->key(k).scalar());
    std::string path = i.Child(key) + "." + name;
    if (!RE2::FullMatch(name, LabelKeyRe())) {
      i.sink().Error(code::kValue, n->key(k).mark(), path,
                     std::string(what) +
                         " keys must be in the form of an optional DNS subdomain prefix "
                         "followed by a required name segment of up to 63 characters.");
    } else if (name.substr(0, name.find('/')).size() >= 253) {
      i.sink().Error(code::kValue, n->key(k).mark(), path,
                     "If specified, the " + std::string(what == "Label" ? "label" : "annotation") +
                         " key's prefix must be a DNS subdomain not longer than 253 characters "
                         "in total.");
    }
    yaml::Node v = n->value(k);
    if (v.IsScalar() && v.NonStringType().empty()) {
      CheckString(i.sink(), v.mark(), path, std::string(v.scalar()), value);
    }
  }
}

// GatewayTLSConfig / TLSConfig of spec.tls.frontend (known, not used).
void DecodeFrontendTlsConfig(ObjectReader& c) {
  c.Object("validation", [](ObjectReader& v) {
    v.Require("caCertificateRefs");
    CheckItems(v, "caCertificateRefs", 1, 16);
    v.ObjectList("caCertificateRefs", [](ObjectReader& r, size_t) {
      DecodeRef(r, kRefGroup | kRefKind | kRefName | kRefNamespace,
                kRefGroup | kRefKind | kRefName);
    });
    v.Enum("mode", {"AllowValidOnly", "AllowInsecureFallback"});
  });
}

// spec.tls (Gateway-level TLS, v1.4+): validated as the CRD does, then ignored with a warning.
void DecodeGatewayTls(ObjectReader& t) {
  t.Object("frontend", [](ObjectReader& f) {
    f.Require("default");
    f.Object("default", [](ObjectReader& d) { DecodeFrontendTlsConfig(d); });
    CheckItems(f, "perPort", 0, 64);
    std::vector<int64_t> ports;
    f.ObjectList("perPort", [&](ObjectReader& pp, size_t) {
      pp.Require("port");
      pp.Require("tls");
      if (auto port = pp.Port("port")) {
        if (std::find(ports.begin(), ports.end(), *port) != ports.end()) {
          pp.Error(code::kConflict, "port",
                   "Port for TLS configuration must be unique within the Gateway");
        }
        ports.push_back(*port);
      }
      pp.Object("tls", [](ObjectReader& c) { DecodeFrontendTlsConfig(c); });
    });
  });
  t.Object("backend", [](ObjectReader& b) {
    b.Object("clientCertificateRef", [](ObjectReader& c) {
      DecodeRef(c, kRefGroup | kRefKind | kRefName | kRefNamespace, kRefName);
    });
  });
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
    if (auto v = Str(spec, "gatewayClassName", {1, 253})) out.gateway_class = *v;
    out.waypoint = IsWaypointClass(out.gateway_class);

    // Listeners, with where their port and protocol were written (for the waypoint checks).
    struct Where {
      FieldPos port, protocol;
      bool has_hostname = false;
    };
    std::vector<Where> where;
    spec.Require("listeners");
    spec.ObjectList("listeners", [&](ObjectReader& l, size_t) {
      GatewaySpec::Listener listener;
      listener.pos = {l.node().mark(), l.path()};
      l.Require("name");
      l.Require("port");
      l.Require("protocol");
      if (auto v = Str(l, "name", kSubdomainName)) {
        listener.name = *v;
        for (const auto& other : out.listeners) {
          if (other.name == *v) {
            l.Error(code::kConflict, "name", "duplicate listener name \"" + *v + "\"");
          }
        }
      }
      Where w{PosOf(l, "port"), PosOf(l, "protocol"), l.Has("hostname")};
      if (auto v = Str(l, "hostname", kHostname)) listener.hostname = *v;
      if (auto v = l.Port("port")) listener.port = *v;
      if (auto v = Str(l, "protocol", {1, 255, ProtocolRe})) listener.protocol = *v;
      const std::string& protocol = listener.protocol;
      bool plain = protocol == "HTTP" || protocol == "TCP" || protocol == "UDP";
      // The CRD's CEL rules on a listener's protocol, hostname and tls.
      if (plain && l.Has("tls")) {
        l.Error(code::kValue, "tls",
                "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']");
      }
      if (protocol == "TLS" && !l.Has("tls")) {
        l.Error(code::kMissingField, "tls", "tls mode must be set for protocol TLS");
      }
      if ((protocol == "TCP" || protocol == "UDP") && l.Has("hostname")) {
        l.Error(code::kValue, "hostname",
                "hostname must not be specified for protocols ['TCP', 'UDP']");
      }
      l.Object("tls", [&](ObjectReader& t) {
        listener.has_tls = true;
        auto mode = t.Enum("mode", {"Terminate", "Passthrough"});
        if (!t.Has("mode")) mode = "Terminate";  // the default
        if (protocol == "HTTPS" && mode && *mode != "Terminate") {
          t.Error(code::kValue, "mode", "tls mode must be Terminate for protocol HTTPS");
        }
        CheckItems(t, "certificateRefs", 0, 64);
        size_t refs = ItemCount(t, "certificateRefs");
        t.ObjectList("certificateRefs", [&](ObjectReader& c, size_t) {
          DecodeRef(c, kRefGroup | kRefKind | kRefName | kRefNamespace, kRefName);
        });
        CheckProperties(t, "options", 16);
        auto options = t.StringMap("options");
        for (const auto& [k, v] : options ? *options : std::map<std::string, std::string>{}) {
          CheckString(t.sink(), t.MarkOf("options"), t.Child("options") + "." + k, v, {0, 4096});
        }
        if (mode && *mode == "Terminate" && refs == 0 && (!options || options->empty())) {
          t.Error(code::kMissingField, "certificateRefs",
                  "certificateRefs or options must be specified when mode is Terminate");
        }
        t.Unsupported("frontendValidation");
      });
      l.Object("allowedRoutes", [&](ObjectReader& a) {
        a.Object("namespaces", [&](ObjectReader& n) {
          if (auto v = n.Enum("from", {"All", "Selector", "Same"})) listener.routes_from = *v;
          listener.routes_selector = DecodeFullLabelSelector(n, "selector");
          if (listener.routes_from == "Selector" && !listener.routes_selector) {
            // Kubernetes reads a missing selector as one that selects nothing.
            n.Warning(code::kMissingField, "selector",
                      "from: Selector without a selector admits routes from no namespace");
          }
        });
        CheckItems(a, "kinds", 0, 8);
        a.ObjectList("kinds", [&](ObjectReader& k, size_t) {
          DecodeRef(k, kRefGroup | kRefKind, kRefKind);
        });
      });
      for (size_t i = 0; i < out.listeners.size(); ++i) {
        const auto& o = out.listeners[i];
        if (o.port == listener.port && o.protocol == listener.protocol &&
            where[i].has_hostname == w.has_hostname && o.hostname == listener.hostname &&
            l.Has("port") && l.Has("protocol")) {
          l.Error(code::kConflict, "",
                  "Combination of port, protocol and hostname must be unique for each listener "
                  "(as listener \"" +
                      o.name + "\")");
          break;
        }
      }
      out.listeners.push_back(std::move(listener));
      where.push_back(std::move(w));
    });
    if (spec.Has("listeners") && out.listeners.empty()) {
      spec.Error(code::kValue, "listeners", "at least one listener is required");
    } else if (out.listeners.size() > 64) {
      spec.Error(code::kValue, "listeners", "at most 64 listeners are allowed");
    }

    CheckItems(spec, "addresses", 0, 16);
    std::vector<std::pair<std::string, std::string>> unique_addresses;
    spec.ObjectList("addresses", [&](ObjectReader& a, size_t) {
      GatewaySpec::Address addr;
      if (auto v = a.String("type")) {
        addr.type = *v;
        if (!CheckString(a.sink(), a.MarkOf("type"), a.Child("type"), *v,
                         {1, 253, AddressTypeRe})) {
          addr.type.clear();
        }
      }
      auto value = Str(a, "value", {0, 253});
      if (value) addr.value = *value;
      if (value && addr.type == "IPAddress" && !IsIpAddress(addr.value)) {
        a.Error(code::kValue, "value", "invalid IP address \"" + addr.value + "\"");
      } else if (value && addr.type == "Hostname" && !RE2::FullMatch(addr.value, HostnameRe())) {
        a.Error(code::kValue, "value",
                "Hostname value must be empty or contain only valid characters (matching " +
                    HostnameRe().pattern() + "), got \"" + addr.value + "\"");
      }
      if (value && (addr.type == "IPAddress" || addr.type == "Hostname")) {
        std::pair<std::string, std::string> key{addr.type, addr.value};
        if (std::find(unique_addresses.begin(), unique_addresses.end(), key) !=
            unique_addresses.end()) {
          a.Error(code::kConflict, "value", addr.type + " values must be unique");
        }
        unique_addresses.push_back(std::move(key));
      }
      out.addresses.push_back(std::move(addr));
    });
    bool has_parameters_ref = false;
    spec.Object("infrastructure", [&](ObjectReader& i) {
      CheckInfrastructureMap(i, "labels", 8, {0, 63, LabelValueRe}, "Label");
      CheckInfrastructureMap(i, "annotations", 16, {0, 4096}, "Annotation");
      if (auto v = i.StringMap("labels")) out.infrastructure_labels = std::move(*v);
      if (auto v = i.StringMap("annotations")) out.infrastructure_annotations = std::move(*v);
      i.Object("parametersRef", [&](ObjectReader& p) {
        has_parameters_ref = true;
        unsigned all = kRefGroup | kRefKind | kRefName;
        DecodeRef(p, all, all);
      });
    });
    // Newer fields (ListenerSets, Gateway-level TLS, default Gateways): known, not used, but
    // validated as the CRD does.
    spec.Object("allowedListeners", [](ObjectReader& al) {
      al.Object("namespaces", [](ObjectReader& n) {
        n.Enum("from", {"All", "Selector", "Same", "None"});
        DecodeFullLabelSelector(n, "selector", /*evaluated=*/false);
      });
    });
    spec.Object("tls", [](ObjectReader& t) { DecodeGatewayTls(t); });
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
