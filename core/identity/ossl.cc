#include "core/identity/ossl.h"

#include <openssl/err.h>

#include <ctime>

namespace weft::identity::ossl {

Bio ReadBio(std::string_view data) {
  return Bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

absl::Status Error(absl::StatusCode code, std::string_view what) {
  std::string msg(what);
  bool first = true;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    msg += first ? ": " : "; ";
    msg += buf;
    first = false;
  }
  return absl::Status(code, msg);
}

TimePoint FromAsn1Time(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return TimePoint{};
  return Clock::from_time_t(timegm(&tm));
}

bool SetAsn1Time(ASN1_TIME* t, TimePoint tp) {
  return ASN1_TIME_set(t, Clock::to_time_t(tp)) != nullptr;
}

}  // namespace weft::identity::ossl
