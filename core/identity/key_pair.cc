#include "core/identity/key_pair.h"

#include <openssl/pem.h>

#include <cstring>

namespace weft::identity {

bool IsP256(const EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len) != 1) return false;
  return std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0;
}

absl::StatusOr<KeyPair> KeyPair::GenerateP256() {
  ossl::EvpPkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return ossl::Error(absl::StatusCode::kInternal, "P-256 key generation failed");
  return KeyPair(std::move(key));
}

absl::StatusOr<KeyPair> KeyPair::FromPrivateKeyPem(std::string_view pem) {
  ossl::Bio bio = ossl::ReadBio(pem);
  ossl::EvpPkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return ossl::Error(absl::StatusCode::kInvalidArgument, "cannot parse private key PEM");
  if (!IsP256(key.get())) return absl::InvalidArgumentError("private key is not ECDSA P-256");
  return KeyPair(std::move(key));
}

std::string KeyPair::PrivateKeyPem() const {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return ossl::BioContents(bio.get());
}

std::string KeyPair::PublicKeyPem() const {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key_.get());
  return ossl::BioContents(bio.get());
}

}  // namespace weft::identity
