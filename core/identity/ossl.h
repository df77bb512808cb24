#pragma once

// RAII owners for the OpenSSL objects the identity library hands around, and the one helper
// that turns OpenSSL's thread-local error queue into an absl::Status.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/status/status.h"

namespace weft::identity {

// Wall-clock time: certificates carry UTC seconds, so all validity math uses system_clock.
using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

namespace ossl {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};

using EvpPkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using X509Req = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using X509Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtx = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using X509Name = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Asn1Integer = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using GeneralNames = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using SslCtx = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Deleter<SSL, SSL_free>>;

inline void FreeX509Stack(STACK_OF(X509) * s) {
  sk_X509_pop_free(s, X509_free);
}
using X509Stack = std::unique_ptr<STACK_OF(X509), Deleter<STACK_OF(X509), FreeX509Stack>>;
inline void FreeExtStack(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
using ExtStack =
    std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<STACK_OF(X509_EXTENSION), FreeExtStack>>;

// A memory BIO reading `data` (not copied: `data` must outlive the BIO).
Bio ReadBio(std::string_view data);
// Everything written to a memory BIO.
std::string BioContents(BIO* bio);

// Status with `code` and message "`what`: <OpenSSL error queue>"; clears the queue.
absl::Status Error(absl::StatusCode code, std::string_view what);

// ASN1_TIME <-> TimePoint (second precision).
TimePoint FromAsn1Time(const ASN1_TIME* t);
bool SetAsn1Time(ASN1_TIME* t, TimePoint tp);

}  // namespace ossl
}  // namespace weft::identity
