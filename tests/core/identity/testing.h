#pragma once

// Shared fixtures for the identity tests: a CA per trust domain, workload certificates issued
// through the real CSR path, and helpers that damage DER on purpose.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/identity/ca.h"
#include "core/identity/certificate.h"
#include "core/identity/csr.h"
#include "core/identity/key_pair.h"
#include "core/identity/spiffe_id.h"

namespace weft::identity::testing {

using namespace std::chrono_literals;

template <typename T>
T Must(absl::StatusOr<T> v) {
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok()) std::abort();
  return std::move(*v);
}

inline CertificateAuthority MakeCa(std::string_view td = "cluster.local",
                                   TimePoint now = Clock::now()) {
  return Must(CertificateAuthority::CreateRoot(td, std::chrono::hours(24 * 365), now));
}

inline SpiffeId NodeId(std::string_view td, std::string_view node) {
  return Must(SpiffeId::Node(td, node));
}

inline SignAuthorizer AllowAll() {
  return [](const SpiffeId&, const SpiffeId&) { return absl::OkStatus(); };
}

struct Svid {
  Certificate cert;
  KeyPair key;
};

// A workload certificate through CreateCsr -> Sign, as the agent and CA will do it.
inline Svid IssueWorkload(const CertificateAuthority& ca, std::string_view ns, std::string_view sa,
                          std::chrono::seconds ttl = 1h) {
  KeyPair key = Must(KeyPair::GenerateP256());
  SpiffeId id = Must(SpiffeId::Workload(ca.trust_domain(), ns, sa));
  std::string csr = Must(CreateCsr(key, id));
  Certificate cert = Must(ca.Sign(csr, NodeId(ca.trust_domain(), "node1"), ttl, AllowAll()));
  return Svid{std::move(cert), std::move(key)};
}

inline Svid IssueNode(const CertificateAuthority& ca, std::string_view node,
                      std::chrono::seconds ttl = 1h) {
  KeyPair key = Must(KeyPair::GenerateP256());
  Certificate cert = Must(ca.IssueNodeCertificate(node, key.get(), ttl));
  return Svid{std::move(cert), std::move(key)};
}

// PEM <-> DER for any PEM type label ("CERTIFICATE REQUEST", ...).
std::string PemToDer(std::string_view pem);
std::string DerToPem(std::string_view der, std::string_view label);

}  // namespace weft::identity::testing
