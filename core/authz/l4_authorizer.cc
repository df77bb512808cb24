#include "core/authz/l4_authorizer.h"

#include <algorithm>
#include <charconv>

namespace weft::authz {

namespace {

constexpr std::string_view kSpiffePrefix = "spiffe://";

// The attribute one test reads. The order is the evaluation order inside a rule: cheap
// integer compares first, string matches last.
enum class Attr : uint8_t { kDestPort, kDestIp, kSourceIp, kNamespace, kPrincipal, kTrustDomain };

struct StrMatch {
  enum class Kind : uint8_t { kExact, kPrefix, kSuffix, kPresence };
  Kind kind;
  std::string value;

  bool Matches(std::string_view s) const {
    switch (kind) {
      case Kind::kExact:
        return s == value;
      case Kind::kPrefix:
        return s.starts_with(value);
      case Kind::kSuffix:
        return s.ends_with(value);
      case Kind::kPresence:
        return !s.empty();
    }
    return false;
  }
};

// One clause of a rule: `principals`, `notIpBlocks`, one `when` condition's values, ...
// Positive (negate = false): holds when some value matches. Negative: holds when none does.
// A clause whose every value was invalid still exists (it holds for a negative clause only),
// so dropping a bad value can never turn a clause into "not written".
struct Test {
  Test(Attr a, bool n) : attr(a), negate(n) {}
  Attr attr;
  bool negate = false;
  bool always = false;  // an invalid value compiled fail-closed as "matches anything"
  std::vector<uint16_t> ports;
  std::vector<Cidr> cidrs;
  std::vector<StrMatch> strings;
};

struct Rule {
  int rule_index = 0;
  std::vector<Test> tests;  // ANDed; none = the rule matches everything
};

}  // namespace

struct L4Authorizer::Policy {
  std::string key;     // "<ns>/<name>"
  uint32_t order = 0;  // position in snapshot.authorization_policies
  const pb::AuthorizationPolicy* source = nullptr;
  pb::AuthorizationPolicy::Action action = pb::AuthorizationPolicy::ALLOW;
  pb::AuthorizationPolicy::Scope scope = pb::AuthorizationPolicy::SCOPE_UNSPECIFIED;
  bool enforced = false;    // node scope and ALLOW or DENY
  std::vector<Rule> rules;  // ORed; none = matches nothing
};

struct L4Authorizer::Peer {
  uint32_t port;
  IpAddress src;
  IpAddress dst;
  bool has_identity;
  std::string_view principal;
  std::string_view ns;
  std::string_view trust_domain;
};

namespace {

using Peer = L4Authorizer::Peer;

bool AnyMatch(const Test& t, const Peer& p) {
  if (t.always) return true;
  switch (t.attr) {
    case Attr::kDestPort:
      for (uint16_t port : t.ports) {
        if (port == p.port) return true;
      }
      return false;
    case Attr::kDestIp:
      for (const Cidr& c : t.cidrs) {
        if (c.Contains(p.dst)) return true;
      }
      return false;
    case Attr::kSourceIp:
      for (const Cidr& c : t.cidrs) {
        if (c.Contains(p.src)) return true;
      }
      return false;
    case Attr::kNamespace:
      // Plaintext: no identity, so no value matches (not even "*"), and a negative clause
      // holds. Istio documents principals/namespaces as requiring mTLS.
      if (!p.has_identity) return false;
      for (const StrMatch& m : t.strings) {
        if (m.Matches(p.ns)) return true;
      }
      return false;
    case Attr::kPrincipal:
      if (!p.has_identity) return false;
      for (const StrMatch& m : t.strings) {
        if (m.Matches(p.principal)) return true;
      }
      return false;
    case Attr::kTrustDomain:
      if (!p.has_identity) return false;
      for (const StrMatch& m : t.strings) {
        if (m.Matches(p.trust_domain)) return true;
      }
      return false;
  }
  return false;
}

bool RuleMatches(const Rule& r, const Peer& p) {
  for (const Test& t : r.tests) {
    if (AnyMatch(t, p) == t.negate) return false;
  }
  return true;
}

// The first matching rule, or null.
const Rule* FirstMatch(const std::vector<Rule>& rules, const Peer& p) {
  for (const Rule& r : rules) {
    if (RuleMatches(r, p)) return &r;
  }
  return nullptr;
}

// Builds the tests of one policy; invalid values are compiled fail closed for its action.
class RuleBuilder {
 public:
  RuleBuilder(bool deny, size_t* invalid) : deny_(deny), invalid_(invalid) {}

  // Records a value that cannot be evaluated. Fail closed: in an ALLOW policy the clause must
  // match less, in a DENY policy more. Positive clause: DENY -> matches anything, ALLOW ->
  // matches nothing (value dropped). Negative clause: the reverse.
  void Invalid(Test& t) {
    ++*invalid_;
    if (deny_ != t.negate) t.always = true;
  }

  void Strings(std::vector<Test>& out, Attr attr, bool negate,
               const google::protobuf::RepeatedPtrField<pb::StringMatch>& in) {
    if (in.empty()) return;
    Test t{attr, negate};
    for (const auto& m : in) {
      switch (m.kind_case()) {
        case pb::StringMatch::kExact:
          t.strings.push_back({StrMatch::Kind::kExact, m.exact()});
          break;
        case pb::StringMatch::kPrefix:
          t.strings.push_back({StrMatch::Kind::kPrefix, m.prefix()});
          break;
        case pb::StringMatch::kSuffix:
          t.strings.push_back({StrMatch::Kind::kSuffix, m.suffix()});
          break;
        case pb::StringMatch::kPresence:
          t.strings.push_back({StrMatch::Kind::kPresence, {}});
          break;
        default:
          Invalid(t);
          break;
      }
    }
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

  // A `when` condition: values and notValues are two clauses over the same key.
  void Condition(std::vector<Test>& out, const pb::Condition& c) {
    const std::string& key = c.key();
    Attr attr;
    if (key == "source.principal") {
      attr = Attr::kPrincipal;
    } else if (key == "source.namespace") {
      attr = Attr::kNamespace;
    } else if (key == "source.trustDomain") {
      attr = Attr::kTrustDomain;
    } else if (key == "source.ip") {
      attr = Attr::kSourceIp;
    } else if (key == "destination.ip") {
      attr = Attr::kDestIp;
    } else if (key == "destination.port") {
      attr = Attr::kDestPort;
    } else {
      // An attribute the node proxy cannot see (the compiler strips these; a snapshot from
      // elsewhere might not): fail closed.
      Unenforceable(out);
      return;
    }
    if (attr == Attr::kPrincipal || attr == Attr::kNamespace || attr == Attr::kTrustDomain) {
      Strings(out, attr, false, c.values());
      Strings(out, attr, true, c.not_values());
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

  // A rule part the node proxy cannot evaluate: the rule can never match under ALLOW and
  // the part is ignored (matches anything) under DENY.
  void Unenforceable(std::vector<Test>& out) {
    Test t{Attr::kDestPort, false};
    Invalid(t);
    out.push_back(std::move(t));
  }

 private:
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
};

bool HasL7(const pb::AuthorizationRule& r) {
  return r.hosts_size() || r.not_hosts_size() || r.methods_size() || r.not_methods_size() ||
         r.paths_size() || r.not_paths_size() || r.request_principals_size() ||
         r.not_request_principals_size() || r.remote_ip_blocks_size() ||
         r.not_remote_ip_blocks_size();
}

Rule CompileRule(const pb::AuthorizationRule& in, bool deny, size_t* invalid) {
  Rule r;
  r.rule_index = static_cast<int>(in.rule_index());
  RuleBuilder b(deny, invalid);
  b.Strings(r.tests, Attr::kPrincipal, false, in.principals());
  b.Strings(r.tests, Attr::kPrincipal, true, in.not_principals());
  b.Strings(r.tests, Attr::kTrustDomain, false, in.trust_domains());
  b.Strings(r.tests, Attr::kTrustDomain, true, in.not_trust_domains());
  b.Strings(r.tests, Attr::kNamespace, false, in.namespaces());
  b.Strings(r.tests, Attr::kNamespace, true, in.not_namespaces());
  b.Blocks(r.tests, Attr::kSourceIp, false, in.ip_blocks());
  b.Blocks(r.tests, Attr::kSourceIp, true, in.not_ip_blocks());
  b.Ports(r.tests, false, in.ports());
  b.Ports(r.tests, true, in.not_ports());
  for (const auto& c : in.conditions()) b.Condition(r.tests, c);
  // L7 fields in a node rule: the compiler removes them (ALLOW rule dropped, DENY rule
  // stripped); a snapshot that still has them is handled the same way here.
  if (HasL7(in)) b.Unenforceable(r.tests);
  std::stable_sort(r.tests.begin(), r.tests.end(),
                   [](const Test& a, const Test& b) { return a.attr < b.attr; });
  return r;
}

bool IsNodeScope(pb::AuthorizationPolicy::Scope s) {
  return s == pb::AuthorizationPolicy::MESH || s == pb::AuthorizationPolicy::NAMESPACE ||
         s == pb::AuthorizationPolicy::WORKLOAD;
}

bool SelectorMatches(const google::protobuf::Map<std::string, std::string>& selector,
                     const google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

std::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kNoPolicy:
      return "no_policy";
    case Reason::kAllowedByPolicy:
      return "allowed_by_policy";
    case Reason::kDeniedByPolicy:
      return "denied_by_policy";
    case Reason::kNoAllowMatch:
      return "no_allow_match";
    case Reason::kMtlsStrict:
      return "mtls_strict";
    case Reason::kUnknownDestination:
      return "unknown_destination";
  }
  return "unknown";
}

std::string_view DeniedMetricLabel(Reason reason) {
  switch (reason) {
    case Reason::kDeniedByPolicy:
      return "deny_policy";
    case Reason::kNoAllowMatch:
      return "no_allow_match";
    case Reason::kMtlsStrict:
      return "mtls_strict";
    case Reason::kUnknownDestination:
      return "unknown_destination";
    default:
      return "";
  }
}

PeerIdentity ParsePeerIdentity(std::string_view id) {
  if (id.starts_with(kSpiffePrefix)) id.remove_prefix(kSpiffePrefix.size());
  // <td>/ns/<ns>/sa/<sa>
  size_t td_end = id.find('/');
  if (td_end == 0 || td_end == std::string_view::npos) return {};
  std::string_view rest = id.substr(td_end + 1);
  if (!rest.starts_with("ns/")) return {};
  size_t ns_end = rest.find('/', 3);
  if (ns_end == 3 || ns_end == std::string_view::npos) return {};
  std::string_view ns = rest.substr(3, ns_end - 3);
  std::string_view sa = rest.substr(ns_end + 1);
  if (!sa.starts_with("sa/") || sa.size() == 3 || sa.find('/', 3) != std::string_view::npos) {
    return {};
  }
  return {id, ns, id.substr(0, td_end)};
}

L4Authorizer::L4Authorizer(std::shared_ptr<const pb::MeshSnapshot> snapshot)
    : snapshot_(std::move(snapshot)) {
  const auto& aps = snapshot_->authorization_policies();
  policies_.reserve(aps.size());
  for (int i = 0; i < aps.size(); ++i) {
    const pb::AuthorizationPolicy& ap = aps[i];
    auto p = std::make_unique<Policy>();
    p->key = ap.namespace_() + "/" + ap.name();
    p->order = static_cast<uint32_t>(i);
    p->source = &ap;
    // The API default action is ALLOW.
    p->action = ap.action() == pb::AuthorizationPolicy::ACTION_UNSPECIFIED
                    ? pb::AuthorizationPolicy::ALLOW
                    : ap.action();
    p->scope = ap.scope();
    if (p->scope == pb::AuthorizationPolicy::SCOPE_UNSPECIFIED) {
      // A snapshot without scopes: derive them as the compiler does.
      p->scope = ap.target_refs_size()    ? pb::AuthorizationPolicy::WAYPOINT
                 : !ap.selector().empty() ? pb::AuthorizationPolicy::WORKLOAD
                 : ap.namespace_() == snapshot_->settings().root_namespace()
                     ? pb::AuthorizationPolicy::MESH
                     : pb::AuthorizationPolicy::NAMESPACE;
    }
    const bool deny = p->action == pb::AuthorizationPolicy::DENY;
    p->enforced = IsNodeScope(p->scope) && (deny || p->action == pb::AuthorizationPolicy::ALLOW);
    if (p->enforced) {
      p->rules.reserve(ap.rules_size());
      for (const auto& r : ap.rules()) p->rules.push_back(CompileRule(r, deny, &invalid_values_));
    }
    by_key_.emplace(p->key, p.get());
    policies_.push_back(std::move(p));
  }
  const auto& ws = snapshot_->workloads();
  per_workload_.reserve(ws.size());
  by_pointer_.reserve(ws.size());
  for (int i = 0; i < ws.size(); ++i) {
    per_workload_.push_back(Resolve(ws[i]));
    by_pointer_.emplace(&ws[i], static_cast<uint32_t>(i));
  }
}

L4Authorizer::~L4Authorizer() = default;

L4Authorizer::Applicable L4Authorizer::Resolve(const pb::Workload& w) {
  Applicable a;
  for (const std::string& key : w.authorization_policies()) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) {
      ++unresolved_references_;
      continue;
    }
    const Policy* p = it->second;
    if (!p->enforced) continue;  // AUDIT, or a waypoint policy
    (p->action == pb::AuthorizationPolicy::DENY ? a.deny : a.allow).push_back(p);
  }
  auto by_order = [](const Policy* x, const Policy* y) { return x->order < y->order; };
  std::sort(a.deny.begin(), a.deny.end(), by_order);
  std::sort(a.allow.begin(), a.allow.end(), by_order);
  if (w.mtls().has_source() && !w.mtls().source().name().empty()) {
    a.mtls_source = w.mtls().source().namespace_() + "/" + w.mtls().source().name();
  }
  return a;
}

L4Authorizer::Applicable L4Authorizer::ResolveByScope(
    std::string_view ns, const google::protobuf::Map<std::string, std::string>& labels) const {
  Applicable a;
  const std::string& root = snapshot_->settings().root_namespace();
  for (const auto& p : policies_) {
    if (!p->enforced) continue;
    const std::string& pns = p->source->namespace_();
    bool applies = false;
    switch (p->scope) {
      case pb::AuthorizationPolicy::MESH:
        applies = true;
        break;
      case pb::AuthorizationPolicy::NAMESPACE:
        applies = pns == ns;
        break;
      case pb::AuthorizationPolicy::WORKLOAD:
        // A selector in the root namespace selects in every namespace, as in Istio.
        applies = (pns == ns || pns == root) && SelectorMatches(p->source->selector(), labels);
        break;
      default:
        break;
    }
    if (applies) (p->action == pb::AuthorizationPolicy::DENY ? a.deny : a.allow).push_back(p.get());
  }
  return a;
}

const L4Authorizer::Applicable* L4Authorizer::Lookup(const pb::Workload* w,
                                                     Applicable& scratch) const {
  auto it = by_pointer_.find(w);
  if (it != by_pointer_.end()) return &per_workload_[it->second];
  scratch = ResolveByScope(w->namespace_(), w->labels());
  return &scratch;
}

Decision L4Authorizer::Evaluate(const Applicable& a, const Peer& peer) {
  Decision d;
  for (const Policy* p : a.deny) {
    if (const Rule* r = FirstMatch(p->rules, peer)) {
      d.allowed = false;
      d.reason = Reason::kDeniedByPolicy;
      d.policy = p->key;
      d.rule_index = r->rule_index;
      return d;
    }
  }
  if (a.allow.empty()) {
    d.allowed = true;
    d.reason = Reason::kNoPolicy;
    return d;
  }
  for (const Policy* p : a.allow) {
    if (const Rule* r = FirstMatch(p->rules, peer)) {
      d.allowed = true;
      d.reason = Reason::kAllowedByPolicy;
      d.policy = p->key;
      d.rule_index = r->rule_index;
      return d;
    }
  }
  d.allowed = false;
  d.reason = Reason::kNoAllowMatch;
  return d;
}

namespace {

L4Authorizer::Peer MakePeer(const ConnectionAttributes& attrs) {
  L4Authorizer::Peer p{
      attrs.destination_port, attrs.source_ip, attrs.destination_ip, false, {}, {}, {}};
  if (attrs.transport == Transport::kHbone) {
    PeerIdentity id = ParsePeerIdentity(attrs.source_principal);
    if (!id.principal.empty()) {
      p.has_identity = true;
      p.principal = id.principal;
      p.ns = attrs.source_namespace.empty() ? id.ns : attrs.source_namespace;
      p.trust_domain = id.trust_domain;
    }
  }
  return p;
}

}  // namespace

Decision L4Authorizer::Decide(const ConnectionAttributes& attrs) const {
  if (!attrs.destination) {
    Decision d;
    d.reason = Reason::kUnknownDestination;
    return d;
  }
  Applicable scratch;
  const Applicable* a = Lookup(attrs.destination, scratch);
  Decision d = Evaluate(*a, MakePeer(attrs));
  return d;
}

Decision L4Authorizer::Authorize(const ConnectionAttributes& attrs) const {
  if (!attrs.destination) {
    Decision d;
    d.reason = Reason::kUnknownDestination;
    return d;
  }
  Applicable scratch;
  const Applicable* a = Lookup(attrs.destination, scratch);
  const pb::MtlsMode mode = EffectiveMtlsMode(*attrs.destination, attrs.destination_port);
  if (!Admit(mode, attrs.transport)) {
    Decision d;
    d.reason = Reason::kMtlsStrict;
    d.policy = a->mtls_source;
    d.mtls_mode = mode;
    return d;
  }
  Decision d = Evaluate(*a, MakePeer(attrs));
  d.mtls_mode = mode;
  return d;
}

std::vector<std::string> L4Authorizer::PoliciesFor(const pb::Workload& workload) const {
  Applicable scratch;
  const Applicable* a = Lookup(&workload, scratch);
  std::vector<std::string> out;
  for (const Policy* p : a->deny) out.push_back(p->key);
  for (const Policy* p : a->allow) out.push_back(p->key);
  return out;
}

std::vector<std::string> L4Authorizer::PoliciesByScope(
    std::string_view ns, const google::protobuf::Map<std::string, std::string>& labels) const {
  Applicable a = ResolveByScope(ns, labels);
  std::vector<std::string> out;
  for (const Policy* p : a.deny) out.push_back(p->key);
  for (const Policy* p : a.allow) out.push_back(p->key);
  return out;
}

}  // namespace weft::authz
