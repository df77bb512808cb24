#pragma once

// The certificate authority: one root (ECDSA P-256, self-signed) that signs
//   - workload SVIDs from CSRs, for an agent that proved its node identity and only for a
//     service account with a pod on that agent's node (the decision is injected);
//   - node client certificates (spiffe://<td>/weft/node/<node>), issued out of band at
//     bootstrap (`tools/cluster up`), never from a CSR;
//   - the CA server's own serving certificate (spiffe://<td>/weft/ca).
// It is pure: no sockets, no files except FromFiles; time comes from an injectable clock.

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/identity/certificate.h"
#include "core/identity/key_pair.h"
#include "core/identity/spiffe_id.h"

namespace weft::identity {

struct CaSettings {
  // Longest workload certificate: longer requests are shortened to this.
  std::chrono::seconds max_workload_ttl = std::chrono::hours(24);
  // notBefore = now - backdate, so a peer whose clock is a little behind accepts the cert;
  // at most a tenth of the lifetime, so that a short-lived certificate's half life (when it
  // is renewed) still lies ahead when it is issued.
  std::chrono::seconds backdate = std::chrono::minutes(5);
};

// Decides whether `requester` (already authenticated: a node by its client certificate or
// its agent's ServiceAccount token, a workload by its own ServiceAccount token) may get a
// certificate for `subject` (a workload identity in the CA's trust domain). OK to allow; an
// error (PermissionDenied) refuses and is returned to the caller.
using SignAuthorizer =
    std::function<absl::Status(const SpiffeId& requester, const SpiffeId& subject)>;

// The standard authorizer. A node requester may get certificates for the service accounts of
// pods on that node: `has_pod(node, ns, sa)` must say one is scheduled there (local mode: the
// config store; Kubernetes: the CA's pod informer, then the API). A workload requester (a
// ServiceAccount token holder such as a waypoint, as istiod allows) may get its own identity
// only.
using HasPodOnNode =
    std::function<bool(std::string_view node, std::string_view ns, std::string_view sa)>;
SignAuthorizer PodOnNodeAuthorizer(HasPodOnNode has_pod);

class CertificateAuthority {
 public:
  using ClockFn = std::function<TimePoint()>;

  // A new root: O=<trust domain>, CN=weft root CA <serial prefix>, URI SAN spiffe://<td>,
  // CA:TRUE pathlen 0, keyCertSign+cRLSign, valid from now - backdate for `lifetime`.
  static absl::StatusOr<CertificateAuthority> CreateRoot(std::string_view trust_domain,
                                                         std::chrono::seconds lifetime,
                                                         TimePoint now = Clock::now(),
                                                         CaSettings settings = {});
  // An existing root. The trust domain comes from the root's spiffe://<td> URI SAN; a root
  // without one needs `trust_domain`. The key must be P-256 and match the certificate.
  static absl::StatusOr<CertificateAuthority> FromPem(std::string_view cert_pem,
                                                      std::string_view key_pem,
                                                      std::string_view trust_domain = "",
                                                      CaSettings settings = {});
  static absl::StatusOr<CertificateAuthority> FromFiles(const std::string& cert_path,
                                                        const std::string& key_path,
                                                        std::string_view trust_domain = "",
                                                        CaSettings settings = {});

  const std::string& trust_domain() const { return trust_domain_; }
  const Certificate& root() const { return root_; }
  std::string RootKeyPem() const { return key_.PrivateKeyPem(); }
  const CaSettings& settings() const { return settings_; }
  // Tests move time; default Clock::now.
  void set_clock(ClockFn clock) { clock_ = std::move(clock); }

  // Workload SVID from a PEM CSR. Refuses (in this order): a malformed CSR or one whose
  // signature does not verify (InvalidArgument); a subject that is not a workload ID in this
  // trust domain, or a requester that is not a node of this trust domain (PermissionDenied);
  // whatever `authorize` refuses; a TTL <= 0 (InvalidArgument); an expired root
  // (FailedPrecondition). The TTL is capped at settings().max_workload_ttl and at the root's
  // notAfter.
  absl::StatusOr<Certificate> Sign(std::string_view csr_pem, const SpiffeId& requester,
                                   std::chrono::seconds requested_ttl,
                                   const SignAuthorizer& authorize) const;

  // Node client certificate (extKeyUsage clientAuth only) for `public_key`.
  absl::StatusOr<Certificate> IssueNodeCertificate(std::string_view node, EVP_PKEY* public_key,
                                                   std::chrono::seconds ttl) const;
  // The CA server's serving certificate (extKeyUsage serverAuth only).
  absl::StatusOr<Certificate> IssueCaServerCertificate(EVP_PKEY* public_key,
                                                       std::chrono::seconds ttl) const;

 private:
  enum class Usage { kClient, kServer, kBoth };
  CertificateAuthority(std::string td, Certificate root, KeyPair key, CaSettings settings)
      : trust_domain_(std::move(td)),
        root_(std::move(root)),
        key_(std::move(key)),
        settings_(settings) {}
  absl::StatusOr<Certificate> Issue(const SpiffeId& id, EVP_PKEY* public_key,
                                    std::chrono::seconds ttl, Usage usage) const;
  std::chrono::seconds Backdate(std::chrono::seconds ttl) const {
    return std::min(settings_.backdate, ttl / 10);
  }

  std::string trust_domain_;
  Certificate root_;
  KeyPair key_;
  CaSettings settings_;
  ClockFn clock_ = [] { return Clock::now(); };
};

// 16 random bytes with the top bit cleared: a positive serial of up to 128 bits.
ossl::Asn1Integer RandomSerial();

}  // namespace weft::identity
