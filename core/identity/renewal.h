#pragma once

// When to renew a certificate, what to do when renewal fails, and which certificate may be
// used now. Pure: every function takes `now`.
//
// Rules (docs/security.md): renew at half life; a failed renewal keeps the current
// certificate while it is valid and retries with capped exponential backoff and jitter; an
// expired (or not yet valid) certificate is never handed out.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

#include "core/identity/certificate.h"
#include "core/identity/key_pair.h"

namespace weft::identity {

struct Validity {
  TimePoint not_before;
  TimePoint not_after;
  static Validity Of(const Certificate& c) { return {c.not_before(), c.not_after()}; }
};

enum class CertState {
  kNotYetValid,  // now < notBefore: not usable
  kValid,        // usable, renewal not yet due
  kRenewDue,     // usable, past half life: renew
  kExpired,      // now >= notAfter: never used
};
std::string_view CertStateName(CertState s);  // "valid", "renew_due", ...

// notBefore + (notAfter - notBefore) / 2.
TimePoint RenewalTime(const Validity& v);
CertState StateAt(const Validity& v, TimePoint now);
inline bool Usable(CertState s) {
  return s == CertState::kValid || s == CertState::kRenewDue;
}

// Capped exponential backoff with full-range jitter: attempt n (0-based) waits a uniformly
// random duration in [(1 - jitter) * d, d] where d = min(initial * multiplier^n, max).
// Deterministic for a given seed.
class Backoff {
 public:
  struct Settings {
    std::chrono::milliseconds initial{std::chrono::seconds(1)};
    std::chrono::milliseconds max{std::chrono::minutes(5)};
    double multiplier = 2.0;
    double jitter = 0.2;  // 0: no jitter; 1: anywhere in [0, d]
  };
  explicit Backoff(Settings s, uint64_t seed = std::random_device{}());
  std::chrono::milliseconds Next();
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  Settings s_;
  std::mt19937_64 rng_;
  int attempt_ = 0;
};

// One identity's certificate and key, with its renewal schedule. The agent keeps one per
// workload identity served on the node.
class CertSlot {
 public:
  explicit CertSlot(Backoff backoff) : backoff_(std::move(backoff)) {}

  // A new certificate (and the key it was issued for) replaces the current one.
  // Returns when to renew it.
  TimePoint Install(Certificate cert, KeyPair key);
  // A renewal attempt failed at `now`: the current certificate stays; returns when to try
  // again, now + the next backoff, but no later than 1 s before the current certificate
  // expires (one last try instead of sleeping through the expiry).
  TimePoint RenewalFailed(TimePoint now);

  // kExpired when no certificate was ever installed (nothing usable).
  CertState StateAt(TimePoint now) const;
  // The certificate to use for a new connection at `now`, or nullptr when there is none
  // usable (never an expired one).
  const Certificate* UsableCert(TimePoint now) const;
  const KeyPair* key() const { return key_ ? &*key_ : nullptr; }
  // When the next renewal attempt is due (after Install or RenewalFailed).
  std::optional<TimePoint> next_attempt() const { return next_attempt_; }

 private:
  std::optional<Certificate> cert_;
  std::optional<KeyPair> key_;
  std::optional<TimePoint> next_attempt_;
  Backoff backoff_;
};

}  // namespace weft::identity
