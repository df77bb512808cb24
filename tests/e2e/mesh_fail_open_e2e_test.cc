// End to end, on a 2-node netns cluster of its own (mesh_fixture.h) whose agents run with
// --fail-open: while node1's proxy is away its pods are released, not refused. (Fail closed,
// the default, is mesh_e2e_test's ProxyAwayFailsClosed.)

#include "tests/e2e/mesh_fixture.h"

namespace weft::e2e {
namespace {

class MeshFailOpenE2E : public MeshE2E {
 protected:
  static void SetUpTestSuite() { UpArgs() = "--agent-arg=--fail-open"; }
};

// Node1's proxy away (killed, and kept from coming back): the agent releases node1's pods. The
// client connects to web-v2 directly (uncaptured; node2 admits the plaintext under PERMISSIVE)
// and plaintext from outside the mesh reaches web-v1's app (the sk_lookup program lets it
// through); with a proxy again, the pods are captured again and the VIP works.
TEST_F(MeshFailOpenE2E, ProxyAwayReleasesThePods) {
  WriteOutsider();
  std::string v1 = WorkloadIp("web-v1"), v2 = WorkloadIp("web-v2");
  ASSERT_FALSE(v1.empty() || v2.empty());
  auto outsider = [&] { return CallFromOutside(v1 + ":8080", 1); };
  ASSERT_TRUE(WaitFor([&] { return outsider().code == 0; }, 20000)) << "PERMISSIVE admits it";
  uint64_t redirected0 = Counter(N1(), "connect", "REDIRECTED");
  ASSERT_TRUE(TakeProxyAway(N1())) << Readiness(N1());
  EXPECT_TRUE(WaitFor([&] { return ClientEnrolled(false); }, 10000)) << "released";
  Result out = Call(v2 + ":8080", 3);
  EXPECT_EQ(out.code, 0) << out.all();
  EXPECT_NE(out.out.find("web-v2"), std::string::npos) << out.all();
  EXPECT_EQ(Counter(N1(), "connect", "REDIRECTED"), redirected0) << "not captured";
  Result in = outsider();
  EXPECT_EQ(in.code, 0) << in.all();
  EXPECT_NE(in.out.find("web-v1"), std::string::npos) << in.all();
  ASSERT_TRUE(ReturnProxy(N1())) << Readiness(N1());
  EXPECT_TRUE(WaitFor([&] { return ClientEnrolled(true); }, 20000));
  EXPECT_TRUE(WaitFor([&] { return Call(vip_ + ":80", 1).code == 0; }, 20000));
  std::error_code ec;
  fs::remove(S().dir / "outsider.yaml", ec);
}

}  // namespace
}  // namespace weft::e2e
