#pragma once

// An ECDSA P-256 key pair. Workload keys are generated on the node and never leave it: only
// the CSR (public key + proof of possession) goes to the CA.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/identity/ossl.h"

namespace weft::identity {

class KeyPair {
 public:
  static absl::StatusOr<KeyPair> GenerateP256();
  // A private key in PEM (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY"); only P-256 accepted.
  static absl::StatusOr<KeyPair> FromPrivateKeyPem(std::string_view pem);

  // PKCS#8, unencrypted: the caller decides where it may be written (0600 files, memory).
  std::string PrivateKeyPem() const;
  std::string PublicKeyPem() const;

  EVP_PKEY* get() const { return key_.get(); }

 private:
  explicit KeyPair(ossl::EvpPkey key) : key_(std::move(key)) {}
  ossl::EvpPkey key_;
};

// True when `key` is an EC key on P-256 (prime256v1).
bool IsP256(const EVP_PKEY* key);

}  // namespace weft::identity
