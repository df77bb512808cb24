// Istio's validation of VirtualService and DestinationRule (istio_checks.h). Each check names
// the upstream function it reproduces; messages are Istio's.

#include "core/policy/decode/istio_checks.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include "core/policy/decode/values.h"

namespace weft::policy {

namespace {

// Go's %v of a float64, near enough for messages: no trailing zeros.
std::string FormatDouble(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// A node of the raw spec with its field path; an absent or null field is !ok().
struct N {
  yaml::Node n;
  std::string path;
  bool present = false;

  bool ok() const { return present && n.valid() && !n.IsNull(); }
  N operator[](std::string_view key) const {
    if (!ok() || !n.IsMap()) return {};
    auto v = n.Find(key);
    if (!v) return {};
    return {*v, path + "." + std::string(key), true};
  }
  bool Has(std::string_view key) const { return (*this)[key].ok(); }
  // Lists: their items; anything else: none.
  std::vector<N> Items() const {
    std::vector<N> out;
    if (!ok() || !n.IsSeq()) return out;
    for (size_t i = 0; i < n.size(); ++i) {
      out.push_back({n.item(i), path + "[" + std::to_string(i) + "]", true});
    }
    return out;
  }
  size_t Size() const { return ok() && (n.IsSeq() || n.IsMap()) ? n.size() : 0; }
  // Mappings: key and value.
  std::vector<std::pair<std::string, N>> Entries() const {
    std::vector<std::pair<std::string, N>> out;
    if (!ok() || !n.IsMap()) return out;
    for (size_t i = 0; i < n.size(); ++i) {
      std::string k(n.key(i).scalar());
      out.push_back({k, {n.value(i), path + "." + k, true}});
    }
    return out;
  }
  std::string Str() const { return ok() && n.IsScalar() ? std::string(n.scalar()) : ""; }
  std::optional<int64_t> Int() const {
    return ok() && n.IsScalar() ? ParseInt(n.scalar()) : std::nullopt;
  }
  std::optional<double> Double() const {
    return ok() && n.IsScalar() ? ParseDouble(n.scalar()) : std::nullopt;
  }
  yaml::Mark mark() const { return n.valid() ? n.mark() : yaml::Mark{}; }
};

class Checks {
 public:
  Checks(DiagnosticSink& sink, std::string ns) : sink_(sink), ns_(std::move(ns)) {}

  // One error per field: where a decoder already refused the field (its type, its range), the
  // same rule of Istio's is not said twice.
  void Error(const N& at, std::string message) {
    for (const auto& d : sink_.diagnostics()) {
      if (d.severity == Severity::kError && d.field == at.path) return;
    }
    sink_.Error(code::kValue, at.mark(), at.path, std::move(message));
  }
  void Warning(const N& at, std::string message) {
    sink_.Warning(code::kValue, at.mark(), at.path, std::move(message));
  }

  // agent.ValidateDuration: at least 1ms, whole milliseconds. Values that do not parse are the
  // decoders' (or the schema's) errors.
  void Duration(const N& d) {
    if (!d.ok() || !d.n.IsScalar()) return;
    auto ns = ParseDuration(d.n.scalar(), nullptr);
    if (!ns) return;
    if (*ns < 1'000'000) {
      Error(d, "duration must be greater than 1ms");
    } else if (*ns % 1'000'000 != 0) {
      Error(d, "only durations to ms precision are supported");
    }
  }

  // agent.ValidatePort.
  bool Port(const N& at, int64_t port, std::string prefix = "") {
    if (port >= 1 && port <= 65535) return true;
    Error(at, prefix + "port number " + std::to_string(port) + " must be in the range 1..65535");
    return false;
  }

  void VirtualService(const N& spec);
  void DestinationRule(const N& spec);
  void ServiceEntry(const N& spec, const std::string& use_waypoint);

 private:
  void HttpRoute(const N& h, bool delegate);
  void HttpMatch(const N& m);
  void StringMatch(const N& sm, std::string_view where, bool prefix_may_be_empty);
  void HeaderOperations(const N& headers, bool route_level);
  void Cors(const N& c);
  void Fault(const N& f);
  void Destination(const N& d);
  void Redirect(const N& r, const N& matches);
  void DirectResponse(const N& d);
  void Retries(const N& r);
  void Rewrite(const N& rw, const N& headers);
  void RouteDestinations(const N& routes, bool http);
  void TlsRoute(const N& t, const N& hosts);
  void TcpRoute(const N& t);
  void L4Match(const N& m);
  void Labels(const N& labels);
  void GatewayNames(const N& gateways);
  void ExportTo(const N& export_to, bool service_entry = false, bool dr_selector = false);
  void TrafficPolicy(const N& tp, bool port_level);
  void LoadBalancer(const N& lb, const N& outlier);
  void ConnectionPool(const N& cp);
  void OutlierDetection(const N& od);
  void ClientTls(const N& tls);

  DiagnosticSink& sink_;
  std::string ns_;
};

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

// validateStringMatch / validateStringMatchRegexp: empty prefix (unless the uri's) and empty
// or invalid regexes.
void Checks::StringMatch(const N& sm, std::string_view where, bool prefix_may_be_empty) {
  if (!sm.ok()) return;
  const std::string w = "\"" + std::string(where) + "\": ";
  if (N p = sm["prefix"]; p.ok() && !prefix_may_be_empty && p.Str().empty()) {
    Error(p, w + "prefix string match should not be empty");
  }
  if (N p = sm["prefix"]; p.present && !p.ok() && !prefix_may_be_empty) {
    Error(p, w + "prefix string match should not be empty");
  }
  N re = sm["regex"];
  if (re.present) {
    std::string r = re.Str();
    if (r.empty()) {
      Error(re, w + "regex string match should not be empty");
    } else if (r.size() > 1024) {
      Error(re, w + "regex is too large, max length allowed is 1024");
    }  // an invalid expression is the decoder's error (DecodeStringMatch)
  }
}

void Checks::HttpMatch(const N& m) {
  for (const auto& [name, h] : m["headers"].Entries()) {
    if (name.empty()) {
      Error(h, "header name cannot be empty");
    } else if (!name.starts_with("@request.auth.claims") && !IsPseudoHeader(name) &&
               !IsHeaderToken(name)) {
      Error(h, "header name " + name + " is not a valid header name");
    }
    StringMatch(h, "headers", false);
  }
  for (const auto& [name, h] : m["withoutHeaders"].Entries()) {
    if (name.empty()) {
      Error(h, "header name cannot be empty");
    } else if (!name.starts_with("@request.auth.claims") && !IsPseudoHeader(name) &&
               !IsHeaderToken(name)) {
      Error(h, "header name " + name + " is not a valid header name");
    }
    if (h["regex"].Str() != "*") StringMatch(h, "withoutHeaders", false);
  }
  StringMatch(m["uri"], "uri", true);
  StringMatch(m["scheme"], "scheme", false);
  StringMatch(m["method"], "method", false);
  StringMatch(m["authority"], "authority", false);
  for (const auto& [name, q] : m["queryParams"].Entries()) StringMatch(q, "queryParams", false);
  if (auto p = m["port"].Int(); p && *p != 0) Port(m["port"], *p);
  Labels(m["sourceLabels"]);
  GatewayNames(m["gateways"]);
  if (N sn = m["sourceNamespace"]; sn.ok() && !sn.Str().empty() && !IsIstioDnsLabel(sn.Str())) {
    Error(sn, "sourceNamespace match " + sn.Str() + " is invalid");
  }
}

// The header operations of a route (route_level) or of one of its destinations.
void Checks::HeaderOperations(const N& headers, bool /*route_level*/) {
  auto value_ok = [&](const N& v) {
    for (char c : v.Str()) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u <= 0x08) || (u >= 0x0A && u <= 0x1F) || u == 0x7F) {
        Error(v, "header value configuration " + v.Str() + " is invalid");
        return;
      }
    }
  };
  auto with_authority = [&](const std::string& name, const N& at) {
    if (name.empty()) {
      Error(at, "header name cannot be empty");
    } else if ((name.starts_with(":") || IEquals(name, "host")) && !IEquals(name, ":authority") &&
               !IEquals(name, "host")) {
      Error(at, "invalid header \"" + name + "\": header cannot have \":\" prefix");
    }
  };
  auto operation = [&](const std::string& name, const N& at) {
    if (name.empty()) {
      Error(at, "header name cannot be empty");
    } else if (IEquals(name, "host")) {
      Error(at, "invalid header \"" + name + "\": cannot set Host header");
    } else if (name.starts_with(":")) {
      Error(at, "invalid header \"" + name + "\": header cannot have \":\" prefix");
    }
  };
  N req = headers["request"], resp = headers["response"];
  for (const char* op : {"add", "set"}) {
    for (const auto& [name, v] : req[op].Entries()) {
      with_authority(name, v);
      value_ok(v);
    }
    for (const auto& [name, v] : resp[op].Entries()) {
      operation(name, v);
      value_ok(v);
    }
  }
  for (const N& r : req["remove"].Items()) operation(r.Str(), r);
  for (const N& r : resp["remove"].Items()) operation(r.Str(), r);
}

// validateCORSPolicy.
void Checks::Cors(const N& c) {
  if (!c.ok()) return;
  for (const N& o : c["allowOrigins"].Items()) {
    std::string match = o["exact"].Str() + o["prefix"].Str() + o["regex"].Str();
    if (match.empty()) {
      Error(o, "'' is not a valid match type for CORS allow origins");
      continue;
    }
    if (o["regex"].present) StringMatch(o, "corsPolicy.allowOrigins", true);
  }
  static const std::set<std::string> kMethods = {"GET",    "HEAD",    "POST",    "PUT",   "PATCH",
                                                 "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"};
  for (const N& m : c["allowMethods"].Items()) {
    if (!kMethods.count(m.Str())) Error(m, "\"" + m.Str() + "\" is not a supported HTTP method");
  }
  for (const char* key : {"allowHeaders", "exposeHeaders"}) {
    for (const N& h : c[key].Items()) {
      std::string name = h.Str();
      if (name.empty()) {
        Error(h, "header name cannot be empty");
      } else if (name != "*" && !IsHeaderToken(name)) {
        Error(h, "header name " + name + " is not a valid header name");
      }
    }
  }
  if (N age = c["maxAge"]; age.ok()) {
    Duration(age);
    if (auto ns = ParseDuration(age.Str(), nullptr); ns && *ns % 1'000'000'000 != 0) {
      Error(age, "max_age duration is accurate only to seconds precision");
    }
  }
}

// validatePercentage.
void CheckPercentage(Checks& c, const N& p) {
  if (!p.ok()) return;
  double v = p["value"].Double().value_or(0);
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) {
    c.Error(p, "percentage " + FormatDouble(v) + " is neither 0.0, nor in range [0.0001, 100.0]");
  }
}

// validateHTTPFaultInjection.
void Checks::Fault(const N& f) {
  if (!f.ok()) return;
  N abort = f["abort"], delay = f["delay"];
  if (!abort.ok() && !delay.ok())
    Error(f, "HTTP fault injection must have an abort and/or a delay");
  if (abort.ok()) {
    CheckPercentage(*this, abort["percentage"]);
    if (abort["grpcStatus"].ok()) {
      // an unknown status is the decoder's error
    } else if (abort["http2Error"].ok()) {
      Error(abort["http2Error"], "HTTP/2 abort fault injection not supported yet");
    } else if (auto s = abort["httpStatus"].Int()) {
      if (*s < 200 || *s > 600) {
        Error(abort["httpStatus"],
              "HTTP status " + std::to_string(*s) + " is not in range 200-599");
      }
    }
  }
  if (delay.ok()) {
    CheckPercentage(*this, delay["percentage"]);
    Duration(delay["fixedDelay"]);
    if (N e = delay["exponentialDelay"]; e.ok()) {
      Duration(e);
      Error(e, "exponentialDelay not supported yet");
    }
  }
}

// validateDestination.
void Checks::Destination(const N& d) {
  if (!d.ok()) return;
  N host = d["host"];
  std::string h = host.Str();
  if (h == "*") {
    Error(host.ok() ? host : d, "invalid destination host *");
  } else if (std::string e = WildcardDomainError(h); !e.empty()) {
    Error(host.ok() ? host : d, e);
  }
  if (N s = d["subset"]; s.ok() && !s.Str().empty() && !IsIstioDnsLabel(s.Str())) {
    Error(s, "subset name is invalid: " + s.Str());
  }
  if (N p = d["port"]; p.present) Port(p, p["number"].Int().value_or(0));
}

// validateHTTPRedirect.
void Checks::Redirect(const N& r, const N& matches) {
  if (!r.ok()) return;
  bool uri = !r["uri"].Str().empty(), prefix = !r["prefixRewrite"].Str().empty();
  if (uri && prefix) return Error(r, "redirect may only specify one of uri or prefix_rewrite");
  if (prefix) {
    for (const N& m : matches.Items()) {
      if (m["uri"].ok() && !m["uri"]["prefix"].present) {
        return Error(r["prefixRewrite"],
                     "redirect prefix_rewrite requires all URI matches to use prefix match type");
      }
    }
  }
  if (!uri && !prefix && r["authority"].Str().empty() && !r["port"].ok() && !r["derivePort"].ok() &&
      r["scheme"].Str().empty()) {
    return Error(r, "redirect must specify URI, authority, scheme, or port");
  }
  if (auto code = r["redirectCode"].Int(); code && *code != 0 && (*code < 300 || *code > 399)) {
    return Error(r["redirectCode"],
                 std::to_string(*code) + " is not a valid redirect code, must be 3xx");
  }
  if (std::string s = r["scheme"].Str(); !s.empty() && s != "http" && s != "https") {
    return Error(r["scheme"], "invalid redirect scheme, must be \"http\" or \"https\"");
  }
  if (auto p = r["port"].Int(); p && *p > 0) Port(r["port"], *p);
}

// validateHTTPDirectResponse.
void Checks::DirectResponse(const N& d) {
  if (!d.ok()) return;
  N body = d["body"];
  size_t size = body["string"].Str().size();
  if (N b = body["bytes"]; b.ok()) size = b.Str().size() * 3 / 4;  // base64
  if (size > 1024 * 1024) {
    Error(body,
          "large direct_responses may impact control plane performance, must be less than 1MB");
  } else if (size > 100 * 1024) {
    Warning(body, "large direct_responses may impact control plane performance");
  }
  int64_t status = d["status"].Int().value_or(0);
  if (status < 200 || status > 600) {
    Error(d["status"].ok() ? d["status"] : d,
          "HTTP status " + std::to_string(status) + " is not in range 200-599");
  }
}

// validateHTTPRetry.
void Checks::Retries(const N& r) {
  if (!r.ok()) return;
  int64_t attempts = r["attempts"].Int().value_or(0);
  if (attempts < 0) Error(r["attempts"], "attempts cannot be negative");
  if (attempts == 0 &&
      (r["perTryTimeout"].ok() || !r["retryOn"].Str().empty() || r["retryRemoteLocalities"].ok())) {
    Error(r, "http retry policy configured when attempts are set to 0 (disabled)");
  }
  Duration(r["perTryTimeout"]);
  Duration(r["backoff"]);
}

// validateHTTPRewrite and validateAuthorityRewrite.
void Checks::Rewrite(const N& rw, const N& headers) {
  std::string current = rw["authority"].Str();
  if (rw.ok()) {
    bool uri = !rw["uri"].Str().empty();
    N rr = rw["uriRegexRewrite"];
    if (uri && rr.ok()) {
      Error(rw, "rewrite may only contain one of URI or UriRegexRewrite");
    } else if (!uri && !rr.ok() && current.empty()) {
      Error(rw,
            "rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one "
            "of URI or UriRegexRewrite may be specified");
    } else if (rr.ok()) {
      if (rr["match"].Str().empty() || rr["rewrite"].Str().empty()) {
        Error(rr,
              "UriRegexRewrite has errors: UriRegexRewrite requires both Rewrite and Match fields "
              "to be specified");
      } else if (auto why = RegexError(rr["match"].Str())) {
        Error(rr["match"], "UriRegexRewrite has errors: " + *why);
      }
    }
  }
  for (const char* op : {"set", "add"}) {
    for (const auto& [k, v] : headers["request"][op].Entries()) {
      if (!IEquals(k, ":authority") && !IEquals(k, "host")) continue;
      if (!current.empty()) {
        return Error(v, "authority header cannot be set multiple times: have \"" + current +
                            "\", attempting to set \"" + v.Str() + "\"");
      }
      current = v.Str();
    }
  }
}

// validateHTTPRouteDestinations / validateRouteDestinations.
void Checks::RouteDestinations(const N& routes, bool http) {
  int64_t total = 0;
  auto items = routes.Items();
  for (const N& r : items) {
    if (!r["destination"].ok()) Error(r, "destination is required");
    if (http) HeaderOperations(r["headers"], false);
    Destination(r["destination"]);
    int64_t w = r["weight"].Int().value_or(0);
    if (w < 0) Error(r["weight"], "weight " + std::to_string(w) + " < 0");
    total += w;
  }
  if (items.size() > 1 && total == 0) Error(routes, "total destination weight = 0");
}

// validateHTTPRoute with validateHTTPRouteConflict.
void Checks::HttpRoute(const N& h, bool delegate) {
  const bool root = !delegate && h["delegate"].ok();
  const std::string name = h["name"].Str();
  N route = h["route"];
  if (root) {
    if (h["redirect"].ok()) Error(h, "root HTTP route " + name + " must not specify redirect");
    if (route.Size() > 0) Error(route, "root HTTP route " + name + " must not specify route");
  } else {
    if (delegate && h["delegate"].ok()) {
      Error(h["delegate"], "delegate HTTP route cannot contain delegate");
    }
    if (h["redirect"].ok()) {
      if (route.Size() > 0) Error(h, "HTTP route cannot contain both route and redirect");
      if (h["fault"].ok()) Error(h, "HTTP route cannot contain both fault and redirect");
      if (h["rewrite"].ok()) Error(h, "HTTP route rule cannot contain both rewrite and redirect");
      if (h["directResponse"].ok()) {
        Error(h, "HTTP route rule cannot contain both direct_response and redirect");
      }
    } else if (h["directResponse"].ok()) {
      if (route.Size() > 0) Error(h, "HTTP route cannot contain both route and direct_response");
      if (h["fault"].ok()) Error(h, "HTTP route cannot contain both fault and direct_response");
      if (h["rewrite"].ok()) {
        Error(h, "HTTP route rule cannot contain both rewrite and direct_response");
      }
    } else if (route.Size() == 0) {
      Error(h, "HTTP route, redirect or direct_response is required");
    }
    if (h["mirror"].ok() && h["mirrors"].Size() > 0) {
      Error(h, "HTTP route cannot contain both mirror and mirrors");
    }
  }
  for (const N& m : h["match"].Items()) HttpMatch(m);
  HeaderOperations(h["headers"], true);
  Cors(h["corsPolicy"]);
  Fault(h["fault"]);
  if (N mp = h["mirror_percent"]; mp.ok()) {
    if (auto v = mp.Int(); v && *v > 100) {
      Error(mp, "mirror_percent must have a max value of 100 (it has " + std::to_string(*v) + ")");
    }
    Warning(mp, "using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead");
  }
  if (N mp = h["mirrorPercentage"]; mp.ok()) {
    double v = mp["value"].Double().value_or(0);
    if (v > 100)
      Error(mp, "mirror_percentage must have a max value of 100 (it has " + FormatDouble(v) + ")");
    if (v < 0)
      Error(mp, "mirror_percentage must have a min value of 0 (it has " + FormatDouble(v) + ")");
  }
  Destination(h["mirror"]);
  for (const N& m : h["mirrors"].Items()) {
    if (!m["destination"].ok()) {
      Error(m, "destination is required for mirrors");
      continue;
    }
    Destination(m["destination"]);
    double v = m["percentage"]["value"].Double().value_or(0);
    if (v > 100)
      Error(m["percentage"],
            "mirror percentage must have a max value of 100 (it has " + FormatDouble(v) + ")");
    if (v < 0)
      Error(m["percentage"],
            "mirror percentage must have a min value of 0 (it has " + FormatDouble(v) + ")");
  }
  Redirect(h["redirect"], h["match"]);
  DirectResponse(h["directResponse"]);
  Retries(h["retries"]);
  Rewrite(h["rewrite"], h["headers"]);
  RouteDestinations(route, true);
  Duration(h["timeout"]);
}

void Checks::L4Match(const N& m) {
  for (const N& s : m["destinationSubnets"].Items()) {
    std::string v = s.Str();
    bool ok =
        std::count(v.begin(), v.end(), '/') == 1 ? NormalizeCidr(v).has_value() : IsIpAddress(v);
    if (!ok) {
      Error(s, std::count(v.begin(), v.end(), '/') == 1 ? v + " is not a valid CIDR block"
                                                        : v + " is not a valid IP");
    }
  }
  if (auto p = m["port"].Int(); p && *p != 0) Port(m["port"], *p);
  Labels(m["sourceLabels"]);
  GatewayNames(m["gateways"]);
}

// validateTLSRoute, validateTLSMatch, validateSniHost.
void Checks::TlsRoute(const N& t, const N& hosts) {
  auto matches = t["match"].Items();
  if (matches.empty()) Error(t, "TLS route must have at least one match condition");
  for (const N& m : matches) {
    auto snis = m["sniHosts"].Items();
    if (snis.empty()) Error(m, "TLS match must have at least one SNI host");
    for (const N& s : snis) {
      std::string sni = s.Str();
      if (std::string e = WildcardDomainError(sni); !e.empty()) {
        if (IsIpAddress(sni)) {
          Warning(s, "using an IP address (\"" + sni +
                         "\") goes against SNI spec and most clients do not support this");
        } else {
          Error(s, e);
        }
        continue;
      }
      bool covered = false;
      std::string list;
      for (const N& h : hosts.Items()) {
        covered |= HostSubsetOf(sni, h.Str());
        list += (list.empty() ? "" : ", ") + h.Str();
      }
      if (!covered) {
        Error(s, "SNI host \"" + sni +
                     "\" is not a compatible subset of any of the virtual "
                     "service hosts: [" +
                     list + "]");
      }
    }
    L4Match(m);
  }
  if (t["route"].Size() == 0) Error(t, "TLS route is required");
  RouteDestinations(t["route"], false);
}

// validateTCPRoute.
void Checks::TcpRoute(const N& t) {
  for (const N& m : t["match"].Items()) L4Match(m);
  if (t["route"].Size() == 0) Error(t, "TCP route is required");
  RouteDestinations(t["route"], false);
}

void Checks::VirtualService(const N& spec) {
  N hosts = spec["hosts"], gateways = spec["gateways"];
  const bool delegate = hosts.Size() == 0;
  if (delegate) {
    if (gateways.Size())
      Error(gateways, "delegate virtual service must have no gateways specified");
    if (spec["tls"].Size())
      Error(spec["tls"], "delegate virtual service must have no tls route specified");
    if (spec["tcp"].Size())
      Error(spec["tcp"], "delegate virtual service must have no tcp route specified");
  }
  bool applies_to_gateway = false;
  if (gateways.Size()) {
    GatewayNames(gateways);
    applies_to_gateway = true;
    for (const N& g : gateways.Items()) applies_to_gateway &= g.Str() != "mesh";
  }
  const bool applies_to_mesh = !applies_to_gateway;
  if (!applies_to_gateway) {
    for (const N& h : spec["http"].Items()) {
      for (const N& m : h["match"].Items()) {
        for (const char* key : {"headers", "withoutHeaders"}) {
          for (const auto& [name, v] : m[key].Entries()) {
            if (name.starts_with("@request.auth.claims")) {
              Error(v, "JWT claim based routing (key: " + name +
                           ") is only supported for gateway, found no gateways");
            }
          }
        }
      }
    }
  }
  bool all_valid = true;
  for (const N& h : hosts.Items()) {
    std::string host = h.Str();
    if (std::string e = WildcardDomainError(host); !e.empty()) {
      if (!IsIpAddress(host)) {
        Error(h, e);
        all_valid = false;
      }
    } else if (applies_to_mesh && host == "*") {
      Error(h, "wildcard host * is not allowed for virtual services bound to the mesh gateway");
      all_valid = false;
    }
  }
  if (all_valid) {
    auto items = hosts.Items();
    for (size_t i = 0; i < items.size(); ++i) {
      for (size_t j = i + 1; j < items.size(); ++j) {
        if (HostsOverlap(items[i].Str(), items[j].Str())) {
          Error(items[j],
                "duplicate hosts in virtual service: " + items[i].Str() + " & " + items[j].Str());
        }
      }
    }
  }
  if (spec["http"].Size() == 0 && spec["tcp"].Size() == 0 && spec["tls"].Size() == 0) {
    Error(spec, "http, tcp or tls must be provided in virtual service");
  }
  for (const N& h : spec["http"].Items()) HttpRoute(h, delegate);
  for (const N& t : spec["tls"].Items()) TlsRoute(t, hosts);
  for (const N& t : spec["tcp"].Items()) TcpRoute(t);
  ExportTo(spec["exportTo"]);
}

// ---- DestinationRule ----

// agent.ValidateTLS (client side).
void Checks::ClientTls(const N& tls) {
  if (!tls.ok()) return;
  std::string mode = tls["mode"].Str();
  std::string cred = tls["credentialName"].Str();
  bool skip = tls["insecureSkipVerify"].Str() == "true";
  if (skip && mode == "SIMPLE" &&
      (!tls["caCertificates"].Str().empty() || !cred.empty() || tls["subjectAltNames"].present)) {
    Error(tls,
          "cannot specify CaCertificates or CredentialName or SubjectAltNames when "
          "InsecureSkipVerify is set true");
  }
  if (skip && mode == "MUTUAL" &&
      (!tls["caCertificates"].Str().empty() || tls["subjectAltNames"].present)) {
    Error(tls,
          "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set "
          "true");
  }
  if ((mode == "SIMPLE" || mode == "MUTUAL") && !cred.empty()) {
    if (!tls["clientCertificate"].Str().empty() || !tls["caCertificates"].Str().empty() ||
        !tls["privateKey"].Str().empty() || !tls["caCrl"].Str().empty()) {
      Error(tls,
            "cannot specify client certificates or CA certificate or CA CRL If "
            "credentialName is set");
    }
    return;
  }
  if (mode == "MUTUAL") {
    if (tls["clientCertificate"].Str().empty())
      Error(tls, "client certificate required for mutual tls");
    if (tls["privateKey"].Str().empty()) Error(tls, "private key required for mutual tls");
  }
}

bool IsPrime(uint64_t x) {
  if (x != 0 && x < 4) return true;
  if ((x & 1) == 0) return false;
  uint64_t limit = static_cast<uint64_t>(std::sqrt(static_cast<double>(x)));
  for (uint64_t f = 3; f <= limit; f += 2) {
    if (x % f == 0) return false;
  }
  return true;
}

// validateLoadBalancer with agent.ValidateLocalityLbSetting / ValidateZoneAwareLbSetting.
void Checks::LoadBalancer(const N& lb, const N& outlier) {
  if (!lb.ok()) return;
  if (N ch = lb["consistentHash"]; ch.ok()) {
    N cookie = ch["httpCookie"];
    if (cookie.ok() && cookie["name"].Str().empty()) Error(cookie, "name required for HttpCookie");
    std::set<std::string> names;
    for (const N& a : cookie["attributes"].Items()) {
      std::string n = a["name"].Str();
      if (n.empty()) {
        Error(a, "cookie attribute name cannot be empty");
      } else if (!names.insert(n).second) {
        Error(a, "duplicate cookie attribute name: " + n);
      }
    }
    bool min_ring = ch["minimumRingSize"].Int().value_or(0) != 0;
    if (min_ring) {
      Warning(ch["minimumRingSize"],
              "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash "
              "configuration instead");
    }
    if (min_ring && (ch["ringHash"].ok() || ch["maglev"].ok())) {
      Error(ch, "only one of MinimumRingSize or Maglev/Ringhash can be specified");
    }
    if (N ml = ch["maglev"]; ml.ok()) {
      int64_t size = ml["tableSize"].Int().value_or(0);
      if (size == 0) Error(ml, "tableSize must be set for maglev");
      if (size >= 5000011) Error(ml["tableSize"], "tableSize must be less than 5000011 for maglev");
      if (size >= 0 && !IsPrime(static_cast<uint64_t>(size))) {
        Error(ml.Has("tableSize") ? ml["tableSize"] : ml,
              "tableSize must be a prime number for maglev");
      }
    }
  }
  N loc = lb["localityLbSetting"], zone = lb["zoneAwareLbSetting"];
  if (loc.ok() && zone.ok()) {
    Error(zone, "only one of localityLbSetting and zoneAwareLbSetting can be set");
  }
  if (loc.ok()) {
    [&] {
      auto distribute = loc["distribute"].Items();
      auto failover = loc["failover"].Items();
      auto priority = loc["failoverPriority"].Items();
      if (!distribute.empty() && !failover.empty()) {
        return Error(loc, "can not simultaneously specify 'distribute' and 'failover'");
      }
      if (!failover.empty()) {
        for (const N& p : priority) {
          std::string l = p.Str();
          if (l == "topology.kubernetes.io/region" || l == "topology.kubernetes.io/zone" ||
              l == "topology.istio.io/subzone") {
            return Error(p, "can not simultaneously set 'failover' and topology label '" + l +
                                "' in 'failover_priority'");
          }
        }
      }
      // validateLocalities: no empty region/zone/subzone, one trailing '*' at most.
      auto locality_ok = [&](const N& at, const std::string& l) {
        size_t stars = std::count(l.begin(), l.end(), '*');
        if (stars > 1 || (stars == 1 && !l.ends_with("*"))) {
          Error(at,
                "locality " + l + " wildcard '*' number can not exceed 1 and must be in the end");
          return false;
        }
        size_t start = 0;
        for (int parts = 0; parts < 3; ++parts) {
          size_t slash = l.find('/', start);
          if (l.substr(start, slash == std::string::npos ? std::string::npos : slash - start)
                  .empty()) {
            Error(at, "locality " + l + " must not contain empty region/zone/subzone info");
            return false;
          }
          if (slash == std::string::npos) break;
          start = slash + 1;
        }
        return true;
      };
      for (const N& d : distribute) {
        if (!locality_ok(d, d["from"].Str())) return;
        for (const auto& [k, w] : d["to"].Entries()) {
          if (!locality_ok(w, k)) return;
        }
      }
      for (const N& d : distribute) {
        int64_t total = 0;
        for (const auto& [k, w] : d["to"].Entries()) {
          int64_t v = w.Int().value_or(0);
          if (v <= 0 || v > 100) return Error(w, "locality weight must be in range [1, 100]");
          total += v;
        }
        if (total != 100) {
          return Error(d, "total locality weight " + std::to_string(total) + " != 100");
        }
      }
      if ((!failover.empty() || !priority.empty()) && !outlier.ok()) {
        Warning(loc, "outlier detection policy must be provided for failover");
      }
      for (const N& f : failover) {
        std::string from = f["from"].Str(), to = f["to"].Str();
        if (from == to) Error(f, "locality lb failover settings must specify different regions");
        if (from.find('/') != std::string::npos || to.find('/') != std::string::npos) {
          Error(f, "locality lb failover only specify region");
        }
        if (from.find('*') != std::string::npos || to.find('*') != std::string::npos) {
          Error(f, "locality lb failover region should not contain '*' wildcard");
        }
      }
    }();
  }
  if (zone.ok()) {
    for (const N& p : zone["failoverPriority"].Items()) {
      std::string l = p.Str();
      if (l == "topology.kubernetes.io/region" || l == "topology.kubernetes.io/zone" ||
          l == "topology.istio.io/subzone") {
        Error(p, "'failover_priority' for zone aware lb must not use topology label '" + l +
                     "'; region- and zone-level routing are handled automatically");
      }
    }
    for (const N& f : zone["failover"].Items()) {
      std::string from = f["from"].Str(), to = f["to"].Str();
      if (from == to) Error(f, "zone aware lb failover settings must specify different regions");
      if (from.find('/') != std::string::npos || to.find('/') != std::string::npos) {
        Error(f,
              "zone aware lb failover only specifies region; zone and subzone failover are "
              "handled automatically");
      }
      if (from.find('*') != std::string::npos || to.find('*') != std::string::npos) {
        Error(f, "zone aware lb failover region should not contain '*' wildcard");
      }
    }
  }
  if (N warm = lb["warmup"]; warm.ok()) {
    if (!warm["duration"].ok()) {
      Error(warm, "duration is required");
    } else {
      Duration(warm["duration"]);
    }
    if (warm["minimumPercent"].Double().value_or(0) > 100) {
      Error(warm["minimumPercent"], "minimumPercent value should be less than or equal to 100");
    }
    if (N a = warm["aggression"]; a.ok() && a.Double().value_or(1) <= 0) {
      Error(a, "aggression should be greater than 0");
    }
  }
}

// validateConnectionPool.
void Checks::ConnectionPool(const N& cp) {
  if (!cp.ok()) return;
  N http = cp["http"], tcp = cp["tcp"];
  if (!http.ok() && !tcp.ok()) return Error(cp, "connection pool must have at least one field");
  if (http.ok()) {
    Duration(http["idleTimeout"]);
    if (N k = http["http2KeepAlive"]; k.ok()) {
      if (!k["interval"].ok()) Error(k, "http2 keepalive interval is required");
      Duration(k["interval"]);
      if (!k["timeout"].ok()) Error(k, "http2 keepalive timeout is required");
      Duration(k["timeout"]);
    }
  }
  if (tcp.ok()) {
    Duration(tcp["connectTimeout"]);
    Duration(tcp["maxConnectionDuration"]);
    if (N idle = tcp["idleTimeout"]; idle.ok()) {
      auto ns = ParseDuration(idle.Str(), nullptr);
      if (ns && *ns / 1'000'000 != 0) Duration(idle);
    }
    Duration(tcp["tcpKeepalive"]["time"]);
    Duration(tcp["tcpKeepalive"]["interval"]);
  }
}

// validateOutlierDetection.
void Checks::OutlierDetection(const N& od) {
  if (!od.ok()) return;
  Duration(od["baseEjectionTime"]);
  Duration(od["interval"]);
  for (const char* key : {"maxEjectionPercent", "minHealthPercent"}) {
    if (auto v = od[key].Int(); v && (*v < 0 || *v > 100)) {
      Error(od[key], "percentage " + std::to_string(*v) + " is not in range 0..100");
    }
  }
}

// validateTrafficPolicy / validatePortTrafficPolicies.
void Checks::TrafficPolicy(const N& tp, bool port_level) {
  if (!tp.ok()) return;
  static constexpr std::string_view kParts[] = {"outlierDetection", "connectionPool",
                                                "loadBalancer", "tls"};
  bool any = false;
  for (auto k : kParts) any |= tp.Has(k);
  if (port_level) {
    if (!tp.Has("port")) Error(tp, "portTrafficPolicy must have valid port");
    if (!any) return Error(tp, "port traffic policy must have at least one field");
  } else {
    any |= tp["portLevelSettings"].Size() > 0 || tp.Has("tunnel") || tp.Has("proxyProtocol") ||
           tp.Has("retryBudget");
    if (!any) return Error(tp, "traffic policy must have at least one field");
    if (tp.Has("tunnel") && tp.Has("proxyProtocol")) {
      return Error(tp, "tunnel and proxyProtocol must not be set together");
    }
  }
  OutlierDetection(tp["outlierDetection"]);
  ConnectionPool(tp["connectionPool"]);
  LoadBalancer(tp["loadBalancer"], tp["outlierDetection"]);
  ClientTls(tp["tls"]);
  if (port_level) return;
  for (const N& p : tp["portLevelSettings"].Items()) TrafficPolicy(p, true);
  if (N t = tp["tunnel"]; t.ok()) {
    std::string proto = t["protocol"].Str();
    if (!proto.empty() && proto != "CONNECT" && proto != "POST") {
      Error(t["protocol"], "tunnel protocol must be \"CONNECT\" or \"POST\"");
    }
    std::string host = t["targetHost"].Str();
    if (std::string e = FqdnError(host); !e.empty() && !IsIpAddress(host)) {
      Error(t.Has("targetHost") ? t["targetHost"] : t,
            "tunnel target host must be valid FQDN or IP address: " + e + "; " + host +
                " is not a valid IP");
    }
    Port(t.Has("targetPort") ? t["targetPort"] : t, t["targetPort"].Int().value_or(0),
         "tunnel target port is invalid: ");
  }
  if (N pp = tp["proxyProtocol"]; pp.ok()) {
    std::string v = pp["version"].Str();
    if (!v.empty() && v != "V1" && v != "V2") {
      Error(pp["version"], "proxy protocol version is invalid: " + v);
    }
  }
}

void Checks::DestinationRule(const N& spec) {
  // (A missing host is the decoder's error.)
  if (std::string e = WildcardDomainError(spec["host"].Str()); spec.Has("host") && !e.empty()) {
    Error(spec["host"], e);
  }
  TrafficPolicy(spec["trafficPolicy"], false);
  for (const N& s : spec["subsets"].Items()) {
    std::string name = s["name"].Str();
    if (name.empty()) {
      Error(s, "subset name cannot be empty");
    } else if (!IsIstioDnsLabel(name)) {
      Error(s["name"], "subset name is invalid: " + name);
    }
    Labels(s["labels"]);
    TrafficPolicy(s["trafficPolicy"], false);
  }
  ExportTo(spec["exportTo"], false, spec["workloadSelector"].ok());
}

// protocol.Parse: the protocol names Istio knows (case-insensitive).
std::string ProtocolOf(std::string_view p) {
  std::string u;
  for (char c : p) u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::set<std::string> kKnown = {"TCP",  "UDP",        "GRPC",  "GRPC-WEB",
                                               "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS",
                                               "TLS",  "MONGO",      "REDIS", "MYSQL"};
  return kKnown.count(u) ? u : "";
}
bool IsHttpProtocol(const std::string& p) {
  return p == "HTTP" || p == "HTTP2" || p == "HTTP_PROXY" || p == "GRPC" || p == "GRPC-WEB";
}
bool IsTlsProtocol(const std::string& p) {
  return p == "HTTPS" || p == "TLS";
}

// ValidateServiceEntry (with validateWorkloadEntry for STATIC endpoints).
void Checks::ServiceEntry(const N& spec, const std::string& use_waypoint) {
  N hosts = spec["hosts"], endpoints = spec["endpoints"], ports = spec["ports"];
  if (spec["workloadSelector"].ok() && endpoints.present) {
    Error(spec["workloadSelector"],
          "only one of WorkloadSelector or Endpoints is allowed in Service Entry");
  }
  const std::string resolution = spec["resolution"].ok() ? spec["resolution"].Str() : "NONE";
  if (hosts.Size() == 0) Error(spec, "service entry must have at least one host");
  for (const N& h : hosts.Items()) {
    std::string host = h.Str();
    if (host == "*") {
      Error(h, "invalid host *");
      continue;
    }
    if (std::string e = WildcardDomainError(host); !e.empty()) Error(h, e);
    if (resolution != "DYNAMIC_DNS" && host.find('*') != std::string::npos && host.size() != 1 &&
        !host.starts_with("*.")) {
      Warning(h, "partial wildcard \"" + host + "\" not allowed");
    }
  }
  bool cidr = false;
  for (const N& a : spec["addresses"].Items()) {
    std::string v = a.Str();
    bool is_cidr = std::count(v.begin(), v.end(), '/') == 1;
    cidr |= v.find('/') != std::string::npos;
    if (is_cidr ? !NormalizeCidr(v) : !IsIpAddress(v)) {
      Error(a, is_cidr ? v + " is not a valid CIDR block" : v + " is not a valid IP");
    }
  }
  if (cidr && resolution != "NONE" && resolution != "STATIC") {
    Error(spec["addresses"], "CIDR addresses are allowed only for NONE/STATIC resolution types");
  }
  std::set<std::string> names;
  std::set<int64_t> numbers;
  std::vector<std::string> protocols;
  for (const N& p : ports.Items()) {
    std::string name = p["name"].Str();
    if (!names.insert(name).second)
      Error(p, "service entry port name \"" + name + "\" already defined");
    int64_t number = p["number"].Int().value_or(0);
    if (!numbers.insert(number).second) {
      Error(p, "service entry port " + std::to_string(number) + " already defined");
    }
    if (auto t = p["targetPort"].Int(); t && *t != 0) Port(p["targetPort"], *t);
    if (!IsIstioDnsLabel(name)) Error(p.Has("name") ? p["name"] : p, "invalid port name: " + name);
    std::string proto = p["protocol"].Str();
    if (!proto.empty() && ProtocolOf(proto).empty())
      Error(p["protocol"], "unsupported protocol: " + proto);
    protocols.push_back(ProtocolOf(proto));
    Port(p.Has("number") ? p["number"] : p, number);
  }
  auto endpoint_ports = [&](const N& ep) {
    for (const auto& [name, port] : ep["ports"].Entries()) {
      if (!names.count(name)) {
        Error(port, "endpoint port " + port.Str() + " is not defined by the service entry");
      }
      if (!IsIstioDnsLabel(name)) Error(port, "invalid port name: " + name);
      Port(port, port.Int().value_or(0));
    }
    Labels(ep["labels"]);
  };
  if (resolution == "NONE") {
    if (endpoints.Size() != 0) {
      Error(endpoints, "no endpoints should be provided for resolution type none");
    } else if (endpoints.present) {
      Error(endpoints, "NONE mode cannot set endpoints");  // the CRD's CEL rule: even empty
    }
    if (spec["workloadSelector"].ok()) {
      Warning(spec["workloadSelector"],
              "workloadSelector should not be set when resolution mode is NONE");
    }
  } else if (resolution == "STATIC") {
    for (const N& ep : endpoints.Items()) {
      std::string addr = ep["address"].Str();
      if (addr.empty()) {
        if (ep["network"].Str().empty()) {
          Error(ep, "address is required");
          continue;
        }
        Warning(ep, "address is unset with network \"" + ep["network"].Str() + "\"");
      }
      if (addr.starts_with("unix://")) {
        if (ep["ports"].Size() != 0) Error(ep, "unix endpoint " + addr + " must not include ports");
        if (names.size() != 1) Error(ep, "exactly 1 service port required for unix endpoints");
      } else if (!addr.empty() && !IsIpAddress(addr)) {
        Error(ep["address"], "endpoint address \"" + addr + "\" is not a valid IP address");
      }
      endpoint_ports(ep);
    }
  } else if (resolution == "DNS" || resolution == "DNS_ROUND_ROBIN") {
    if (endpoints.Size() == 0) {
      for (const N& h : hosts.Items()) {
        if (std::string e = FqdnError(h.Str()); !e.empty()) {
          Error(h,
                "hosts must be FQDN or contain only prefix wildcards if no endpoints are "
                "provided for resolution mode " +
                    resolution + ", " + e);
          break;
        }
      }
    }
    if (resolution == "DNS_ROUND_ROBIN" && endpoints.Size() > 1) {
      Error(endpoints, "there must only be 0 or 1 endpoint for resolution mode " + resolution);
    }
    for (const N& ep : endpoints.Items()) {
      std::string addr = ep["address"].Str();
      if (!IsIpAddress(addr) && !FqdnError(addr).empty()) {
        Error(ep.Has("address") ? ep["address"] : ep,
              "endpoint address \"" + addr + "\" is not a valid FQDN or an IP address");
      }
      endpoint_ports(ep);
    }
  } else if (resolution == "DYNAMIC_DNS") {
    if (hosts.Size() == 0) {
      Error(spec, "at least one wildcard host must be provided for resolution type DYNAMIC_DNS");
    }
    for (const N& h : hosts.Items()) {
      if (!h.Str().starts_with("*"))
        Error(h, "host must be wildcarded for resolution mode DYNAMIC_DNS");
    }
    if (spec["addresses"].Size()) {
      Error(spec["addresses"],
            "addresses cannot be set for resolution type DYNAMIC_DNS. HTTP route "
            "domains will only be generatedfrom the hosts field values");
    }
    if (endpoints.Size()) {
      Error(endpoints,
            "endpoints cannot be set for resolution type DYNAMIC_DNS. Destination IP "
            "address determined from hostsfield values");
    }
    for (size_t i = 0; i < protocols.size(); ++i) {
      const std::string& p = protocols[i];
      if (p != "HTTP" && p != "TLS" && p != "GRPC" && p != "HTTP2") {
        Error(ports.Items()[i],
              "only HTTP, TLS, GRPC, and HTTP2 protocols are supported for "
              "resolution type DYNAMIC_DNS");
      }
    }
    std::string location = spec["location"].ok() ? spec["location"].Str() : "MESH_EXTERNAL";
    if (location == "MESH_INTERNAL" && !use_waypoint.empty() && !IEquals(use_waypoint, "none")) {
      Error(spec["location"],
            "location MESH_INTERNAL with resolution type DYNAMIC_DNS is not "
            "supported when using waypoints");
    }
  }
  if (resolution != "NONE" && hosts.Size() > 1) {
    for (const auto& p : protocols) {
      if (!IsHttpProtocol(p) && !IsTlsProtocol(p)) {
        Error(hosts, "multiple hosts provided with non-HTTP, non-TLS ports");
        break;
      }
    }
  }
  ExportTo(spec["exportTo"], true);
}

}  // namespace

void CheckServiceEntryAsIstio(DiagnosticSink& sink, yaml::Node spec, const std::string& path,
                              const std::string& ns, const std::string& use_waypoint) {
  Checks(sink, ns).ServiceEntry({spec, path, true}, use_waypoint);
}

void CheckVirtualServiceAsIstio(DiagnosticSink& sink, yaml::Node spec, const std::string& path,
                                const std::string& ns) {
  Checks(sink, ns).VirtualService({spec, path, true});
}

void CheckDestinationRuleAsIstio(DiagnosticSink& sink, yaml::Node spec, const std::string& path,
                                 const std::string& ns) {
  Checks(sink, ns).DestinationRule({spec, path, true});
}

}  // namespace weft::policy
