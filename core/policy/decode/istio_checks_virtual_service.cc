// Istio's ValidateVirtualService (istio_checks.h): routes, matches, rewrites, redirects,
// faults, retries, CORS, TLS and TCP routes. Each check names the upstream function it
// reproduces; messages are Istio's.

#include "core/policy/decode/istio_checks.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/policy/decode/istio_checks_internal.h"

namespace weft::policy {
namespace istio_checks {

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
  // validateHTTPRouteMatchRequest's header names (headers and withoutHeaders alike).
  auto header_name = [this](const std::string& name, const N& h) {
    if (name.empty()) {
      Error(h, "header name cannot be empty");
    } else if (!name.starts_with("@request.auth.claims") && !IsPseudoHeader(name) &&
               !IsHeaderToken(name)) {
      Error(h, "header name " + name + " is not a valid header name");
    }
  };
  for (const auto& [name, h] : m["headers"].Entries()) {
    header_name(name, h);
    StringMatch(h, "headers", false);
  }
  for (const auto& [name, h] : m["withoutHeaders"].Entries()) {
    header_name(name, h);
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

}  // namespace istio_checks

void CheckVirtualServiceAsIstio(DiagnosticSink& sink, yaml::Node spec, const std::string& path,
                                const std::string& ns) {
  istio_checks::Checks(sink, ns).VirtualService({spec, path, true});
}

}  // namespace weft::policy
