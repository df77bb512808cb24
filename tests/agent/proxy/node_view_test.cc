#include "agent/proxy/node_view.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

namespace weft::agent::proxy {
namespace {

std::shared_ptr<const pb::MeshSnapshot> Parse(const std::string& text) {
  auto s = std::make_shared<pb::MeshSnapshot>();
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, s.get()));
  return s;
}

constexpr char kSnapshot[] = R"pb(
  services {
    hostname: "web.demo.svc.cluster.local"
    name: "web"
    namespace: "demo"
    vips: "10.96.0.10"
    ports { port: 80 target_port: 8080 }
    endpoints {
      address: "10.244.1.2"
      ports { key: 80 value: 8080 }
      ready: true
      labels { key: "version" value: "v1" }
    }
    endpoints {
      address: "10.244.2.2"
      ports { key: 80 value: 8080 }
      ready: true
      labels { key: "version" value: "v2" }
    }
    endpoints {
      address: "10.244.2.3"
      ports { key: 80 value: 8080 }
      ready: false
    }
    subsets { name: "v2" endpoint_indexes: 1 }
  }
  workloads { uid: "demo/client" addresses: "10.244.1.9" }
  cluster_policies {
    name: "outbound|0||web.demo.svc.cluster.local"
    hostname: "web.demo.svc.cluster.local"
    load_balancer { policy: ROUND_ROBIN }
    connection_pool { connect_timeout_ms: 250 }
  }
  route_tables {
    hostname: "web.demo.svc.cluster.local"
    tcp_routes { destinations { hostname: "web.demo.svc.cluster.local" subset: "v2" weight: 100 } }
  }
)pb";

TEST(NodeView, ResolvesVipToBalancerOverReadyEndpointsOfTheRoutedSubset) {
  NodeView view(Parse(kSnapshot), "node1");
  auto r = view.Resolve("10.96.0.10", 80, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->subset, "v2");
  EXPECT_EQ(r->cluster, "outbound|80|v2|web.demo.svc.cluster.local");
  EXPECT_EQ(r->connect_timeout_ms, 250u);
  ASSERT_TRUE(r->balancer);
  ASSERT_EQ(r->balancer->targets().size(), 1u);
  EXPECT_EQ(r->balancer->targets()[0].address, "10.244.2.2");
  EXPECT_EQ(r->balancer->targets()[0].port, 8080u);
  EXPECT_EQ(r->balancer->config().policy, lb::Policy::kRoundRobin);
  // The same cluster shares one balancer (round robin state is shared by workers).
  EXPECT_EQ(view.Resolve("10.96.0.10", 80, 1)->balancer, r->balancer);
}

TEST(NodeView, WorkloadAddressesResolveDirectAndOthersDoNot) {
  NodeView view(Parse(kSnapshot), "node1");
  auto r = view.Resolve("10.244.1.9", 5000, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->balancer, nullptr);
  EXPECT_EQ(r->direct.workload_uid, "demo/client");
  EXPECT_EQ(r->direct.port, 5000u);
  EXPECT_FALSE(view.Resolve("10.96.0.10", 81, 0));
  EXPECT_FALSE(view.Resolve("192.0.2.1", 80, 0));
}

TEST(NodeView, DefaultPolicyIsLeastRequestAndLocalityNeedsOutlierDetection) {
  EXPECT_EQ(BalancerConfigFor(nullptr).policy, lb::Policy::kLeastRequest);
  pb::ClusterPolicy p;
  p.mutable_load_balancer()->set_policy(pb::LoadBalancer::MAGLEV);
  EXPECT_EQ(BalancerConfigFor(&p).policy, lb::Policy::kMaglev);
  EXPECT_FALSE(BalancerConfigFor(&p).locality_aware);
  p.mutable_outlier_detection()->set_consecutive_5xx_errors(3);
  EXPECT_TRUE(BalancerConfigFor(&p).locality_aware);
}

}  // namespace
}  // namespace weft::agent::proxy
