// Decoders for security.istio.io (v1beta1, v1): PeerAuthentication and AuthorizationPolicy.

#include <algorithm>
#include <tuple>

#include "core/policy/decode/decode.h"
#include "core/policy/decode/values.h"

namespace weft::policy {

namespace {

std::optional<pb::MtlsMode> DecodeMtlsMode(ObjectReader& r) {
  auto v = r.Enum("mode", {"UNSET", "DISABLE", "PERMISSIVE", "STRICT"});
  if (!v) return std::nullopt;
  if (*v == "DISABLE") return pb::MTLS_MODE_DISABLE;
  if (*v == "PERMISSIVE") return pb::MTLS_MODE_PERMISSIVE;
  if (*v == "STRICT") return pb::MTLS_MODE_STRICT;
  return pb::MTLS_MODE_UNSPECIFIED;
}

// Istio's string match for principals, namespaces, hosts and paths: exact, "prefix*",
// "*suffix", or "*" (any value present).
pb::StringMatch ToStringMatch(const std::string& s) {
  pb::StringMatch m;
  if (s == "*") {
    m.set_presence(true);
  } else if (s.size() > 1 && s.back() == '*') {
    m.set_prefix(s.substr(0, s.size() - 1));
  } else if (s.size() > 1 && s.front() == '*') {
    m.set_suffix(s.substr(1));
  } else {
    m.set_exact(s);
  }
  return m;
}

using Matches = google::protobuf::RepeatedPtrField<pb::StringMatch>;

// The values of a list field, each with its path and mark, for validation as Istio does it
// (pkg/config/security: CheckEmptyValues, CheckServiceAccount, CheckTrustDomainValues, ...).
struct Value {
  std::string text;
  yaml::Node node;
  std::string path;
};
std::vector<Value> Values(ObjectReader& r, std::string_view key) {
  std::vector<Value> out;
  r.List(key, [&](yaml::Node n, const std::string& path, size_t) {
    if (auto s = ScalarString(r.sink(), n, path)) out.push_back({*s, n, path});
  });
  return out;
}

// Istio: "empty value not allowed" in every list of a rule.
bool NotEmpty(ObjectReader& r, const Value& v) {
  if (!v.text.empty()) return true;
  r.sink().Error(code::kValue, v.node.mark(), v.path, "empty value not allowed");
  return false;
}

void StringMatches(ObjectReader& r, std::string_view key, Matches* out) {
  for (const auto& v : Values(r, key)) {
    if (NotEmpty(r, v)) *out->Add() = ToStringMatch(v.text);
  }
}

// CheckWildcardValues: at most one '*', only at the start or the end.
std::optional<std::string> WildcardError(const std::string& s) {
  size_t n = std::count(s.begin(), s.end(), '*');
  if (n > 1) return "at most one wildcard is allowed";
  if (n == 1 && s != "*" && s.front() != '*' && s.back() != '*') {
    return "a wildcard is only allowed at the start or the end";
  }
  return std::nullopt;
}

// trustDomains: wildcard values without '/' (CheckTrustDomainValues).
void TrustDomains(ObjectReader& r, std::string_view key, Matches* out) {
  for (const auto& v : Values(r, key)) {
    if (!NotEmpty(r, v)) continue;
    std::optional<std::string> why = WildcardError(v.text);
    if (!why && v.text.find('/') != std::string::npos) why = "a trust domain has no '/'";
    if (why) {
      r.sink().Error(code::kValue, v.node.mark(), v.path,
                     "invalid trust domain " + v.node.Describe() + ": " + *why);
      continue;
    }
    *out->Add() = ToStringMatch(v.text);
  }
}

// A service account as Istio's CheckServiceAccount takes it: "<namespace>/<name>", or a bare
// "<name>" in the policy's namespace; no wildcard, at most 320 characters. Returned as the
// principal suffix it stands for, "/ns/<namespace>/sa/<name>" (any trust domain).
std::optional<std::string> ServiceAccountSuffix(DiagnosticSink& sink, const Value& v,
                                                const std::string& policy_ns) {
  const std::string& s = v.text;
  std::string why;
  size_t slash = s.find('/');
  if (s.empty()) {
    why = "empty value not allowed";
  } else if (s.find('*') != std::string::npos) {
    why = "no wildcard is allowed";
  } else if (slash != std::string::npos && s.find('/', slash + 1) != std::string::npos) {
    why = "expected \"<name>\" or \"<namespace>/<name>\"";
  } else if (s.size() > 320) {
    why = "longer than 320 characters";
  } else if (slash == 0) {
    why = "empty namespace";
  } else if (slash + 1 == s.size()) {
    why = "empty service account name";
  }
  if (!why.empty()) {
    sink.Error(code::kValue, v.node.mark(), v.path,
               "invalid service account " + v.node.Describe() + ": " + why);
    return std::nullopt;
  }
  std::string ns = slash == std::string::npos ? policy_ns : s.substr(0, slash);
  std::string name = slash == std::string::npos ? s : s.substr(slash + 1);
  return "/ns/" + ns + "/sa/" + name;
}

// serviceAccounts are principals in any trust domain: suffix matches of the principal.
void ServiceAccounts(ObjectReader& r, std::string_view key, const std::string& policy_ns,
                     Matches* out) {
  auto values = Values(r, key);
  if (values.size() > 16) {
    r.Error(code::kValue, key, std::string(key) + ": at most 16 service accounts");
  }
  for (const auto& v : values) {
    if (auto suffix = ServiceAccountSuffix(r.sink(), v, policy_ns)) out->Add()->set_suffix(*suffix);
  }
}

void IpBlocks(ObjectReader& r, std::string_view key,
              google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const auto& v : Values(r, key)) {
    if (!NotEmpty(r, v)) continue;
    if (auto c = NormalizeCidr(v.text)) {
      out->Add(std::move(*c));
    } else {
      r.sink().Error(code::kValue, v.node.mark(), v.path, "invalid IP block " + v.node.Describe());
    }
  }
}

// Ports are strings in AuthorizationPolicy ("8080"; a plain 8080 the API server refuses, as
// every number where its schema wants a string). Istio takes 0 to 65535.
void Ports(ObjectReader& r, std::string_view key, google::protobuf::RepeatedField<uint32_t>* out) {
  r.List(key, [&](yaml::Node n, const std::string& path, size_t) {
    auto text = ScalarString(r.sink(), n, path);
    if (!text) return;
    auto v = ParseInt(*text);
    if (!v || *v < 0 || *v > 65535) {
      r.sink().Error(code::kValue, n.mark(), path,
                     "invalid port " + n.Describe() + ": expected a number in [0, 65535]");
      return;
    }
    out->Add(static_cast<uint32_t>(*v));
  });
}

void Methods(ObjectReader& r, std::string_view key,
             google::protobuf::RepeatedPtrField<std::string>* out) {
  for (auto& v : Values(r, key)) {
    if (NotEmpty(r, v)) out->Add(std::move(v.text));
  }
}

// "a[b]" keys: request.headers[...], request.auth.claims[...], experimental.envoy.filters.*.
bool HasMapKey(const std::string& key) {
  size_t open = key.find('[');
  return key.size() >= 2 && key.back() == ']' && open != std::string::npos && open > 0 &&
         open < key.size() - 2;
}

// A `when` condition, validated as Istio's ValidateAttribute does for its key.
void DecodeCondition(ObjectReader& w, const std::string& policy_ns, pb::Condition* c) {
  w.Require("key");
  std::string key = w.String("key").value_or("");
  auto values = Values(w, "values");
  auto not_values = Values(w, "notValues");
  if (w.Has("key") && key.empty()) w.Error(code::kValue, "key", "key must not be empty");
  if (values.empty() && not_values.empty()) {
    w.Error(code::kMissingField, "",
            "at least one of values or notValues must be set" +
                (key.empty() ? std::string() : " for key " + key));
  }
  auto bad = [&](const Value& v, const std::string& why) {
    w.sink().Error(code::kValue, v.node.mark(), v.path,
                   "invalid value " + v.node.Describe() + " for " + key + ": " + why);
  };
  bool service_account = key == "source.serviceAccount";
  for (bool negate : {false, true}) {
    Matches* out = negate ? c->mutable_not_values() : c->mutable_values();
    for (const auto& v : negate ? not_values : values) {
      if (!NotEmpty(w, v)) continue;
      if (key == "source.ip" || key == "remote.ip" || key == "destination.ip") {
        if (!NormalizeCidr(v.text)) bad(v, "not an IP address or CIDR range");
      } else if (key == "destination.port") {
        auto port = ParseInt(v.text);
        if (!port || *port < 0 || *port > 65535) bad(v, "not a port in [0, 65535]");
      } else if (key == "source.trustDomain") {
        if (auto why = WildcardError(v.text)) bad(v, *why);
      } else if (service_account) {
        // Compiled as the principal it names, in any trust domain.
        if (auto suffix = ServiceAccountSuffix(w.sink(), v, policy_ns)) {
          out->Add()->set_suffix(*suffix);
        }
        continue;
      }
      *out->Add() = ToStringMatch(v.text);
    }
  }
  if (key.empty()) return;
  if (service_account) {
    c->set_key("source.principal");
    return;
  }
  c->set_key(key);
  static const std::vector<std::string_view> kPlain = {"source.ip",
                                                       "remote.ip",
                                                       "source.namespace",
                                                       "source.principal",
                                                       "source.trustDomain",
                                                       "request.auth.principal",
                                                       "request.auth.audiences",
                                                       "request.auth.presenter",
                                                       "destination.ip",
                                                       "destination.port",
                                                       "connection.sni"};
  if (std::find(kPlain.begin(), kPlain.end(), key) != kPlain.end()) return;
  if (key.starts_with("request.headers") || key.starts_with("request.auth.claims") ||
      key.starts_with("experimental.envoy.filters.")) {
    if (!HasMapKey(key)) {
      w.Error(code::kValue, "key", "bad key \"" + key + "\": should have the format a[b]");
    }
    return;
  }
  if (key == "destination.namespace") {
    w.Error(code::kValue, "key",
            "attribute destination.namespace is replaced by metadata.namespace");
  } else if (key.starts_with("destination.labels")) {
    w.Error(code::kValue, "key", "attribute " + key + " is replaced by the workload selector");
  } else if (key == "destination.name" || key == "destination.user") {
    w.Error(code::kValue, "key", "deprecated attribute " + key + ": only supported in v1alpha1");
  } else {
    w.Error(code::kValue, "key", "unknown condition key \"" + key + "\"");
  }
}

// As Istio's validatePolicyTargetReference: a name, no namespace, and one of the kinds a
// policy may attach to.
// A source or operation with a field that is set (an empty list counts as unset, as in Istio).
bool HasNonEmptyField(yaml::Node n) {
  if (!n.IsMap()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    yaml::Node v = n.value(i);
    if (v.IsNull() || (v.IsSeq() && v.size() == 0)) continue;
    return true;
  }
  return false;
}

pb::TargetRef DecodeTargetRef(ObjectReader& t) {
  pb::TargetRef ref;
  if (auto v = t.String("group")) ref.set_group(*v);
  t.Require("kind");
  t.Require("name");
  if (auto v = t.String("kind")) ref.set_kind(*v);
  if (auto v = t.String("name")) ref.set_name(*v);
  if (auto v = t.String("namespace")) ref.set_namespace_(*v);
  if (t.Has("name") && ref.name().empty()) {
    t.Error(code::kValue, "name", "targetRef name must be set");
  }
  // The CRD's schema: lengths and the pattern of group.
  for (const auto& [key, value, max] :
       {std::tuple{"group", ref.group(), size_t{253}}, std::tuple{"kind", ref.kind(), size_t{63}},
        std::tuple{"name", ref.name(), size_t{253}}}) {
    if (value.size() > max) {
      t.Error(code::kValue, key, "may not be more than " + std::to_string(max) + " bytes");
    }
  }
  if (!ref.group().empty() && ref.group().size() <= 253 && !IsDnsSubdomain(ref.group())) {
    t.Error(code::kValue, "group", "group \"" + ref.group() + "\" is not a DNS subdomain");
  }
  if (!ref.namespace_().empty()) {
    t.Error(code::kValue, "namespace",
            "targetRef namespace must not be set; cross namespace referencing is not supported");
  }
  const std::string group = ref.group().empty() ? "core" : ref.group();
  const bool allowed = (group == "core" && ref.kind() == "Service") ||
                       (group == "networking.istio.io" && ref.kind() == "ServiceEntry") ||
                       (group == "gateway.networking.k8s.io" &&
                        (ref.kind() == "Gateway" || ref.kind() == "GatewayClass"));
  if (t.Has("kind") && !allowed) {
    t.Error(code::kValue, "kind",
            "targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry "
            "gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] "
            "but was " +
                ref.group() + "/" + ref.kind());
  }
  return ref;
}

}  // namespace

void DecodePeerAuthentication(ObjectReader& root, PeerAuthenticationSpec& out) {
  root.Object("spec", [&](ObjectReader& spec) {
    out.selector = DecodeWorkloadSelector(spec, "selector");
    spec.Object("mtls", [&](ObjectReader& m) {
      if (auto mode = DecodeMtlsMode(m)) out.mode = *mode;
    });
    if (auto n = spec.Raw("portLevelMtls")) {
      if (!n->IsMap()) {
        spec.Error(code::kType, "portLevelMtls", "expected a mapping of port to {mode}");
      } else if (n->size() == 0) {
        spec.Error(code::kValue, "portLevelMtls",
                   "portLevelMtls, if set, must have at least one port (as in Istio)");
      } else {
        for (size_t i = 0; i < n->size(); ++i) {
          yaml::Node k = n->key(i);
          std::string path = spec.Child("portLevelMtls") + "." + std::string(k.scalar());
          auto port = k.IsScalar() ? ParseInt(k.scalar()) : std::nullopt;
          if (!port || *port < 1 || *port > 65535) {
            spec.sink().Error(code::kValue, k.mark(), path,
                              "invalid port " + k.Describe() + ": expected a number in [1, 65535]");
            continue;
          }
          ObjectReader m(spec.sink(), n->value(i), path);
          if (auto mode = DecodeMtlsMode(m)) out.port_level[static_cast<uint32_t>(*port)] = *mode;
        }
        if (!out.selector || out.selector->empty()) {
          spec.Error(code::kValue, "portLevelMtls",
                     "a mesh or namespace PeerAuthentication cannot have portLevelMtls: it needs "
                     "a workload selector with labels (as in Istio)");
          out.port_level.clear();
        }
      }
    }
  });
}

void DecodeAuthorizationPolicy(ObjectReader& root, const Meta& meta, AuthorizationPolicySpec& out) {
  root.Object("spec", [&](ObjectReader& spec) {
    out.selector = DecodeWorkloadSelector(spec, "selector");
    spec.Object("targetRef",
                [&](ObjectReader& t) { out.target_refs.push_back(DecodeTargetRef(t)); });
    spec.ObjectList("targetRefs", [&](ObjectReader& t, size_t) {
      out.target_refs.push_back(DecodeTargetRef(t));
    });
    if (int set = (spec.Has("selector") ? 1 : 0) + (spec.Has("targetRef") ? 1 : 0) +
                  (spec.Has("targetRefs") && !out.target_refs.empty() ? 1 : 0);
        set > 1) {
      spec.Error(code::kValue, "targetRefs",
                 "only one of targetRefs or workloadSelector can be set");
    }
    if (auto n = spec.node().Find("targetRefs"); n && n->IsSeq() && n->size() > 16) {
      spec.Error(code::kValue, "targetRefs", "must have at most 16 items");
    }
    std::string action = "ALLOW";
    if (auto v = spec.Enum("action", {"ALLOW", "DENY", "AUDIT", "CUSTOM"})) {
      action = *v;
      if (*v == "DENY") out.action = pb::AuthorizationPolicy::DENY;
      if (*v == "AUDIT") out.action = pb::AuthorizationPolicy::AUDIT;
      if (*v == "CUSTOM") {
        spec.Error(code::kUnsupported, "action",
                   "action CUSTOM (external authorization) is not supported");
      }
    }
    if (spec.Has("provider") && action != "CUSTOM") {
      spec.Error(code::kValue, "provider", "provider must not be set with action " + action);
    }
    spec.Ignore("provider");
    out.has_rules_field = spec.Has("rules");
    if (action == "DENY" && !out.has_rules_field) {
      spec.Error(code::kMissingField, "rules",
                 "DENY action without rules is meaningless as it will never be triggered; add "
                 "an empty rule {} to deny every request");
    }
    spec.ObjectList("rules", [&](ObjectReader& rule, size_t index) {
      ++out.spec_rule_count;
      out.rule_pos.push_back({rule.node().mark(), rule.path()});
      std::vector<pb::AuthorizationRule> sources, operations;
      rule.ObjectList("from", [&](ObjectReader& f, size_t) {
        pb::AuthorizationRule r;
        if (!f.Require("source")) return;
        f.Object("source", [&](ObjectReader& s) {
          if (!HasNonEmptyField(s.node())) {
            s.Error(code::kValue, "", "`from.source` must not be empty");
          }
          StringMatches(s, "principals", r.mutable_principals());
          StringMatches(s, "notPrincipals", r.mutable_not_principals());
          StringMatches(s, "requestPrincipals", r.mutable_request_principals());
          StringMatches(s, "notRequestPrincipals", r.mutable_not_request_principals());
          StringMatches(s, "namespaces", r.mutable_namespaces());
          StringMatches(s, "notNamespaces", r.mutable_not_namespaces());
          IpBlocks(s, "ipBlocks", r.mutable_ip_blocks());
          IpBlocks(s, "notIpBlocks", r.mutable_not_ip_blocks());
          IpBlocks(s, "remoteIpBlocks", r.mutable_remote_ip_blocks());
          IpBlocks(s, "notRemoteIpBlocks", r.mutable_not_remote_ip_blocks());
          TrustDomains(s, "trustDomains", r.mutable_trust_domains());
          TrustDomains(s, "notTrustDomains", r.mutable_not_trust_domains());
          // serviceAccounts compile into principals, which would OR them with principals the
          // source also names, where a source ANDs its fields; Istio rejects the combination.
          for (std::string_view sa : {"serviceAccounts", "notServiceAccounts"}) {
            if (s.Has(sa) && (s.Has("principals") || s.Has("notPrincipals") ||
                              s.Has("namespaces") || s.Has("notNamespaces"))) {
              s.Error(code::kValue, sa,
                      std::string(sa) + " cannot be set with principals or namespaces");
            }
          }
          ServiceAccounts(s, "serviceAccounts", meta.ns, r.mutable_principals());
          ServiceAccounts(s, "notServiceAccounts", meta.ns, r.mutable_not_principals());
        });
        sources.push_back(std::move(r));
      });
      rule.ObjectList("to", [&](ObjectReader& t, size_t) {
        pb::AuthorizationRule r;
        if (!t.Require("operation")) return;
        t.Object("operation", [&](ObjectReader& o) {
          if (!HasNonEmptyField(o.node())) {
            o.Error(code::kValue, "", "`to.operation` must not be empty");
          }
          StringMatches(o, "hosts", r.mutable_hosts());
          StringMatches(o, "notHosts", r.mutable_not_hosts());
          Ports(o, "ports", r.mutable_ports());
          Ports(o, "notPorts", r.mutable_not_ports());
          Methods(o, "methods", r.mutable_methods());
          Methods(o, "notMethods", r.mutable_not_methods());
          StringMatches(o, "paths", r.mutable_paths());
          StringMatches(o, "notPaths", r.mutable_not_paths());
        });
        operations.push_back(std::move(r));
      });
      google::protobuf::RepeatedPtrField<pb::Condition> conditions;
      rule.ObjectList(
          "when", [&](ObjectReader& w, size_t) { DecodeCondition(w, meta.ns, conditions.Add()); });
      if (sources.empty()) sources.emplace_back();
      if (operations.empty()) operations.emplace_back();
      for (const auto& s : sources) {
        for (const auto& o : operations) {
          pb::AuthorizationRule r = s;
          r.MergeFrom(o);
          *r.mutable_conditions() = conditions;
          r.set_rule_index(static_cast<uint32_t>(index));
          out.rules.push_back(std::move(r));
        }
      }
    });
  });
}

}  // namespace weft::policy
