#include "waypoint/upstream/cluster.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace weft::waypoint {
namespace {

// Zone a (the waypoint's) has two endpoints, zone b one; outlierDetection makes picks
// locality-aware, as Istio's.
class ClusterPickTest : public ::testing::Test {
 protected:
  ClusterPickTest() {
    policy_.mutable_load_balancer()->set_policy(pb::LoadBalancer::ROUND_ROBIN);
    policy_.mutable_outlier_detection();
    std::vector<ClusterEndpoint> eps;
    for (auto [ip, zone] : {std::pair{"10.0.0.1", "a"}, {"10.0.0.2", "a"}, {"10.0.1.1", "b"}}) {
      ClusterEndpoint e;
      e.address = ip;
      e.port = 80;
      e.locality = lb::Locality{"r", zone, ""};
      eps.push_back(e);
    }
    cluster_ =
        std::make_unique<Cluster>("c", nullptr, 80, "", std::move(eps), &policy_,
                                  UpstreamProtocol::kHttp1, nullptr, lb::Locality{"r", "a", ""});
  }
  std::string Zone(std::optional<size_t> i) {
    return i ? cluster_->endpoint(*i).locality.zone : "none";
  }
  // The zones `n` picks after `tried` go to.
  std::set<std::string> Zones(const std::vector<size_t>& tried, bool remote, int n = 20) {
    std::set<std::string> out;
    for (int k = 0; k < n; ++k) out.insert(Zone(cluster_->Pick(k, &tried, remote)));
    return out;
  }

  pb::ClusterPolicy policy_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(ClusterPickTest, FirstAttemptsStayInTheLocalZone) {
  EXPECT_EQ(Zones({}, false), std::set<std::string>{"a"});
}

TEST_F(ClusterPickTest, RetriesGoToAnotherEndpointOfTheSameZone) {
  for (int k = 0; k < 10; ++k) {
    std::vector<size_t> tried = {0};
    EXPECT_EQ(cluster_->Pick(k, &tried), 1u);
  }
}

TEST_F(ClusterPickTest, WithoutRetryRemoteLocalitiesRetriesNeverLeaveTheZone) {
  // Both local endpoints tried: Envoy's priority load still sends everything to zone a (the
  // previous-hosts predicate gives up and takes a tried host).
  EXPECT_EQ(Zones({0, 1}, false), std::set<std::string>{"a"});
  EXPECT_EQ(Zones({0, 1, 0, 1}, false), std::set<std::string>{"a"});
}

TEST_F(ClusterPickTest, RetryRemoteLocalitiesLeavesTriedZonesOutEveryTwoAttempts) {
  // Attempt 2: the priority load is not updated yet.
  EXPECT_EQ(Zones({0}, true), std::set<std::string>{"a"});
  // Attempts 3 and 4: zone a (attempts 1 and 2) is left out.
  EXPECT_EQ(Zones({0, 1}, true), std::set<std::string>{"b"});
  EXPECT_EQ(Zones({0, 1, 2}, true), std::set<std::string>{"b"});
  // Attempt 5: attempts 1 to 4 went to both zones: none left, the load resets to zone a.
  EXPECT_EQ(Zones({0, 1, 2, 2}, true), std::set<std::string>{"a"});
}

TEST_F(ClusterPickTest, WithoutLocalityEveryEndpointIsAnotherChance) {
  policy_.clear_outlier_detection();
  std::vector<ClusterEndpoint> eps;
  for (size_t i = 0; i < cluster_->size(); ++i) eps.push_back(cluster_->endpoint(i));
  Cluster flat("c", nullptr, 80, "", std::move(eps), &policy_, UpstreamProtocol::kHttp1, nullptr,
               lb::Locality{"r", "a", ""});
  std::vector<size_t> tried = {0, 1};
  EXPECT_EQ(flat.Pick(0, &tried), 2u);
  tried = {0, 1, 2};
  EXPECT_TRUE(flat.Pick(0, &tried).has_value()) << "all tried: back to one of them";
}

}  // namespace
}  // namespace weft::waypoint
