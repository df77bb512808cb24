#pragma once

// Timestamps as the Kubernetes API writes them (metav1.Time): RFC 3339 in UTC with second
// precision, "2026-12-06T17:29:31Z" — Event times, condition lastTransitionTime.

#include <ctime>
#include <string>

namespace weft::kube {

std::string Rfc3339(std::time_t t);
std::string Rfc3339Now();

}  // namespace weft::kube
