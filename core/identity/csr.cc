#include "core/identity/csr.h"

#include <openssl/pem.h>

#include "core/identity/strings.h"

namespace weft::identity {

absl::StatusOr<std::string> CreateCsr(const KeyPair& key, const SpiffeId& id) {
  ossl::X509Req req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    return ossl::Error(absl::StatusCode::kInternal, "cannot build CSR");
  }
  std::string san = "URI:" + id.str();
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  if (ext == nullptr) return ossl::Error(absl::StatusCode::kInternal, "cannot build SAN");
  ossl::ExtStack exts(sk_X509_EXTENSION_new_null());
  sk_X509_EXTENSION_push(exts.get(), ext);
  if (X509_REQ_add_extensions(req.get(), exts.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return ossl::Error(absl::StatusCode::kInternal, "cannot sign CSR");
  }
  ossl::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  return ossl::BioContents(bio.get());
}

absl::StatusOr<ParsedCsr> ParseCsr(std::string_view pem) {
  ossl::Bio bio = ossl::ReadBio(pem);
  ossl::X509Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return ossl::Error(absl::StatusCode::kInvalidArgument, "cannot parse CSR PEM");
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr) return ossl::Error(absl::StatusCode::kInvalidArgument, "CSR has no key");
  if (!IsP256(pub)) return absl::InvalidArgumentError("CSR key is not ECDSA P-256");
  if (X509_REQ_verify(req.get(), pub) != 1) {
    return ossl::Error(absl::StatusCode::kInvalidArgument, "CSR signature does not verify");
  }
  ossl::ExtStack exts(X509_REQ_get_extensions(req.get()));
  if (!exts) return absl::InvalidArgumentError("CSR has no extensions (no SPIFFE ID)");
  std::string uri;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    if (!uri.empty()) return absl::InvalidArgumentError("CSR has more than one SAN extension");
    ossl::GeneralNames names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
    if (!names || sk_GENERAL_NAME_num(names.get()) != 1) {
      return absl::InvalidArgumentError("CSR SAN must hold exactly one name");
    }
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), 0);
    if (gn->type != GEN_URI) return absl::InvalidArgumentError("CSR SAN is not a URI");
    const ASN1_IA5STRING* s = gn->d.uniformResourceIdentifier;
    uri.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
               static_cast<size_t>(ASN1_STRING_length(s)));
    if (uri.empty()) return absl::InvalidArgumentError("CSR URI SAN is empty");
  }
  if (uri.empty()) return absl::InvalidArgumentError("CSR has no URI SAN (no SPIFFE ID)");
  auto id = SpiffeId::Parse(uri);
  if (!id.ok())
    return absl::InvalidArgumentError(internal::Cat("CSR: ", std::string(id.status().message())));
  EVP_PKEY_up_ref(pub);
  return ParsedCsr{std::move(*id), ossl::EvpPkey(pub)};
}

}  // namespace weft::identity
