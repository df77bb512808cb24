// AuthorizationPolicy pass. Policies attached to a waypoint (targetRefs) keep their L7 rules
// for the waypoint; the rest are enforced by the node proxy, which sees only L4: a rule that
// needs L7 attributes cannot be evaluated there, so, as in Istio ambient, it fails closed:
// under ALLOW it is dropped (it can never grant), under DENY its L7 parts are removed (it
// denies more, never less).

#include <algorithm>

#include "core/policy/compile/passes.h"
#include "core/policy/decode/decode.h"

namespace weft::policy {

namespace {

bool IsL4ConditionKey(const std::string& key) {
  return key == "source.ip" || key == "source.namespace" || key == "source.principal" ||
         key == "source.trustDomain" || key == "destination.ip" || key == "destination.port";
}

// Names the L7-only attributes a rule uses; empty when the rule is pure L4.
std::vector<std::string> L7Attributes(const pb::AuthorizationRule& r) {
  std::vector<std::string> out;
  if (r.request_principals_size() || r.not_request_principals_size())
    out.push_back("requestPrincipals");
  if (r.remote_ip_blocks_size() || r.not_remote_ip_blocks_size()) out.push_back("remoteIpBlocks");
  if (r.hosts_size() || r.not_hosts_size()) out.push_back("hosts");
  if (r.methods_size() || r.not_methods_size()) out.push_back("methods");
  if (r.paths_size() || r.not_paths_size()) out.push_back("paths");
  for (const auto& c : r.conditions()) {
    if (!IsL4ConditionKey(c.key())) out.push_back("when " + c.key());
  }
  return out;
}

void StripL7(pb::AuthorizationRule* r) {
  r->clear_request_principals();
  r->clear_remote_ip_blocks();
  r->clear_not_remote_ip_blocks();
  r->clear_not_request_principals();
  r->clear_hosts();
  r->clear_not_hosts();
  r->clear_methods();
  r->clear_not_methods();
  r->clear_paths();
  r->clear_not_paths();
  auto* conds = r->mutable_conditions();
  conds->erase(std::remove_if(conds->begin(), conds->end(),
                              [](const pb::Condition& c) { return !IsL4ConditionKey(c.key()); }),
               conds->end());
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::vector<pb::AuthorizationPolicy> CompileAuthorizationPolicies(const ResourceIndex& index,
                                                                  PassReport& report) {
  std::vector<pb::AuthorizationPolicy> out;
  const std::string& root = index.options().root_namespace;
  for (const auto& [key, r] : index.All(Kind::kAuthorizationPolicy)) {
    const auto& ap = r.as<AuthorizationPolicySpec>();
    pb::AuthorizationPolicy p;
    p.set_name(r.meta.name);
    p.set_namespace_(r.meta.ns);
    p.set_action(ap.action);
    *p.mutable_source() = SourceOf(r);
    if (ap.selector) p.mutable_selector()->insert(ap.selector->begin(), ap.selector->end());
    size_t errors_before = report.rejected.size();
    if (!ap.target_refs.empty()) {
      p.set_scope(pb::AuthorizationPolicy::WAYPOINT);
      for (size_t i = 0; i < ap.target_refs.size(); ++i) {
        pb::TargetRef t = ap.target_refs[i];
        if (t.namespace_().empty()) t.set_namespace_(r.meta.ns);
        std::string field = "spec.targetRefs[" + std::to_string(i) + "]";
        std::string target = t.namespace_() + "/" + t.name();
        if (t.kind() == "GatewayClass") {
          // Every waypoint of the class, from the root namespace only (Istio 1.23+).
          if (r.meta.ns != root || !IsWaypointClass(t.name())) {
            report.Warning(r, code::kReference, {{}, field},
                           "not enforced: a GatewayClass targetRef applies only to a waypoint "
                           "class (weft-waypoint, istio-waypoint), from the root namespace " +
                               root);
          }
        } else if (t.namespace_() != r.meta.ns) {
          report.Warning(r, code::kReference, {{}, field},
                         "not enforced: a targetRef to another namespace (" + t.namespace_() +
                             ") is not supported, as in Istio");
        } else if (t.kind() == "Service") {
          // Enforced by the Service's waypoint: with none, nothing enforces it.
          const Resource* svc = index.Get(Kind::kService, target);
          ResolvedWaypoint wp = svc ? ServiceWaypoint(index, *svc) : ResolvedWaypoint{};
          std::string why;
          if (!svc) {
            why = "Service " + target + " does not exist";
          } else if (wp.state == WaypointState::kMissing) {
            why = " (its waypoint Gateway " + wp.binding.ns + "/" + wp.binding.name +
                  " does not exist)";
          } else if (wp.state == WaypointState::kNotWaypoint) {
            why = " (Gateway " + wp.binding.ns + "/" + wp.binding.name + " is not a waypoint)";
          } else if (wp.state == WaypointState::kDenied) {
            why = " (waypoint " + wp.binding.ns + "/" + wp.binding.name + " does not accept it)";
          }
          if (svc && wp.state != WaypointState::kBound) {
            why = "enforced only by a waypoint; Service " + target + " has none" + why +
                  ", so this policy is not enforced";
          }
          if (!why.empty()) report.Warning(r, code::kReference, {{}, field}, why);
        } else if (t.kind() == "Gateway") {
          const Resource* gw = index.Get(Kind::kGateway, target);
          if (!gw || !gw->as<GatewaySpec>().waypoint) {
            report.Warning(r, code::kReference, {{}, field},
                           "not enforced: no waypoint named " + target +
                               (gw ? " (Gateway " + target + " has class \"" +
                                         gw->as<GatewaySpec>().gateway_class + "\")"
                                   : ""));
          }
        } else if (t.kind() != "ServiceEntry") {
          report.Error(r, code::kValue, {{}, field},
                       "targetRef kind \"" + t.kind() +
                           "\" is not supported (Service, Gateway, GatewayClass, "
                           "ServiceEntry)");
        }
        *p.add_target_refs() = std::move(t);
      }
      for (const auto& rule : ap.rules) {
        // What the waypoint cannot evaluate either: JWT attributes (no RequestAuthentication
        // yet) and Envoy filter metadata. Fail closed, as the L7 authorizer does.
        std::vector<std::string> unknown;
        if (rule.request_principals_size() || rule.not_request_principals_size()) {
          unknown.push_back("requestPrincipals");
        }
        for (const auto& c : rule.conditions()) {
          if (c.key().starts_with("request.auth.") ||
              c.key().starts_with("experimental.envoy.filters.")) {
            unknown.push_back("when " + c.key());
          }
        }
        if (!unknown.empty()) {
          FieldPos at = rule.rule_index() < ap.rule_pos.size()
                            ? ap.rule_pos[rule.rule_index()]
                            : FieldPos{{}, "spec.rules[" + std::to_string(rule.rule_index()) + "]"};
          report.Warning(r, code::kUnsupported, at,
                         "uses attributes weft cannot evaluate (" + Join(unknown) + "): " +
                             (ap.action == pb::AuthorizationPolicy::DENY
                                  ? "they count as matching, so this DENY rule denies more"
                                  : "this rule matches nothing") +
                             " (fail closed)");
        }
        *p.add_l7_rules() = rule;
      }
    } else {
      p.set_scope(ap.selector         ? pb::AuthorizationPolicy::WORKLOAD
                  : r.meta.ns == root ? pb::AuthorizationPolicy::MESH
                                      : pb::AuthorizationPolicy::NAMESPACE);
      if (ap.action == pb::AuthorizationPolicy::AUDIT) {
        report.Add(r, Severity::kNote, code::kUnsupported, {{}, "spec.action"},
                   "AUDIT policies are compiled but not enforced by the node proxy");
      }
      for (const auto& rule : ap.rules) {
        auto l7 = L7Attributes(rule);
        // At the rule itself: identical rules each get their warning.
        FieldPos at = rule.rule_index() < ap.rule_pos.size()
                          ? ap.rule_pos[rule.rule_index()]
                          : FieldPos{{}, "spec.rules[" + std::to_string(rule.rule_index()) + "]"};
        if (l7.empty()) {
          *p.add_rules() = rule;
          continue;
        }
        p.set_l7_attributes_removed(true);
        if (ap.action == pb::AuthorizationPolicy::ALLOW) {
          report.Warning(r, code::kUnsupported, at,
                         "uses L7 attributes (" + Join(l7) +
                             ") that the node proxy cannot see; this ALLOW rule matches nothing "
                             "(fail closed). Attach the policy to a waypoint with targetRefs");
        } else {
          pb::AuthorizationRule stripped = rule;
          StripL7(&stripped);
          report.Warning(r, code::kUnsupported, at,
                         "uses L7 attributes (" + Join(l7) +
                             ") that the node proxy cannot see; they are removed, so this DENY "
                             "rule applies to all traffic its L4 fields match");
          *p.add_rules() = std::move(stripped);
        }
      }
      // As istiod does for ztunnel: an ALLOW policy that had rules but kept none can never
      // grant, and must not leave the workload open: it becomes DENY everything.
      if (ap.action == pb::AuthorizationPolicy::ALLOW && !ap.rules.empty() && p.rules_size() == 0) {
        p.set_action(pb::AuthorizationPolicy::DENY);
        p.add_rules();
        report.Warning(r, code::kUnsupported, {{}, "spec.rules"},
                       "no rule is enforceable by the node proxy; the policy denies all traffic "
                       "to the workloads it selects (fail closed)");
      }
      if (ap.selector && index.PodsMatching(r.meta.ns, *ap.selector).empty() && r.meta.ns != root &&
          !index.All(Kind::kPod).empty()) {
        report.Add(r, Severity::kNote, code::kReference, {{}, "spec.selector"},
                   "selects no workload in namespace " + r.meta.ns);
      }
    }
    if (report.rejected.size() != errors_before) continue;  // rejected whole
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.namespace_(), a.name()) < std::tie(b.namespace_(), b.name());
  });
  return out;
}

}  // namespace weft::policy
