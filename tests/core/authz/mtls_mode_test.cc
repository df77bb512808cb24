// Effective PeerAuthentication mode per (workload, port) and what each mode admits.

#include "core/authz/mtls_mode.h"

#include <gtest/gtest.h>

namespace weft::authz {
namespace {

pb::MtlsPolicy Policy(pb::MtlsMode mode, std::map<uint32_t, pb::MtlsMode> ports = {}) {
  pb::MtlsPolicy p;
  p.set_mode(mode);
  for (auto [port, m] : ports) (*p.mutable_port_modes())[port] = m;
  return p;
}

TEST(MtlsMode, UnspecifiedIsPermissive) {
  EXPECT_EQ(EffectiveMtlsMode(pb::MtlsPolicy(), 80), pb::MTLS_MODE_PERMISSIVE);
  EXPECT_EQ(EffectiveMtlsMode(pb::Workload(), 80), pb::MTLS_MODE_PERMISSIVE);
}

TEST(MtlsMode, WorkloadModeApplies) {
  for (auto m : {pb::MTLS_MODE_STRICT, pb::MTLS_MODE_PERMISSIVE, pb::MTLS_MODE_DISABLE}) {
    EXPECT_EQ(EffectiveMtlsMode(Policy(m), 8080), m);
  }
  pb::Workload w;
  w.mutable_mtls()->set_mode(pb::MTLS_MODE_STRICT);
  EXPECT_EQ(EffectiveMtlsMode(w, 1), pb::MTLS_MODE_STRICT);
}

TEST(MtlsMode, PortModeOverridesForThatPortOnly) {
  auto p = Policy(pb::MTLS_MODE_STRICT,
                  {{8080, pb::MTLS_MODE_PERMISSIVE}, {9090, pb::MTLS_MODE_DISABLE}});
  EXPECT_EQ(EffectiveMtlsMode(p, 8080), pb::MTLS_MODE_PERMISSIVE);
  EXPECT_EQ(EffectiveMtlsMode(p, 9090), pb::MTLS_MODE_DISABLE);
  EXPECT_EQ(EffectiveMtlsMode(p, 80), pb::MTLS_MODE_STRICT);
  auto q = Policy(pb::MTLS_MODE_PERMISSIVE, {{5432, pb::MTLS_MODE_STRICT}});
  EXPECT_EQ(EffectiveMtlsMode(q, 5432), pb::MTLS_MODE_STRICT);
  EXPECT_EQ(EffectiveMtlsMode(q, 5433), pb::MTLS_MODE_PERMISSIVE);
}

TEST(MtlsMode, UnsetPortModeInherits) {
  auto p = Policy(pb::MTLS_MODE_STRICT, {{8080, pb::MTLS_MODE_UNSPECIFIED}});
  EXPECT_EQ(EffectiveMtlsMode(p, 8080), pb::MTLS_MODE_STRICT);
  auto q = Policy(pb::MTLS_MODE_UNSPECIFIED, {{8080, pb::MTLS_MODE_UNSPECIFIED}});
  EXPECT_EQ(EffectiveMtlsMode(q, 8080), pb::MTLS_MODE_PERMISSIVE);
}

TEST(MtlsMode, UnknownValueFailsClosed) {
  auto p = Policy(static_cast<pb::MtlsMode>(42));
  EXPECT_EQ(EffectiveMtlsMode(p, 80), pb::MTLS_MODE_STRICT);
  auto q = Policy(pb::MTLS_MODE_PERMISSIVE, {{80, static_cast<pb::MtlsMode>(42)}});
  EXPECT_EQ(EffectiveMtlsMode(q, 80), pb::MTLS_MODE_STRICT);
  EXPECT_EQ(EffectiveMtlsMode(q, 81), pb::MTLS_MODE_PERMISSIVE);
}

TEST(MtlsMode, AdmitPlaintext) {
  EXPECT_FALSE(AdmitPlaintext(pb::MTLS_MODE_STRICT));
  EXPECT_TRUE(AdmitPlaintext(pb::MTLS_MODE_PERMISSIVE));
  EXPECT_TRUE(AdmitPlaintext(pb::MTLS_MODE_DISABLE));
  EXPECT_TRUE(AdmitPlaintext(pb::MTLS_MODE_UNSPECIFIED));
}

TEST(MtlsMode, HboneIsAlwaysAdmittedEvenUnderDisable) {
  for (auto m : {pb::MTLS_MODE_STRICT, pb::MTLS_MODE_PERMISSIVE, pb::MTLS_MODE_DISABLE}) {
    EXPECT_TRUE(Admit(m, Transport::kHbone)) << MtlsModeName(m);
  }
  EXPECT_FALSE(Admit(pb::MTLS_MODE_STRICT, Transport::kPlaintext));
  EXPECT_TRUE(Admit(pb::MTLS_MODE_PERMISSIVE, Transport::kPlaintext));
  EXPECT_TRUE(Admit(pb::MTLS_MODE_DISABLE, Transport::kPlaintext));
}

TEST(MtlsMode, Names) {
  EXPECT_EQ(MtlsModeName(pb::MTLS_MODE_STRICT), "STRICT");
  EXPECT_EQ(MtlsModeName(pb::MTLS_MODE_PERMISSIVE), "PERMISSIVE");
  EXPECT_EQ(MtlsModeName(pb::MTLS_MODE_DISABLE), "DISABLE");
  EXPECT_EQ(MtlsModeName(pb::MTLS_MODE_UNSPECIFIED), "PERMISSIVE");
}

}  // namespace
}  // namespace weft::authz
