// Decoders for security.istio.io (v1beta1, v1): PeerAuthentication and AuthorizationPolicy.

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

void StringMatches(ObjectReader& r, std::string_view key, Matches* out) {
  if (auto v = r.StringList(key)) {
    for (const auto& s : *v) *out->Add() = ToStringMatch(s);
  }
}

void IpBlocks(ObjectReader& r, std::string_view key,
              google::protobuf::RepeatedPtrField<std::string>* out) {
  r.List(key, [&](yaml::Node n, const std::string& path, size_t) {
    auto s = ScalarString(r.sink(), n, path);
    if (!s) return;
    if (auto c = NormalizeCidr(*s)) {
      out->Add(std::move(*c));
    } else {
      r.sink().Error(code::kValue, n.mark(), path, "invalid IP block " + n.Describe());
    }
  });
}

// serviceAccounts ("<namespace>/<name>") are principals in any trust domain: a principal
// "<trust-domain>/ns/<namespace>/sa/<name>" matches, so they compile to suffix matches.
void ServiceAccounts(ObjectReader& r, std::string_view key, Matches* out) {
  r.List(key, [&](yaml::Node n, const std::string& path, size_t) {
    auto s = ScalarString(r.sink(), n, path);
    if (!s) return;
    size_t slash = s->find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == s->size() ||
        s->find('/', slash + 1) != std::string::npos || s->find('*') != std::string::npos) {
      r.sink().Error(
          code::kValue, n.mark(), path,
          "invalid service account " + n.Describe() + ": expected \"<namespace>/<name>\"");
      return;
    }
    out->Add()->set_suffix("/ns/" + s->substr(0, slash) + "/sa/" + s->substr(slash + 1));
  });
}

// Ports are strings in AuthorizationPolicy ("8080"); integers are accepted too.
void Ports(ObjectReader& r, std::string_view key, google::protobuf::RepeatedField<uint32_t>* out) {
  r.List(key, [&](yaml::Node n, const std::string& path, size_t) {
    auto v = n.IsScalar() ? ParseInt(n.scalar()) : std::nullopt;
    if (!v || *v < 1 || *v > 65535) {
      r.sink().Error(code::kValue, n.mark(), path,
                     "invalid port " + n.Describe() + ": expected a number in [1, 65535]");
      return;
    }
    out->Add(static_cast<uint32_t>(*v));
  });
}

void Methods(ObjectReader& r, std::string_view key,
             google::protobuf::RepeatedPtrField<std::string>* out) {
  if (auto v = r.StringList(key)) {
    for (auto& s : *v) out->Add(std::move(s));
  }
}

const std::vector<std::string_view>& KnownConditionKeys() {
  static const std::vector<std::string_view> keys = {
      "source.ip",
      "source.namespace",
      "source.principal",
      "remote.ip",
      "destination.ip",
      "destination.port",
      "connection.sni",
      "request.auth.principal",
      "request.auth.audiences",
      "request.auth.presenter",
      "request.headers",
      "request.auth.claims",
      "experimental.envoy.filters.network.mysql_proxy[db.table]"};
  return keys;
}

void DecodeCondition(ObjectReader& w, pb::Condition* c) {
  w.Require("key");
  if (auto v = w.String("key")) {
    std::string base = v->substr(0, v->find('['));
    bool known = false;
    for (auto k : KnownConditionKeys()) known |= (k == *v || k == base);
    if (!known) w.Error(code::kValue, "key", "unknown condition key \"" + *v + "\"");
    c->set_key(*v);
  }
  StringMatches(w, "values", c->mutable_values());
  StringMatches(w, "notValues", c->mutable_not_values());
  if (c->values_size() == 0 && c->not_values_size() == 0) {
    w.Error(code::kMissingField, "", "a condition needs values or notValues");
  }
}

pb::TargetRef DecodeTargetRef(ObjectReader& t) {
  pb::TargetRef ref;
  if (auto v = t.String("group")) ref.set_group(*v);
  t.Require("kind");
  t.Require("name");
  if (auto v = t.String("kind")) ref.set_kind(*v);
  if (auto v = t.String("name")) ref.set_name(*v);
  if (auto v = t.String("namespace")) ref.set_namespace_(*v);
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
          spec.Warning(code::kValue, "portLevelMtls",
                       "portLevelMtls needs a workload selector with labels, as in Istio; ignored");
          out.port_level.clear();
        }
      }
    }
  });
}

void DecodeAuthorizationPolicy(ObjectReader& root, AuthorizationPolicySpec& out) {
  root.Object("spec", [&](ObjectReader& spec) {
    out.selector = DecodeWorkloadSelector(spec, "selector");
    spec.Object("targetRef",
                [&](ObjectReader& t) { out.target_refs.push_back(DecodeTargetRef(t)); });
    spec.ObjectList("targetRefs", [&](ObjectReader& t, size_t) {
      out.target_refs.push_back(DecodeTargetRef(t));
    });
    if (out.selector && !out.target_refs.empty()) {
      spec.Error(code::kValue, "targetRefs", "set either selector or targetRef(s), not both");
    }
    if (auto v = spec.Enum("action", {"ALLOW", "DENY", "AUDIT", "CUSTOM"})) {
      if (*v == "DENY") out.action = pb::AuthorizationPolicy::DENY;
      if (*v == "AUDIT") out.action = pb::AuthorizationPolicy::AUDIT;
      if (*v == "CUSTOM") {
        spec.Error(code::kUnsupported, "action",
                   "action CUSTOM (external authorization) is not supported");
      }
    }
    spec.Ignore("provider");
    out.has_rules_field = spec.Has("rules");
    spec.ObjectList("rules", [&](ObjectReader& rule, size_t index) {
      ++out.spec_rule_count;
      std::vector<pb::AuthorizationRule> sources, operations;
      rule.ObjectList("from", [&](ObjectReader& f, size_t) {
        pb::AuthorizationRule r;
        f.Object("source", [&](ObjectReader& s) {
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
          // serviceAccounts compile into principals, which would OR them with principals the
          // source also names, where a source ANDs its fields; Istio rejects the combination.
          for (std::string_view sa : {"serviceAccounts", "notServiceAccounts"}) {
            if (s.Has(sa) && (s.Has("principals") || s.Has("notPrincipals") ||
                              s.Has("namespaces") || s.Has("notNamespaces"))) {
              s.Error(code::kValue, sa,
                      std::string(sa) + " cannot be set with principals or namespaces");
            }
          }
          ServiceAccounts(s, "serviceAccounts", r.mutable_principals());
          ServiceAccounts(s, "notServiceAccounts", r.mutable_not_principals());
        });
        sources.push_back(std::move(r));
      });
      rule.ObjectList("to", [&](ObjectReader& t, size_t) {
        pb::AuthorizationRule r;
        t.Object("operation", [&](ObjectReader& o) {
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
      rule.ObjectList("when",
                      [&](ObjectReader& w, size_t) { DecodeCondition(w, conditions.Add()); });
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
