#pragma once

// An X.509 certificate (shared, immutable: copies share one X509 by reference count) and
// the facts weft reads from it.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/identity/ossl.h"
#include "core/identity/spiffe_id.h"

namespace weft::identity {

class Certificate {
 public:
  // Exactly one certificate in `pem` (text around it is ignored, a second one is an error).
  static absl::StatusOr<Certificate> FromPem(std::string_view pem);
  // All certificates in `pem`, in order; at least one.
  static absl::StatusOr<std::vector<Certificate>> ChainFromPem(std::string_view pem);
  static absl::StatusOr<Certificate> FromDer(std::string_view der);
  // Takes ownership of `x`.
  explicit Certificate(ossl::X509Ptr x) : x_(std::move(x)) {}

  Certificate(const Certificate& o) : x_(Ref(o.x_.get())) {}
  Certificate& operator=(const Certificate& o) {
    if (this != &o) x_.reset(Ref(o.x_.get()));
    return *this;
  }
  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;

  X509* get() const { return x_.get(); }
  std::string ToPem() const;
  std::string ToDer() const;

  TimePoint not_before() const;
  TimePoint not_after() const;
  // Serial number, lowercase hex without leading zeros.
  std::string SerialHex() const;
  bool IsCa() const;
  // URI subject alternative names, in order.
  std::vector<std::string> UriSans() const;
  // The SPIFFE ID: exactly one URI SAN, and it parses.
  absl::StatusOr<SpiffeId> GetSpiffeId() const;

 private:
  static X509* Ref(X509* x) {
    if (x != nullptr) X509_up_ref(x);
    return x;
  }
  ossl::X509Ptr x_;
};

std::string ChainToPem(const std::vector<Certificate>& chain);
// Lowercase hex without leading zeros.
std::string SerialToHex(const ASN1_INTEGER* serial);

}  // namespace weft::identity
