#include <gtest/gtest.h>

#include "agent/identity/ca_client.h"
#include "agent/identity/ca_daemon.h"
#include "agent/identity/duration.h"

namespace weft::agent {
namespace {

using namespace std::chrono_literals;

TEST(Duration, Parses) {
  EXPECT_EQ(*ParseDuration("24h"), 24h);
  EXPECT_EQ(*ParseDuration("90m"), 90min);
  EXPECT_EQ(*ParseDuration("30s"), 30s);
  EXPECT_EQ(*ParseDuration("1h30m"), 90min);
  EXPECT_EQ(*ParseDuration("2d"), 48h);
  EXPECT_EQ(*ParseDuration("3600"), 3600s);
  for (auto bad : {"", "h", "1x", "-1h", "1h30", "1.5h", "99999999999999h"})
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  EXPECT_EQ(FormatDuration(24h), "24h");
  EXPECT_EQ(FormatDuration(90min + 5s), "1h30m5s");
  EXPECT_EQ(FormatDuration(0s), "0s");
}

TEST(Endpoint, Parses) {
  EXPECT_EQ(ParseEndpoint("10.250.0.1:15012")->port(), 15012);
  EXPECT_EQ(ParseEndpoint("[::1]:15012")->address().to_string(), "::1");
  for (auto bad : {"10.250.0.1", "host:15012", "1.2.3.4:0", "1.2.3.4:70000", "1.2.3.4:1x", ":1"})
    EXPECT_FALSE(ParseEndpoint(bad).ok()) << bad;
}

TEST(SnapshotHasPod, MatchesNodeNamespaceAndServiceAccount) {
  policy::pb::MeshSnapshot s;
  auto* w = s.add_workloads();
  w->set_node("node1");
  w->set_namespace_("demo");
  w->set_service_account("web");
  EXPECT_TRUE(SnapshotHasPod(s, "node1", "demo", "web"));
  EXPECT_FALSE(SnapshotHasPod(s, "node2", "demo", "web"));
  EXPECT_FALSE(SnapshotHasPod(s, "node1", "prod", "web"));
  EXPECT_FALSE(SnapshotHasPod(s, "node1", "demo", "default"));
}

}  // namespace
}  // namespace weft::agent
