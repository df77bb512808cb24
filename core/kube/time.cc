#include "core/kube/time.h"

namespace weft::kube {

std::string Rfc3339(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Rfc3339Now() {
  return Rfc3339(std::time(nullptr));
}

}  // namespace weft::kube
