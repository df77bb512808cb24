#include "core/identity/renewal.h"

#include <gtest/gtest.h>

#include "tests/core/identity/testing.h"

namespace weft::identity {
namespace {

using namespace std::chrono_literals;
using testing::Must;

TEST(RenewalTest, HalfLifeAndStates) {
  TimePoint t0 = Clock::from_time_t(1'700'000'000);
  Validity v{t0, t0 + 24h};
  EXPECT_EQ(RenewalTime(v), t0 + 12h);
  EXPECT_EQ(StateAt(v, t0 - 1s), CertState::kNotYetValid);
  EXPECT_EQ(StateAt(v, t0), CertState::kValid);
  EXPECT_EQ(StateAt(v, t0 + 12h - 1s), CertState::kValid);
  EXPECT_EQ(StateAt(v, t0 + 12h), CertState::kRenewDue);
  EXPECT_EQ(StateAt(v, t0 + 24h - 1s), CertState::kRenewDue);
  EXPECT_EQ(StateAt(v, t0 + 24h), CertState::kExpired);
  EXPECT_TRUE(Usable(CertState::kRenewDue));
  EXPECT_FALSE(Usable(CertState::kExpired));
  EXPECT_FALSE(Usable(CertState::kNotYetValid));
  EXPECT_EQ(CertStateName(CertState::kRenewDue), "renew_due");
}

TEST(BackoffTest, GrowsCapsAndJitters) {
  Backoff::Settings s;
  s.initial = 1000ms;
  s.max = 10000ms;
  s.multiplier = 2;
  s.jitter = 0.2;
  Backoff b(s, 42);
  std::vector<int64_t> ceilings = {1000, 2000, 4000, 8000, 10000, 10000, 10000};
  for (int64_t ceiling : ceilings) {
    int64_t d = b.Next().count();
    EXPECT_LE(d, ceiling);
    EXPECT_GE(d, ceiling * 8 / 10);
  }
  b.Reset();
  EXPECT_LE(b.Next().count(), 1000);
}

TEST(BackoffTest, DeterministicForASeed) {
  Backoff::Settings s;
  s.jitter = 0.5;
  Backoff a(s, 7), b(s, 7), c(s, 8);
  std::vector<int64_t> da, db, dc;
  for (int i = 0; i < 10; ++i) {
    da.push_back(a.Next().count());
    db.push_back(b.Next().count());
    dc.push_back(c.Next().count());
  }
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
}

TEST(BackoffTest, NoJitterIsExact) {
  Backoff::Settings s;
  s.initial = 100ms;
  s.max = 1000ms;
  s.multiplier = 3;
  s.jitter = 0;
  Backoff b(s, 1);
  EXPECT_EQ(b.Next(), 100ms);
  EXPECT_EQ(b.Next(), 300ms);
  EXPECT_EQ(b.Next(), 900ms);
  EXPECT_EQ(b.Next(), 1000ms);
  EXPECT_EQ(b.Next(), 1000ms);
}

class CertSlotTest : public ::testing::Test {
 protected:
  CertSlotTest() : ca_(testing::MakeCa("cluster.local", now_ - 1h)) {
    ca_.set_clock([this] { return now_; });
  }
  testing::Svid Issue(std::chrono::seconds ttl) {
    return testing::IssueWorkload(ca_, "demo", "web", ttl);
  }
  static Backoff NoJitter() {
    Backoff::Settings s;
    s.initial = 1min;
    s.max = 30min;
    s.jitter = 0;
    return Backoff(s, 1);
  }

  TimePoint now_ = Clock::from_time_t(Clock::to_time_t(Clock::now()));
  CertificateAuthority ca_;
};

TEST_F(CertSlotTest, RenewsAtHalfLife) {
  CertSlot slot(NoJitter());
  EXPECT_EQ(slot.UsableCert(now_), nullptr);
  testing::Svid s = Issue(24h);
  TimePoint renew = slot.Install(s.cert, std::move(s.key));
  // notBefore is backdated 5 min: half of (24 h + 5 min) after it.
  EXPECT_EQ(renew, (now_ - 5min) + std::chrono::seconds(24h + 5min) / 2);
  EXPECT_EQ(slot.next_attempt(), renew);
  EXPECT_EQ(slot.StateAt(now_), CertState::kValid);
  EXPECT_EQ(slot.StateAt(renew), CertState::kRenewDue);
  ASSERT_NE(slot.UsableCert(now_), nullptr);
  ASSERT_NE(slot.key(), nullptr);
}

TEST_F(CertSlotTest, FailedRenewalKeepsValidCertAndBacksOff) {
  CertSlot slot(NoJitter());
  testing::Svid s = Issue(2h);
  std::string serial = s.cert.SerialHex();
  slot.Install(s.cert, std::move(s.key));
  TimePoint t = now_ + 1h;  // renewal due
  EXPECT_EQ(slot.RenewalFailed(t), t + 1min);
  EXPECT_EQ(slot.RenewalFailed(t + 1min), t + 1min + 2min);
  EXPECT_EQ(slot.RenewalFailed(t + 3min), t + 3min + 4min);
  // Still the old certificate, still usable.
  ASSERT_NE(slot.UsableCert(t + 7min), nullptr);
  EXPECT_EQ(slot.UsableCert(t + 7min)->SerialHex(), serial);
  // A backoff that would sleep past expiry is cut to one last try before it.
  TimePoint late = now_ + 2h - 10min;
  for (int i = 0; i < 4; ++i) slot.RenewalFailed(late);  // backoff at its 30 min cap
  EXPECT_EQ(slot.RenewalFailed(late), now_ + 2h - 1s);
  // Expired: never handed out.
  EXPECT_EQ(slot.StateAt(now_ + 2h), CertState::kExpired);
  EXPECT_EQ(slot.UsableCert(now_ + 2h), nullptr);
  // A successful renewal resets the backoff.
  now_ += 2h;
  testing::Svid fresh = Issue(2h);
  slot.Install(fresh.cert, std::move(fresh.key));
  EXPECT_NE(slot.UsableCert(now_), nullptr);
  EXPECT_EQ(slot.RenewalFailed(now_ + 1h), now_ + 1h + 1min);
}

}  // namespace
}  // namespace weft::identity
