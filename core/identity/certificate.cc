#include "core/identity/certificate.h"

#include <openssl/bn.h>
#include <openssl/pem.h>

#include <openssl/err.h>

#include <algorithm>
#include <cctype>

namespace weft::identity {

absl::StatusOr<std::vector<Certificate>> Certificate::ChainFromPem(std::string_view pem) {
  ERR_clear_error();  // the end-of-input test below reads the queue
  ossl::Bio bio = ossl::ReadBio(pem);
  std::vector<Certificate> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(ossl::X509Ptr(x));
  }
  // The loop ends on "no start line" after the last certificate; anything else is an error.
  unsigned long err = ERR_peek_last_error();
  if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE &&
      !out.empty()) {
    ERR_clear_error();
    return out;
  }
  if (out.empty() && err == 0) return absl::InvalidArgumentError("no certificate in PEM");
  return ossl::Error(absl::StatusCode::kInvalidArgument,
                     out.empty() ? "no certificate in PEM" : "cannot parse certificate PEM");
}

absl::StatusOr<Certificate> Certificate::FromPem(std::string_view pem) {
  auto chain = ChainFromPem(pem);
  if (!chain.ok()) return chain.status();
  if (chain->size() != 1) {
    return absl::InvalidArgumentError("expected one certificate in PEM, found " +
                                      std::to_string(chain->size()));
  }
  return std::move(chain->front());
}

absl::StatusOr<Certificate> Certificate::FromDer(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) return ossl::Error(absl::StatusCode::kInvalidArgument, "cannot parse certificate DER");
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("trailing bytes after certificate DER");
  }
  return Certificate(std::move(x));
}

std::string Certificate::ToPem() const {
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), x_.get());
  return ossl::BioContents(bio.get());
}

std::string Certificate::ToDer() const {
  unsigned char* buf = nullptr;
  int n = i2d_X509(x_.get(), &buf);
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
  OPENSSL_free(buf);
  return out;
}

TimePoint Certificate::not_before() const {
  return ossl::FromAsn1Time(X509_get0_notBefore(get()));
}
TimePoint Certificate::not_after() const {
  return ossl::FromAsn1Time(X509_get0_notAfter(get()));
}

std::string SerialToHex(const ASN1_INTEGER* serial) {
  ossl::Bignum bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return {};
  char* hex = BN_bn2hex(bn.get());
  std::string out(hex);
  OPENSSL_free(hex);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Certificate::SerialHex() const {
  return SerialToHex(X509_get0_serialNumber(get()));
}

bool Certificate::IsCa() const {
  return X509_check_ca(get()) != 0;
}

std::vector<std::string> Certificate::UriSans() const {
  std::vector<std::string> out;
  ossl::GeneralNames names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = gn->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

absl::StatusOr<SpiffeId> Certificate::GetSpiffeId() const {
  std::vector<std::string> uris = UriSans();
  if (uris.empty()) return absl::NotFoundError("certificate has no URI SAN");
  if (uris.size() > 1) return absl::InvalidArgumentError("certificate has more than one URI SAN");
  return SpiffeId::Parse(uris.front());
}

std::string ChainToPem(const std::vector<Certificate>& chain) {
  std::string out;
  for (const Certificate& c : chain) out += c.ToPem();
  return out;
}

}  // namespace weft::identity
