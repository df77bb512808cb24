#include "core/identity/spiffe_id.h"

#include <gtest/gtest.h>

#include <string>

namespace weft::identity {
namespace {

TEST(SpiffeIdTest, WorkloadRoundTrip) {
  auto id = SpiffeId::Parse("spiffe://cluster.local/ns/demo/sa/web-frontend");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->kind(), SpiffeId::Kind::kWorkload);
  EXPECT_EQ(id->trust_domain(), "cluster.local");
  EXPECT_EQ(id->ns(), "demo");
  EXPECT_EQ(id->service_account(), "web-frontend");
  EXPECT_EQ(id->node(), "");
  EXPECT_EQ(id->str(), "spiffe://cluster.local/ns/demo/sa/web-frontend");
  EXPECT_EQ(id->Principal(), "cluster.local/ns/demo/sa/web-frontend");

  auto built = SpiffeId::Workload("cluster.local", "demo", "web-frontend");
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(*built, *id);
  auto reparsed = SpiffeId::Parse(built->str());
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ(*reparsed, *built);
}

TEST(SpiffeIdTest, NodeAndCaServer) {
  auto node = SpiffeId::Parse("spiffe://td/weft/node/node-1.zone");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->kind(), SpiffeId::Kind::kNode);
  EXPECT_EQ(node->node(), "node-1.zone");
  EXPECT_EQ(node->service_account(), "");
  EXPECT_EQ(node->str(), SpiffeId::Node("td", "node-1.zone")->str());

  auto ca = SpiffeId::Parse("spiffe://td/weft/ca");
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ(ca->kind(), SpiffeId::Kind::kCaServer);
  EXPECT_EQ(ca->str(), SpiffeId::CaServer("td")->str());
}

TEST(SpiffeIdTest, ServiceAccountMayHaveDots) {
  auto id = SpiffeId::Parse("spiffe://td/ns/a/sa/b.c");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->service_account(), "b.c");
}

class SpiffeIdRejectTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SpiffeIdRejectTest, Rejected) {
  auto id = SpiffeId::Parse(GetParam());
  EXPECT_FALSE(id.ok()) << GetParam() << " parsed as " << id->str();
  if (!id.ok()) {
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, SpiffeIdRejectTest,
    ::testing::Values("", "spiffe://", "spiffe:/td/ns/a/sa/b", "SPIFFE://td/ns/a/sa/b",
                      "https://td/ns/a/sa/b", "spiffe://TD/ns/a/sa/b", "spiffe://td",
                      "spiffe://td/", "spiffe:///ns/a/sa/b", "spiffe://td/ns/a/sa/",
                      "spiffe://td/ns//sa/b", "spiffe://td/ns/a/sa/b/", "spiffe://td//ns/a/sa/b",
                      "spiffe://td/ns/a/sa/b?x=1", "spiffe://td/ns/a/sa/b#f",
                      "spiffe://td:8080/ns/a/sa/b", "spiffe://u@td/ns/a/sa/b",
                      "spiffe://td/ns/A/sa/b", "spiffe://td/ns/-a/sa/b", "spiffe://td/ns/a/sa/B",
                      "spiffe://td/ns/../sa/b", "spiffe://td/ns/a.b/sa/c", "spiffe://td/sa/b/ns/a",
                      "spiffe://td/foo/bar", "spiffe://td/weft/node/", "spiffe://td/weft/node/N",
                      "spiffe://td/weft/ca/x", "spiffe://t d/ns/a/sa/b", "spiffe://td/ns/a/sa/b c",
                      "spiffe://td/ns/a%2f/sa/b", std::string("spiffe://td/ns/a\0/sa/b", 22),
                      "spiffe://td/ns/" + std::string(64, 'a') + "/sa/b",
                      "spiffe://" + std::string(256, 'a') + "/ns/a/sa/b",
                      "spiffe://td/ns/a/sa/" + std::string(2100, 'b')));

TEST(SpiffeIdTest, FactoriesValidate) {
  EXPECT_FALSE(SpiffeId::Workload("", "a", "b").ok());
  EXPECT_FALSE(SpiffeId::Workload("td", "", "b").ok());
  EXPECT_FALSE(SpiffeId::Workload("td", "a", "").ok());
  EXPECT_FALSE(SpiffeId::Workload("td", "a/b", "c").ok());
  EXPECT_FALSE(SpiffeId::Node("td", "Node1").ok());
  EXPECT_FALSE(SpiffeId::CaServer("bad domain").ok());
  EXPECT_TRUE(SpiffeId::Workload("my-td_1.example", "a", "b").ok());
}

TEST(SpiffeIdTest, Validators) {
  EXPECT_TRUE(IsDnsLabel("a"));
  EXPECT_TRUE(IsDnsLabel("a-1"));
  EXPECT_FALSE(IsDnsLabel("a-"));
  EXPECT_FALSE(IsDnsLabel(std::string(64, 'a')));
  EXPECT_TRUE(IsDnsSubdomain("a.b-c.d"));
  EXPECT_FALSE(IsDnsSubdomain("a..b"));
  EXPECT_FALSE(IsDnsSubdomain(".a"));
  EXPECT_TRUE(IsValidTrustDomain("cluster.local"));
  EXPECT_FALSE(IsValidTrustDomain("Cluster.local"));
}

}  // namespace
}  // namespace weft::identity
