#pragma once

// SPIFFE IDs as weft issues and accepts them. Three shapes, nothing else:
//
//   spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>   a workload (Istio's form)
//   spiffe://<trust-domain>/weft/node/<node>                      a node agent (CA client)
//   spiffe://<trust-domain>/weft/ca                               the CA server
//
// Trust domain: 1..255 of [a-z0-9._-] (SPIFFE: lowercase, no port, no userinfo). Namespace: a
// DNS-1123 label; service account and node: DNS-1123 subdomains (Kubernetes' own rules), so
// every path segment is also a valid SPIFFE segment. The whole ID is at most 2048 bytes.

#include <compare>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::identity {

class SpiffeId {
 public:
  enum class Kind { kWorkload, kNode, kCaServer };

  static absl::StatusOr<SpiffeId> Parse(std::string_view uri);
  static absl::StatusOr<SpiffeId> Workload(std::string_view trust_domain, std::string_view ns,
                                           std::string_view service_account);
  static absl::StatusOr<SpiffeId> Node(std::string_view trust_domain, std::string_view node);
  static absl::StatusOr<SpiffeId> CaServer(std::string_view trust_domain);

  Kind kind() const { return kind_; }
  const std::string& trust_domain() const { return trust_domain_; }
  // Workload only (empty otherwise).
  const std::string& ns() const { return ns_; }
  const std::string& service_account() const { return kind_ == Kind::kWorkload ? name_ : empty_(); }
  // Node only (empty otherwise).
  const std::string& node() const { return kind_ == Kind::kNode ? name_ : empty_(); }

  // spiffe://td/ns/x/sa/y etc.
  const std::string& str() const { return uri_; }
  // Istio's principal form for AuthorizationPolicy: td/ns/x/sa/y (no scheme).
  std::string Principal() const { return uri_.substr(sizeof("spiffe://") - 1); }

  friend bool operator==(const SpiffeId& a, const SpiffeId& b) { return a.uri_ == b.uri_; }
  friend std::strong_ordering operator<=>(const SpiffeId& a, const SpiffeId& b) {
    return a.uri_ <=> b.uri_;
  }

 private:
  SpiffeId() = default;
  static const std::string& empty_();

  Kind kind_ = Kind::kWorkload;
  std::string trust_domain_;
  std::string ns_;
  std::string name_;  // service account (workload) or node name (node)
  std::string uri_;
};

// Validators, exposed for the CA and the agent's settings.
bool IsValidTrustDomain(std::string_view td);
bool IsDnsLabel(std::string_view s);      // [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63
bool IsDnsSubdomain(std::string_view s);  // dot-separated labels, <= 253

std::string_view KindName(SpiffeId::Kind k);

}  // namespace weft::identity
