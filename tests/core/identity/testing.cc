#include "tests/core/identity/testing.h"

#include <openssl/pem.h>

namespace weft::identity::testing {

std::string PemToDer(std::string_view pem) {
  ossl::Bio bio = ossl::ReadBio(pem);
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) return {};
  std::string der(reinterpret_cast<char*>(data), static_cast<size_t>(len));
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  return der;
}

std::string DerToPem(std::string_view der, std::string_view label) {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  std::string name(label);
  PEM_write_bio(bio.get(), name.c_str(), "", reinterpret_cast<const unsigned char*>(der.data()),
                static_cast<long>(der.size()));
  return ossl::BioContents(bio.get());
}

}  // namespace weft::identity::testing
