#include "core/authz/l7_authorizer.h"

#include <algorithm>
#include <charconv>
#include <optional>

namespace weft::authz {

namespace {

constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";
constexpr std::string_view kIstioGroup = "networking.istio.io";

// The attribute one test reads. The order is the evaluation order inside a rule: integer and
// address compares first, string matches last, headers (a scan) at the end.
enum class Attr : uint8_t {
  kDestPort,
  kDestIp,
  kSourceIp,
  kRemoteIp,
  kMethod,
  kNamespace,
  kPrincipal,
  kTrustDomain,
  kHost,
  kPath,
  kSni,
  kHeader,
};

bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         http::EqualsIgnoreCase(s.substr(s.size() - suffix.size()), suffix);
}

struct StrMatch {
  enum class Kind : uint8_t { kExact, kPrefix, kSuffix, kPresence };
  Kind kind;
  std::string value;
  bool ignore_case = false;  // hosts (Istio HostMatcher sets IgnoreCase)

  bool Matches(std::string_view s) const {
    switch (kind) {
      case Kind::kExact:
        return ignore_case ? http::EqualsIgnoreCase(s, value) : s == value;
      case Kind::kPrefix:
        return ignore_case ? s.size() >= value.size() &&
                                 http::EqualsIgnoreCase(s.substr(0, value.size()), value)
                           : s.starts_with(value);
      case Kind::kSuffix:
        return ignore_case ? EndsWithIgnoreCase(s, value) : s.ends_with(value);
      case Kind::kPresence:
        // Istio compiles "*" to the regex ".+" (or a present_match on a header, which the
        // header test handles before calling this).
        return !s.empty();
    }
    return false;
  }
};

// Istio's string forms for fields the snapshot keeps as plain strings (methods): "*" present,
// "x*" prefix, "*x" suffix, else exact (matcher.StringMatcher / HeaderMatcher).
StrMatch FromIstioString(const std::string& s) {
  if (s == "*") return {StrMatch::Kind::kPresence, {}};
  if (s.size() > 1 && s.back() == '*') return {StrMatch::Kind::kPrefix, s.substr(0, s.size() - 1)};
  if (s.size() > 1 && s.front() == '*') return {StrMatch::Kind::kSuffix, s.substr(1)};
  return {StrMatch::Kind::kExact, s};
}

// One clause of a rule: `paths`, `notHosts`, one `when` condition's values, ...
// Positive (negate = false): holds when some value matches. Negative: holds when none does.
// A clause whose every value was invalid still exists (it holds for a negative clause only),
// so dropping a bad value can never turn a clause into "not written".
struct Test {
  Test(Attr a, bool n) : attr(a), negate(n) {}
  Attr attr;
  bool negate = false;
  bool always = false;  // an invalid or unenforceable value compiled fail-closed as "matches"
  std::vector<uint16_t> ports;
  std::vector<Cidr> cidrs;
  std::vector<StrMatch> strings;
  std::string header;  // kHeader: the lowercase name
};

struct Rule {
  int rule_index = 0;
  std::vector<Test> tests;  // ANDed; none = the rule matches everything
};

}  // namespace

struct L7Authorizer::Policy {
  std::string key;     // "<ns>/<name>"
  uint32_t order = 0;  // position in snapshot.authorization_policies
  const pb::AuthorizationPolicy* source = nullptr;
  bool deny = false;
  bool on_waypoint = false;  // a targetRef to this waypoint (or its GatewayClass)
  // Service and ServiceEntry targets, as (kind, name) in the policy's namespace.
  std::vector<std::pair<pb::ServiceKind, std::string>> services;
  std::vector<Rule> rules;  // ORed; none = matches nothing
};

struct L7Authorizer::Request {
  uint32_t port;
  IpAddress src;
  IpAddress remote;
  IpAddress dst;
  bool has_identity;
  std::string_view principal;
  std::string_view ns;
  std::string_view trust_domain;
  std::string_view method;
  std::string_view path;       // without query and fragment
  std::string_view full_path;  // as received
  std::string_view host;
  const http::HeaderMap* headers;
};

namespace {

using Request = L7Authorizer::Request;

// A request header as Envoy's header matcher sees it: Host is :authority, the request line's
// pseudo-headers are readable, several fields are joined with "," (into `scratch`).
std::optional<std::string_view> HeaderValue(const Request& r, std::string_view name,
                                            std::string& scratch) {
  if (name == ":authority" || name == "host") {
    if (r.host.empty()) return std::nullopt;
    return r.host;
  }
  if (name == ":method") return r.method;
  if (name == ":path") return r.full_path;
  if (!r.headers || name.starts_with(':')) return std::nullopt;
  std::optional<std::string_view> first;
  bool joined = false;
  for (const auto& f : *r.headers) {
    if (!http::EqualsIgnoreCase(f.name, name)) continue;
    if (!first) {
      first = f.value;
      continue;
    }
    if (!joined) {
      scratch.assign(first->data(), first->size());
      joined = true;
    }
    scratch += ',';
    scratch += f.value;
  }
  if (joined) return std::string_view(scratch);
  return first;
}

bool AnyString(const Test& t, std::string_view s) {
  for (const StrMatch& m : t.strings) {
    if (m.Matches(s)) return true;
  }
  return false;
}

bool AnyCidr(const Test& t, const IpAddress& ip) {
  for (const Cidr& c : t.cidrs) {
    if (c.Contains(ip)) return true;
  }
  return false;
}

bool AnyMatch(const Test& t, const Request& r, std::string& scratch) {
  if (t.always) return true;
  switch (t.attr) {
    case Attr::kDestPort:
      for (uint16_t port : t.ports) {
        if (port == r.port) return true;
      }
      return false;
    case Attr::kDestIp:
      return AnyCidr(t, r.dst);
    case Attr::kSourceIp:
      return AnyCidr(t, r.src);
    case Attr::kRemoteIp:
      return AnyCidr(t, r.remote);
    case Attr::kMethod:
      return AnyString(t, r.method);
    case Attr::kNamespace:
      // No identity: no value matches (not even "*"), and a negative clause holds.
      return r.has_identity && AnyString(t, r.ns);
    case Attr::kPrincipal:
      return r.has_identity && AnyString(t, r.principal);
    case Attr::kTrustDomain:
      return r.has_identity && AnyString(t, r.trust_domain);
    case Attr::kHost:
      return AnyString(t, r.host);
    case Attr::kPath:
      return AnyString(t, r.path);
    case Attr::kSni:
      return AnyString(t, std::string_view());  // no SNI on the mesh's HBONE path
    case Attr::kHeader: {
      std::optional<std::string_view> v = HeaderValue(r, t.header, scratch);
      if (!v) return false;  // missing: no value matches (Envoy header matcher)
      for (const StrMatch& m : t.strings) {
        // "*" is Envoy's present_match: any value, even empty.
        if (m.kind == StrMatch::Kind::kPresence || m.Matches(*v)) return true;
      }
      return false;
    }
  }
  return false;
}

bool RuleMatches(const Rule& rule, const Request& r, std::string& scratch) {
  for (const Test& t : rule.tests) {
    if (AnyMatch(t, r, scratch) == t.negate) return false;
  }
  return true;
}

const Rule* FirstMatch(const std::vector<Rule>& rules, const Request& r, std::string& scratch) {
  for (const Rule& rule : rules) {
    if (RuleMatches(rule, r, scratch)) return &rule;
  }
  return nullptr;
}

// Builds the tests of one policy; invalid and unenforceable values are compiled fail closed
// for its action, as in the L4 authorizer.
class RuleBuilder {
 public:
  RuleBuilder(bool deny, size_t* invalid, size_t* unenforceable)
      : deny_(deny), invalid_(invalid), unenforceable_(unenforceable) {}

  void Strings(std::vector<Test>& out, Attr attr, bool negate,
               const google::protobuf::RepeatedPtrField<pb::StringMatch>& in,
               bool ignore_case = false) {
    if (in.empty()) return;
    Test t{attr, negate};
    for (const auto& m : in) {
      switch (m.kind_case()) {
        case pb::StringMatch::kExact:
          t.strings.push_back({StrMatch::Kind::kExact, m.exact(), ignore_case});
          break;
        case pb::StringMatch::kPrefix:
          t.strings.push_back({StrMatch::Kind::kPrefix, m.prefix(), ignore_case});
          break;
        case pb::StringMatch::kSuffix:
          t.strings.push_back({StrMatch::Kind::kSuffix, m.suffix(), ignore_case});
          break;
        case pb::StringMatch::kPresence:
          t.strings.push_back({StrMatch::Kind::kPresence, {}, false});
          break;
        default:
          Invalid(t);
          break;
      }
    }
    out.push_back(std::move(t));
  }

  void Methods(std::vector<Test>& out, bool negate,
               const google::protobuf::RepeatedPtrField<std::string>& in) {
    if (in.empty()) return;
    Test t{Attr::kMethod, negate};
    for (const auto& m : in) t.strings.push_back(FromIstioString(m));
    out.push_back(std::move(t));
  }

  void Blocks(std::vector<Test>& out, Attr attr, bool negate,
              const google::protobuf::RepeatedPtrField<std::string>& in) {
    if (in.empty()) return;
    Test t{attr, negate};
    for (const auto& s : in) AddCidr(t, s);
    out.push_back(std::move(t));
  }

  void Ports(std::vector<Test>& out, bool negate,
             const google::protobuf::RepeatedField<uint32_t>& in) {
    if (in.empty()) return;
    Test t{Attr::kDestPort, negate};
    for (uint32_t p : in) AddPort(t, p);
    out.push_back(std::move(t));
  }

  // A clause the waypoint cannot evaluate (requestPrincipals, request.auth.*): under ALLOW it
  // never holds, under DENY it always holds, for a positive and a negative clause alike.
  void Unenforceable(std::vector<Test>& out, bool negate) {
    ++*unenforceable_;
    Test t{Attr::kDestPort, negate};
    // Positive: "matches" (DENY) or "matches nothing" (ALLOW); negative: the reverse, so that
    // after negation DENY holds and ALLOW does not.
    if (deny_ != negate) t.always = true;
    out.push_back(std::move(t));
  }

  // A `when` condition: values and notValues are two clauses over the same key.
  void Condition(std::vector<Test>& out, const pb::Condition& c) {
    const std::string& key = c.key();
    Attr attr;
    std::string header;
    if (key == "source.principal") {
      attr = Attr::kPrincipal;
    } else if (key == "source.namespace") {
      attr = Attr::kNamespace;
    } else if (key == "source.trustDomain") {
      attr = Attr::kTrustDomain;
    } else if (key == "source.ip") {
      attr = Attr::kSourceIp;
    } else if (key == "remote.ip") {
      attr = Attr::kRemoteIp;
    } else if (key == "destination.ip") {
      attr = Attr::kDestIp;
    } else if (key == "destination.port") {
      attr = Attr::kDestPort;
    } else if (key == "connection.sni") {
      attr = Attr::kSni;
    } else if (key.starts_with("request.headers[")) {
      // Istio extractNameInBrackets: "request.headers[<name>]", one non-empty name.
      std::string_view rest = std::string_view(key).substr(16);
      if (rest.size() < 2 || !rest.ends_with(']') ||
          rest.substr(0, rest.size() - 1).find_first_of("[]") != std::string_view::npos) {
        for (bool negate : {false, true}) {
          if ((negate ? c.not_values() : c.values()).empty()) continue;
          Test t{Attr::kHeader, negate};
          Invalid(t);
          out.push_back(std::move(t));
        }
        return;
      }
      attr = Attr::kHeader;
      header = http::ToLower(rest.substr(0, rest.size() - 1));
    } else {
      // request.auth.principal/audiences/presenter/claims[...] (no JWT support),
      // experimental.envoy.filters.*, or a key the compiler would have refused.
      if (!c.values().empty()) Unenforceable(out, false);
      if (!c.not_values().empty()) Unenforceable(out, true);
      return;
    }
    if (attr == Attr::kPrincipal || attr == Attr::kNamespace || attr == Attr::kTrustDomain ||
        attr == Attr::kSni || attr == Attr::kHeader) {
      size_t before = out.size();
      Strings(out, attr, false, c.values());
      Strings(out, attr, true, c.not_values());
      for (size_t i = before; i < out.size(); ++i) out[i].header = header;
      return;
    }
    for (bool negate : {false, true}) {
      const auto& values = negate ? c.not_values() : c.values();
      if (values.empty()) continue;
      Test t{attr, negate};
      for (const auto& v : values) {
        // Addresses and ports are written as plain values; "*", "x*" and "*x" are not valid
        // for them in Istio.
        if (v.kind_case() != pb::StringMatch::kExact) {
          Invalid(t);
        } else if (attr == Attr::kDestPort) {
          uint32_t port = 0;
          const std::string& s = v.exact();
          auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
          if (ec != std::errc() || end != s.data() + s.size()) {
            Invalid(t);
          } else {
            AddPort(t, port);
          }
        } else {
          AddCidr(t, v.exact());
        }
      }
      out.push_back(std::move(t));
    }
  }

 private:
  // A value that cannot be evaluated. Fail closed: in an ALLOW policy the clause must match
  // less, in a DENY policy more. Positive clause: DENY -> matches anything, ALLOW -> the value
  // is dropped. Negative clause: the reverse.
  void Invalid(Test& t) {
    ++*invalid_;
    if (deny_ != t.negate) t.always = true;
  }
  void AddCidr(Test& t, const std::string& s) {
    if (auto c = Cidr::Parse(s)) {
      t.cidrs.push_back(*c);
    } else {
      Invalid(t);
    }
  }
  void AddPort(Test& t, uint32_t p) {
    if (p == 0 || p > 65535) {
      Invalid(t);
    } else {
      t.ports.push_back(static_cast<uint16_t>(p));
    }
  }

  bool deny_;
  size_t* invalid_;
  size_t* unenforceable_;
};

Rule CompileRule(const pb::AuthorizationRule& in, bool deny, size_t* invalid,
                 size_t* unenforceable) {
  Rule r;
  r.rule_index = static_cast<int>(in.rule_index());
  RuleBuilder b(deny, invalid, unenforceable);
  b.Strings(r.tests, Attr::kPrincipal, false, in.principals());
  b.Strings(r.tests, Attr::kPrincipal, true, in.not_principals());
  b.Strings(r.tests, Attr::kTrustDomain, false, in.trust_domains());
  b.Strings(r.tests, Attr::kTrustDomain, true, in.not_trust_domains());
  b.Strings(r.tests, Attr::kNamespace, false, in.namespaces());
  b.Strings(r.tests, Attr::kNamespace, true, in.not_namespaces());
  b.Blocks(r.tests, Attr::kSourceIp, false, in.ip_blocks());
  b.Blocks(r.tests, Attr::kSourceIp, true, in.not_ip_blocks());
  b.Blocks(r.tests, Attr::kRemoteIp, false, in.remote_ip_blocks());
  b.Blocks(r.tests, Attr::kRemoteIp, true, in.not_remote_ip_blocks());
  if (!in.request_principals().empty()) b.Unenforceable(r.tests, false);
  if (!in.not_request_principals().empty()) b.Unenforceable(r.tests, true);
  // Istio HostMatcher: case-insensitive; the :authority as sent (with its port, if any).
  b.Strings(r.tests, Attr::kHost, false, in.hosts(), /*ignore_case=*/true);
  b.Strings(r.tests, Attr::kHost, true, in.not_hosts(), /*ignore_case=*/true);
  b.Ports(r.tests, false, in.ports());
  b.Ports(r.tests, true, in.not_ports());
  b.Methods(r.tests, false, in.methods());
  b.Methods(r.tests, true, in.not_methods());
  b.Strings(r.tests, Attr::kPath, false, in.paths());
  b.Strings(r.tests, Attr::kPath, true, in.not_paths());
  for (const auto& c : in.conditions()) b.Condition(r.tests, c);
  std::stable_sort(r.tests.begin(), r.tests.end(),
                   [](const Test& a, const Test& b) { return a.attr < b.attr; });
  return r;
}

// Kubernetes canonical group: "" and "core" are the core group (Istio config.CanonicalGroup).
bool IsCoreGroup(std::string_view g) {
  return g.empty() || g == "core";
}

}  // namespace

L7Authorizer::L7Authorizer(std::shared_ptr<const pb::MeshSnapshot> snapshot,
                           std::string waypoint_namespace, std::string waypoint_name)
    : snapshot_(std::move(snapshot)),
      waypoint_ns_(std::move(waypoint_namespace)),
      waypoint_name_(std::move(waypoint_name)) {
  const std::string root = snapshot_->settings().root_namespace().empty()
                               ? std::string("istio-system")
                               : snapshot_->settings().root_namespace();
  const auto& aps = snapshot_->authorization_policies();
  for (int i = 0; i < aps.size(); ++i) {
    const pb::AuthorizationPolicy& ap = aps[i];
    // The API default action is ALLOW; AUDIT never decides (and CUSTOM never reaches here).
    const auto action = ap.action() == pb::AuthorizationPolicy::ACTION_UNSPECIFIED
                            ? pb::AuthorizationPolicy::ALLOW
                            : ap.action();
    if (action != pb::AuthorizationPolicy::ALLOW && action != pb::AuthorizationPolicy::DENY) {
      continue;
    }
    // Waypoint policies: scope WAYPOINT, or no scope but targetRefs (a snapshot without scopes).
    const bool waypoint_scope =
        ap.scope() == pb::AuthorizationPolicy::WAYPOINT ||
        (ap.scope() == pb::AuthorizationPolicy::SCOPE_UNSPECIFIED && ap.target_refs_size() > 0);
    if (!waypoint_scope) continue;
    auto p = std::make_unique<Policy>();
    p->key = ap.namespace_() + "/" + ap.name();
    p->order = static_cast<uint32_t>(i);
    p->source = &ap;
    p->deny = action == pb::AuthorizationPolicy::DENY;
    for (const pb::TargetRef& ref : ap.target_refs()) {
      const std::string& ns = ref.namespace_().empty() ? ap.namespace_() : ref.namespace_();
      // A waypoint class, from the root namespace: every waypoint (Istio 1.23+).
      if (ref.group() == kGatewayGroup && ref.kind() == "GatewayClass" && ap.namespace_() == root &&
          (ref.name() == "istio-waypoint" || ref.name() == "weft-waypoint")) {
        p->on_waypoint = true;
        continue;
      }
      // Istio: cross-namespace targetRefs are not supported and never match.
      if (ns != ap.namespace_()) {
        ++ignored_target_refs_;
        continue;
      }
      if (ref.group() == kGatewayGroup && ref.kind() == "Gateway") {
        if (ns == waypoint_ns_ && ref.name() == waypoint_name_) p->on_waypoint = true;
      } else if (IsCoreGroup(ref.group()) && ref.kind() == "Service") {
        p->services.emplace_back(pb::SERVICE_KIND_KUBERNETES, ref.name());
      } else if (ref.group() == kIstioGroup && ref.kind() == "ServiceEntry") {
        p->services.emplace_back(pb::SERVICE_KIND_SERVICE_ENTRY, ref.name());
      } else {
        ++ignored_target_refs_;
      }
    }
    p->rules.reserve(static_cast<size_t>(ap.l7_rules_size()));
    for (const auto& r : ap.l7_rules()) {
      p->rules.push_back(CompileRule(r, p->deny, &invalid_values_, &unenforceable_));
    }
    policies_.push_back(std::move(p));
  }
  waypoint_only_ = Resolve(nullptr);
  const auto& services = snapshot_->services();
  per_service_.reserve(static_cast<size_t>(services.size()));
  by_pointer_.reserve(static_cast<size_t>(services.size()));
  for (int i = 0; i < services.size(); ++i) {
    per_service_.push_back(Resolve(&services[i]));
    by_pointer_.emplace(&services[i], static_cast<uint32_t>(i));
  }
}

L7Authorizer::~L7Authorizer() = default;

L7Authorizer::Applicable L7Authorizer::Resolve(const pb::Service* target) const {
  Applicable a;
  for (const auto& p : policies_) {
    bool applies = p->on_waypoint;
    if (!applies && target && target->namespace_() == p->source->namespace_()) {
      for (const auto& [kind, name] : p->services) {
        if (kind == target->kind() && name == target->name()) {
          applies = true;
          break;
        }
      }
    }
    if (applies) (p->deny ? a.deny : a.allow).push_back(p.get());
  }
  return a;
}

Decision L7Authorizer::Evaluate(const Applicable& a, const Request& r) {
  std::string scratch;  // only used (allocated) for a header with several fields
  Decision d;
  for (const Policy* p : a.deny) {
    if (const Rule* rule = FirstMatch(p->rules, r, scratch)) {
      d.allowed = false;
      d.reason = Reason::kDeniedByPolicy;
      d.policy = p->key;
      d.rule_index = rule->rule_index;
      return d;
    }
  }
  if (a.allow.empty()) {
    d.allowed = true;
    d.reason = Reason::kNoPolicy;
    return d;
  }
  for (const Policy* p : a.allow) {
    if (const Rule* rule = FirstMatch(p->rules, r, scratch)) {
      d.allowed = true;
      d.reason = Reason::kAllowedByPolicy;
      d.policy = p->key;
      d.rule_index = rule->rule_index;
      return d;
    }
  }
  d.allowed = false;
  d.reason = Reason::kNoAllowMatch;
  return d;
}

Decision L7Authorizer::Authorize(const pb::Service* target, const RequestAttributes& attrs) const {
  Request r{};
  r.port = attrs.destination_port;
  r.src = attrs.source_ip;
  r.remote = attrs.remote_ip.valid() ? attrs.remote_ip : attrs.source_ip;
  r.dst = attrs.destination_ip;
  PeerIdentity id = ParsePeerIdentity(attrs.source_principal);
  if (!id.principal.empty()) {
    r.has_identity = true;
    r.principal = id.principal;
    r.ns = attrs.source_namespace.empty() ? id.ns : attrs.source_namespace;
    r.trust_domain = id.trust_domain;
  }
  r.method = attrs.method;
  r.full_path = attrs.path;
  // Envoy url_path: the path without query and fragment.
  r.path = attrs.path.substr(0, attrs.path.find_first_of("?#"));
  r.host = attrs.host;
  r.headers = attrs.headers;

  if (!target) return Evaluate(waypoint_only_, r);
  auto it = by_pointer_.find(target);
  if (it != by_pointer_.end()) return Evaluate(per_service_[it->second], r);
  return Evaluate(Resolve(target), r);
}

std::vector<std::string> L7Authorizer::PoliciesFor(const pb::Service* target) const {
  Applicable a = Resolve(target);
  std::vector<std::string> out;
  for (const Policy* p : a.deny) out.push_back(p->key);
  for (const Policy* p : a.allow) out.push_back(p->key);
  return out;
}

}  // namespace weft::authz
