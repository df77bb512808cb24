// Istio's validation (istio_checks.h): the helpers and rules every kind shares (host names,
// labels, gateway names, exportTo). Each check names the upstream function it reproduces;
// messages are Istio's.

#include "core/policy/decode/istio_checks.h"

#include <set>
#include <sstream>

#include "core/policy/decode/istio_checks_internal.h"

namespace weft::policy {
namespace istio_checks {

// Go's %v of a float64, near enough for messages: no trailing zeros.
std::string FormatDouble(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// labels.IsDNS1123Label: letters of either case, digits, '-' inside; at most 63.
bool IsIstioDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

// agent.CheckDNS1123Preconditions + ValidateWildcardDomain / ValidateFQDN. Returns Istio's
// message, empty when valid.
std::string DnsLabelsError(std::string_view domain, std::string_view labels) {
  size_t last_dot = labels.rfind('.');
  std::string_view tld = last_dot == std::string_view::npos ? labels : labels.substr(last_dot + 1);
  if (!tld.empty() && ParseInt(tld)) {
    return "domain name \"" + std::string(domain) + "\" invalid (top level domain \"" +
           std::string(tld) + "\" cannot be all-numeric)";
  }
  size_t start = 0;
  while (true) {
    size_t dot = labels.find('.', start);
    std::string_view label =
        labels.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (dot == std::string_view::npos && label.empty()) return "";  // "istio.io."
    if (!IsIstioDnsLabel(label)) {
      return "domain name \"" + std::string(domain) + "\" invalid (label \"" + std::string(label) +
             "\" invalid)";
    }
    if (dot == std::string_view::npos) return "";
    start = dot + 1;
  }
}

std::string WildcardDomainError(std::string_view domain) {
  if (domain.size() > 255) return "domain name \"" + std::string(domain) + "\" too long (max 255)";
  if (domain.empty()) return "empty domain name not allowed";
  size_t dot = domain.find('.');
  std::string_view first = domain.substr(0, dot);
  bool wildcard_label = first == "*" ||
                        (first.size() > 1 && first[0] == '*' && IsIstioDnsLabel(first.substr(1))) ||
                        IsIstioDnsLabel(first);
  if (!wildcard_label) {
    return "domain name \"" + std::string(domain) + "\" invalid (label \"" + std::string(first) +
           "\" invalid)";
  }
  if (dot != std::string_view::npos) return DnsLabelsError(domain, domain.substr(dot + 1));
  return "";
}

std::string FqdnError(std::string_view fqdn) {
  if (fqdn.size() > 255) return "domain name \"" + std::string(fqdn) + "\" too long (max 255)";
  if (fqdn.empty()) return "empty domain name not allowed";
  return DnsLabelsError(fqdn, fqdn);
}

// host.Name.Matches: the two hostnames overlap (one may be a wildcard).
bool HostsOverlap(std::string_view a, std::string_view b) {
  if (a == b || a == "*" || b == "*") return true;
  bool wa = a.starts_with("*"), wb = b.starts_with("*");
  if (wa && wb) {
    std::string_view sa = a.substr(1), sb = b.substr(1);
    return sa.size() > sb.size() ? sa.ends_with(sb) : sb.ends_with(sa);
  }
  if (wa) return b.ends_with(a.substr(1));
  if (wb) return a.ends_with(b.substr(1));
  return false;
}

// host.Name.SubsetOf: every name `sub` matches is matched by `of`.
bool HostSubsetOf(std::string_view sub, std::string_view of) {
  if (of == "*" || sub == of) return true;
  if (of.starts_with("*")) return sub.ends_with(of.substr(1)) && sub.size() > of.size() - 1;
  return false;
}

// tchars of RFC 7230 (Istio's validHeaderNameRegex).
bool IsHeaderToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

bool IsPseudoHeader(std::string_view s) {
  return s == ":method" || s == ":scheme" || s == ":authority" || s == ":path" || s == ":status";
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Kubernetes label values (labels.Instance.Validate's value rule): at most 63 characters,
// alphanumerics with '-', '_', '.' inside.
bool IsLabelValue(std::string_view v) {
  if (v.empty()) return true;
  if (v.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  for (char c : v) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Kubernetes qualified names (label keys): [prefix/]name, the name as a label value but not
// empty, the prefix a DNS subdomain.
bool IsQualifiedName(std::string_view k) {
  size_t slash = k.find('/');
  std::string_view name = k;
  if (slash != std::string_view::npos) {
    std::string_view prefix = k.substr(0, slash);
    name = k.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 253 || !IsDnsSubdomain(prefix)) return false;
  }
  return !name.empty() && IsLabelValue(name);
}

void Checks::Labels(const N& labels) {
  for (const auto& [k, v] : labels.Entries()) {
    if (!IsQualifiedName(k)) Error(v, "invalid label key \"" + k + "\"");
    std::string value = v.Str();
    if (!IsLabelValue(value)) Error(v, "invalid label value \"" + value + "\"");
  }
}

// validateGatewayNames (mesh semantics).
void Checks::GatewayNames(const N& gateways) {
  for (const N& g : gateways.Items()) {
    std::string name = g.Str();
    size_t slash = name.find('/');
    if (slash == std::string::npos) {
      if (name.find('.') != std::string::npos) {
        size_t dot = name.find('.');
        Warning(g, "using legacy gatewayName format \"" + name +
                       "\"; prefer the <namespace>/<name> format: \"" + name.substr(dot + 1) + "/" +
                       name.substr(0, dot) + "\"");
      }
      if (std::string e = FqdnError(name); !e.empty()) Error(g, e);
      return;  // as Istio: the first gateway without a namespace ends the check
    }
    std::string gw_ns = name.substr(0, slash), gw = name.substr(slash + 1);
    if (gw_ns.empty() || gw.empty()) Error(g, "config namespace and gateway name cannot be empty");
    if (!IsIstioDnsLabel(gw_ns)) Error(g, "invalid value for namespace: \"" + gw_ns + "\"");
    if (!IsIstioDnsLabel(gw)) Error(g, "invalid value for gateway name: \"" + gw + "\"");
  }
}

// validateExportTo (not a ServiceEntry, no workload selector).
void Checks::ExportTo(const N& export_to, bool service_entry, bool dr_selector) {
  std::set<std::string> seen;
  auto items = export_to.Items();
  for (const N& e : items) {
    std::string v = e.Str();
    std::string key = v == "." ? ns_ : v;
    if (seen.count(key)) {
      Error(e, key != v ? "duplicate entries in exportTo: . and current namespace " + ns_
                        : "duplicate entries in exportTo for entry " + v);
      continue;
    }
    if (key != "*" && !(service_entry && key == "~") && !IsIstioDnsLabel(key)) {
      Error(e, "only .,*, or a valid DNS 1123 label is allowed as exportTo entry");
      continue;
    }
    seen.insert(key);
  }
  if (dr_selector && !seen.empty()) {
    if (!seen.count(ns_)) {
      Error(export_to,
            "destination rule with workload selector cannot have exportTo beyond "
            "current namespace");
    } else if (seen.size() > 1) {
      Error(export_to,
            "destination rule with workload selector cannot have multiple entries in "
            "exportTo");
    }
  }
  if (seen.count("*") && items.size() > 1) {
    Error(export_to, "cannot have both public (*) and non-public exportTo values for a resource");
  }
  if (seen.count("~") && items.size() > 1) {
    Error(export_to, "cannot export service entry to no one (~) and someone");
  }
}

}  // namespace istio_checks

}  // namespace weft::policy
