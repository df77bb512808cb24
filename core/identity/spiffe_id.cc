#include "core/identity/spiffe_id.h"

#include <vector>

#include "core/identity/strings.h"

namespace weft::identity {
namespace {

constexpr std::string_view kScheme = "spiffe://";
constexpr size_t kMaxUri = 2048;
constexpr size_t kMaxTrustDomain = 255;

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

absl::Status Invalid(std::string_view what, std::string_view value) {
  return absl::InvalidArgumentError(internal::Cat("invalid SPIFFE ID: ", what, " \"", value, "\""));
}

}  // namespace

bool IsValidTrustDomain(std::string_view td) {
  if (td.empty() || td.size() > kMaxTrustDomain) return false;
  for (char c : td) {
    if (!IsLowerAlnum(c) && c != '.' && c != '-' && c != '_') return false;
  }
  return true;
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (std::string_view label : Split(s, '.')) {
    if (!IsDnsLabel(label)) return false;
  }
  return true;
}

std::string_view KindName(SpiffeId::Kind k) {
  switch (k) {
    case SpiffeId::Kind::kWorkload:
      return "workload";
    case SpiffeId::Kind::kNode:
      return "node";
    case SpiffeId::Kind::kCaServer:
      return "ca";
  }
  return "unknown";
}

const std::string& SpiffeId::empty_() {
  static const std::string* e = new std::string();
  return *e;
}

absl::StatusOr<SpiffeId> SpiffeId::Workload(std::string_view trust_domain, std::string_view ns,
                                            std::string_view service_account) {
  if (!IsValidTrustDomain(trust_domain)) return Invalid("trust domain", trust_domain);
  if (!IsDnsLabel(ns)) return Invalid("namespace", ns);
  if (!IsDnsSubdomain(service_account)) return Invalid("service account", service_account);
  SpiffeId id;
  id.kind_ = Kind::kWorkload;
  id.trust_domain_ = trust_domain;
  id.ns_ = ns;
  id.name_ = service_account;
  id.uri_ = internal::Cat(kScheme, trust_domain, "/ns/", ns, "/sa/", service_account);
  if (id.uri_.size() > kMaxUri) return Invalid("too long", id.uri_);
  return id;
}

absl::StatusOr<SpiffeId> SpiffeId::Node(std::string_view trust_domain, std::string_view node) {
  if (!IsValidTrustDomain(trust_domain)) return Invalid("trust domain", trust_domain);
  if (!IsDnsSubdomain(node)) return Invalid("node name", node);
  SpiffeId id;
  id.kind_ = Kind::kNode;
  id.trust_domain_ = trust_domain;
  id.name_ = node;
  id.uri_ = internal::Cat(kScheme, trust_domain, "/weft/node/", node);
  return id;
}

absl::StatusOr<SpiffeId> SpiffeId::CaServer(std::string_view trust_domain) {
  if (!IsValidTrustDomain(trust_domain)) return Invalid("trust domain", trust_domain);
  SpiffeId id;
  id.kind_ = Kind::kCaServer;
  id.trust_domain_ = trust_domain;
  id.uri_ = internal::Cat(kScheme, trust_domain, "/weft/ca");
  return id;
}

absl::StatusOr<SpiffeId> SpiffeId::Parse(std::string_view uri) {
  if (uri.size() > kMaxUri) return Invalid("longer than 2048 bytes", uri.substr(0, 64));
  // The scheme must be exactly lowercase "spiffe://": SVIDs are compared byte for byte.
  if (uri.substr(0, kScheme.size()) != kScheme) return Invalid("scheme is not spiffe://", uri);
  std::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return Invalid("no path", uri);
  std::string_view td = rest.substr(0, slash);
  if (!IsValidTrustDomain(td)) return Invalid("trust domain", td);
  std::string_view path = rest.substr(slash);  // starts with '/'
  std::vector<std::string_view> seg = Split(path.substr(1), '/');
  if (seg.size() == 4 && seg[0] == "ns" && seg[2] == "sa") return Workload(td, seg[1], seg[3]);
  if (seg.size() == 3 && seg[0] == "weft" && seg[1] == "node") return Node(td, seg[2]);
  if (seg.size() == 2 && seg[0] == "weft" && seg[1] == "ca") return CaServer(td);
  return Invalid("path is not /ns/<ns>/sa/<sa>, /weft/node/<node> or /weft/ca", path);
}

}  // namespace weft::identity
