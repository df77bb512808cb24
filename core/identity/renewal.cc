#include "core/identity/renewal.h"

#include <algorithm>
#include <cmath>

namespace weft::identity {

std::string_view CertStateName(CertState s) {
  switch (s) {
    case CertState::kNotYetValid:
      return "not_yet_valid";
    case CertState::kValid:
      return "valid";
    case CertState::kRenewDue:
      return "renew_due";
    case CertState::kExpired:
      return "expired";
  }
  return "unknown";
}

TimePoint RenewalTime(const Validity& v) {
  return v.not_before + (v.not_after - v.not_before) / 2;
}

CertState StateAt(const Validity& v, TimePoint now) {
  if (now < v.not_before) return CertState::kNotYetValid;
  if (now >= v.not_after) return CertState::kExpired;
  if (now >= RenewalTime(v)) return CertState::kRenewDue;
  return CertState::kValid;
}

Backoff::Backoff(Settings s, uint64_t seed) : s_(s), rng_(seed) {
  s_.multiplier = std::max(1.0, s_.multiplier);
  s_.jitter = std::clamp(s_.jitter, 0.0, 1.0);
  if (s_.max < s_.initial) s_.max = s_.initial;
}

std::chrono::milliseconds Backoff::Next() {
  double d = static_cast<double>(s_.initial.count()) * std::pow(s_.multiplier, attempt_);
  d = std::min(d, static_cast<double>(s_.max.count()));
  if (d < static_cast<double>(s_.max.count())) ++attempt_;  // stop growing once capped
  std::uniform_real_distribution<double> dist(1.0 - s_.jitter, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(d * dist(rng_))));
}

TimePoint CertSlot::Install(Certificate cert, KeyPair key) {
  Validity v = Validity::Of(cert);
  cert_ = std::move(cert);
  key_ = std::move(key);
  backoff_.Reset();
  next_attempt_ = RenewalTime(v);
  return *next_attempt_;
}

TimePoint CertSlot::RenewalFailed(TimePoint now) {
  TimePoint next = now + backoff_.Next();
  if (cert_) {
    // Do not sleep through the expiry of a certificate that is still valid: one more try
    // shortly before it lapses.
    TimePoint last_chance = cert_->not_after() - std::chrono::seconds(1);
    if (now < last_chance && next > last_chance) next = last_chance;
  }
  next_attempt_ = next;
  return next;
}

CertState CertSlot::StateAt(TimePoint now) const {
  if (!cert_) return CertState::kExpired;
  return identity::StateAt(Validity::Of(*cert_), now);
}

const Certificate* CertSlot::UsableCert(TimePoint now) const {
  if (!cert_ || !Usable(StateAt(now))) return nullptr;
  return &*cert_;
}

}  // namespace weft::identity
