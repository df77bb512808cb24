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
  EXPECT_FALSE(r->waypoint) << "no waypoint bound";
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

// kSnapshot's web Service bound to a waypoint (`binding` goes inside the service), plus
// waypoints (`waypoints`). The Service keeps its TCP route to subset v2 and its cluster policy.
std::shared_ptr<const pb::MeshSnapshot> WithWaypoint(const std::string& binding,
                                                     const std::string& waypoints) {
  std::string text = kSnapshot;
  const std::string anchor = R"(namespace: "demo")";
  text.insert(text.find(anchor) + anchor.size(), " " + binding + " ");
  return Parse(text + waypoints);
}

constexpr char kDemoWaypoint[] = R"pb(
  waypoints {
    name: "waypoint"
    namespace: "demo"
    identity: "spiffe://cluster.local/ns/demo/sa/waypoint"
    service_account: "waypoint"
    port: 15008
    endpoints { address: "10.244.3.5" workload_uid: "demo/waypoint-a" node: "node3" ready: true }
    endpoints { address: "10.244.3.6" workload_uid: "demo/waypoint-b" node: "node3" ready: false }
    endpoints { address: "10.244.1.7" workload_uid: "demo/waypoint-c" node: "node1" ready: true }
  }
)pb";

TEST(NodeView, ServiceBoundToAWaypointRoutesToItsReadyEndpointsWithTheVipAsAuthority) {
  NodeView view(WithWaypoint(R"(waypoint: "waypoint" waypoint_namespace: "demo")", kDemoWaypoint),
                "node1");
  auto r = view.Resolve("10.96.0.10", 80, 0, "demo/client");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->waypoint);
  EXPECT_TRUE(r->waypoint->available()) << r->waypoint->unavailable;
  EXPECT_EQ(r->waypoint->name, "demo/waypoint");
  ASSERT_NE(r->waypoint->waypoint, nullptr);
  EXPECT_EQ(r->waypoint->identity, "spiffe://cluster.local/ns/demo/sa/waypoint");
  // :authority is what the client dialed: the VIP and the Service port, not an endpoint.
  EXPECT_EQ(r->waypoint->authority_address, "10.96.0.10");
  EXPECT_EQ(r->waypoint->authority_port, 80u);
  EXPECT_EQ(r->service->hostname(), "web.demo.svc.cluster.local");
  // The balancer picks among the waypoint's ready pods, at its HBONE port; none of the
  // Service's endpoints.
  ASSERT_TRUE(r->balancer);
  ASSERT_EQ(r->balancer->targets().size(), 2u);
  EXPECT_EQ(r->balancer->targets()[0].address, "10.244.3.5");
  EXPECT_EQ(r->balancer->targets()[0].port, 15008u);
  EXPECT_EQ(r->balancer->targets()[1].address, "10.244.1.7");
  EXPECT_EQ(r->balancer->targets()[1].port, 15008u);
  // One balancer per waypoint, shared (its least-request counts are the waypoint's load).
  EXPECT_EQ(view.Resolve("10.96.0.10", 80, 7, "demo/client")->balancer, r->balancer);
}

TEST(NodeView, TcpRoutesAndClusterPolicyAreNotAppliedForAWaypointBoundService) {
  // kSnapshot routes every connection to subset v2 and sets a 250 ms connect timeout and round
  // robin: the waypoint applies those, not the client's node proxy.
  NodeView view(WithWaypoint(R"(waypoint: "waypoint")", kDemoWaypoint), "node1");
  for (uint64_t random : {0, 1, 99}) {
    auto r = view.Resolve("10.96.0.10", 80, random);
    ASSERT_TRUE(r && r->waypoint);
    EXPECT_EQ(r->subset, "");
    EXPECT_EQ(r->cluster, "outbound|80||web.demo.svc.cluster.local");
    EXPECT_EQ(r->connect_timeout_ms, 10'000u);
    for (const auto& t : r->balancer->targets()) EXPECT_EQ(t.port, 15008u) << t.address;
  }
  // The same Service unbound keeps them.
  NodeView plain(Parse(kSnapshot), "node1");
  auto r = plain.Resolve("10.96.0.10", 80, 0);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->waypoint);
  EXPECT_EQ(r->subset, "v2");
  EXPECT_EQ(r->connect_timeout_ms, 250u);
}

TEST(NodeView, MissingWaypointOrNoReadyEndpointIsARefusalNotADirectRoute) {
  // The Service names a waypoint the snapshot does not have.
  NodeView missing(WithWaypoint(R"(waypoint: "other")", kDemoWaypoint), "node1");
  auto r = missing.Resolve("10.96.0.10", 80, 0, "demo/client");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->waypoint);
  EXPECT_FALSE(r->waypoint->available());
  EXPECT_EQ(r->waypoint->unavailable, "no such waypoint");
  EXPECT_EQ(r->waypoint->name, "demo/other");
  EXPECT_EQ(r->waypoint->waypoint, nullptr);
  EXPECT_EQ(r->balancer, nullptr) << "nothing to pick: never the Service's endpoints";

  // The waypoint exists but none of its pods is ready.
  NodeView not_ready(WithWaypoint(R"(waypoint: "waypoint")", R"pb(
                       waypoints {
                         name: "waypoint"
                         namespace: "demo"
                         identity: "spiffe://cluster.local/ns/demo/sa/waypoint"
                         port: 15008
                         endpoints { address: "10.244.3.6" workload_uid: "demo/waypoint-b" }
                       })pb"),
                     "node1");
  r = not_ready.Resolve("10.96.0.10", 80, 0, "demo/client");
  ASSERT_TRUE(r && r->waypoint);
  EXPECT_EQ(r->waypoint->unavailable, "no ready endpoint");
  EXPECT_NE(r->waypoint->waypoint, nullptr);
  EXPECT_EQ(r->balancer, nullptr);

  // A waypoint with no pods at all.
  NodeView no_pods(WithWaypoint(R"(waypoint: "waypoint")", R"pb(
                     waypoints {
                       name: "waypoint"
                       namespace: "demo"
                       identity: "spiffe://cluster.local/ns/demo/sa/waypoint"
                     })pb"),
                   "node1");
  r = no_pods.Resolve("10.96.0.10", 80, 0);
  ASSERT_TRUE(r && r->waypoint);
  EXPECT_EQ(r->waypoint->unavailable, "no ready endpoint");
}

TEST(NodeView, WaypointNamespaceIsHonouredAndDefaultsToTheServicesNamespace) {
  const std::string two = std::string(kDemoWaypoint) + R"pb(
    waypoints {
      name: "waypoint"
      namespace: "infra"
      identity: "spiffe://cluster.local/ns/infra/sa/waypoint"
      port: 15008
      endpoints { address: "10.244.9.9" workload_uid: "infra/waypoint-x" ready: true }
    })pb";
  NodeView other_ns(WithWaypoint(R"(waypoint: "waypoint" waypoint_namespace: "infra")", two),
                    "node1");
  auto r = other_ns.Resolve("10.96.0.10", 80, 0);
  ASSERT_TRUE(r && r->waypoint);
  EXPECT_EQ(r->waypoint->name, "infra/waypoint");
  EXPECT_EQ(r->waypoint->identity, "spiffe://cluster.local/ns/infra/sa/waypoint");
  ASSERT_EQ(r->balancer->targets().size(), 1u);
  EXPECT_EQ(r->balancer->targets()[0].address, "10.244.9.9");

  // Empty waypoint_namespace: the Service's own (demo).
  NodeView same_ns(WithWaypoint(R"(waypoint: "waypoint")", two), "node1");
  r = same_ns.Resolve("10.96.0.10", 80, 0);
  ASSERT_TRUE(r && r->waypoint);
  EXPECT_EQ(r->waypoint->name, "demo/waypoint");
  EXPECT_EQ(r->waypoint->identity, "spiffe://cluster.local/ns/demo/sa/waypoint");

  // Named in a namespace that has no such waypoint: refused, not the same-named one elsewhere.
  NodeView wrong_ns(WithWaypoint(R"(waypoint: "waypoint" waypoint_namespace: "nowhere")", two),
                    "node1");
  r = wrong_ns.Resolve("10.96.0.10", 80, 0);
  ASSERT_TRUE(r && r->waypoint);
  EXPECT_EQ(r->waypoint->name, "nowhere/waypoint");
  EXPECT_FALSE(r->waypoint->available());
}

TEST(NodeView, TheWaypointsOwnPodGoesDirectAndOthersWithItsIdentityDoNot) {
  // demo/lookalike runs as the waypoint's service account but is not one of its pods.
  NodeView view(WithWaypoint(R"(waypoint: "waypoint")", std::string(kDemoWaypoint) + R"pb(
                  workloads {
                    uid: "demo/lookalike"
                    addresses: "10.244.1.8"
                    service_account: "waypoint"
                    identity: "spiffe://cluster.local/ns/demo/sa/waypoint"
                  })pb"),
                "node1");
  // From one of the waypoint's pods: the Service's own route (TCP route to v2 included).
  auto r = view.Resolve("10.96.0.10", 80, 0, "demo/waypoint-c");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->waypoint);
  EXPECT_EQ(r->subset, "v2");
  ASSERT_EQ(r->balancer->targets().size(), 1u);
  EXPECT_EQ(r->balancer->targets()[0].address, "10.244.2.2");
  // Any other workload, whatever its service account, goes through the waypoint.
  for (const char* source : {"demo/client", "demo/lookalike", ""}) {
    r = view.Resolve("10.96.0.10", 80, 0, source);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->waypoint) << source;
  }
}

TEST(NodeView, TheAuthorityIsTheVipTheClientDialed) {
  std::string text = std::string(kSnapshot);
  text.replace(text.find(R"(vips: "10.96.0.10")"), std::string(R"(vips: "10.96.0.10")").size(),
               R"(vips: "10.96.0.10" vips: "fd00:96::10")");
  const std::string anchor = R"(namespace: "demo")";
  text.insert(text.find(anchor) + anchor.size(), R"( waypoint: "waypoint" )");
  NodeView view(Parse(text + kDemoWaypoint), "node1");
  auto r = view.Resolve("fd00:96::10", 80, 0);
  ASSERT_TRUE(r && r->waypoint);
  EXPECT_EQ(r->waypoint->authority_address, "fd00:96::10");
  EXPECT_EQ(r->waypoint->authority_port, 80u);
  // Not a Service port: not the Service, not the waypoint.
  EXPECT_FALSE(view.Resolve("10.96.0.10", 81, 0));
}

TEST(NodeView, ServiceWaypointNameAndLookups) {
  auto snap = WithWaypoint(R"(waypoint: "waypoint")", kDemoWaypoint);
  ASSERT_EQ(snap->services_size(), 1);
  EXPECT_EQ(ServiceWaypointName(snap->services(0)), "demo/waypoint");
  EXPECT_EQ(ServiceWaypointName(Parse(kSnapshot)->services(0)), "");
  const pb::Waypoint* wp = FindWaypoint(*snap, "demo/waypoint");
  ASSERT_NE(wp, nullptr);
  EXPECT_EQ(ReadyWaypointEndpoints(*wp), 2);
  EXPECT_EQ(FindWaypoint(*snap, "infra/waypoint"), nullptr);
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

TEST(NodeView, LocalityLbSettingFillsTheBalancerConfigAsIstio) {
  pb::ClusterPolicy p;
  auto* loc = p.mutable_load_balancer()->mutable_locality();
  loc->set_enabled(true);
  auto* d = loc->add_distribute();
  d->set_from("r1/z1/*");
  (*d->mutable_to())["r1/z2/*"] = 80;
  (*d->mutable_to())["r1/z1/*"] = 20;
  loc->add_failover()->set_from("r1");
  loc->mutable_failover(0)->set_to("r2");
  loc->add_failover_priority("topology.kubernetes.io/region");
  auto cfg = BalancerConfigFor(&p);
  EXPECT_TRUE(cfg.locality_aware);
  ASSERT_EQ(cfg.distribute.size(), 1u);
  EXPECT_EQ(cfg.distribute[0].from, "r1/z1/*");
  // Sorted, so that every proxy (and the waypoint) decides alike.
  EXPECT_EQ(cfg.distribute[0].to,
            (std::vector<std::pair<std::string, uint32_t>>{{"r1/z1/*", 20}, {"r1/z2/*", 80}}));
  // Failover needs outlier detection, as in Istio; distribute does not.
  EXPECT_TRUE(cfg.failover.empty());
  EXPECT_TRUE(cfg.failover_priority.empty());
  p.mutable_outlier_detection();
  cfg = BalancerConfigFor(&p);
  ASSERT_EQ(cfg.failover.size(), 1u);
  EXPECT_EQ(cfg.failover[0].to, "r2");
  EXPECT_EQ(cfg.failover_priority, std::vector<std::string>{"topology.kubernetes.io/region"});
  // enabled: false turns all of it off.
  loc->set_enabled(false);
  cfg = BalancerConfigFor(&p);
  EXPECT_TRUE(cfg.distribute.empty() && cfg.failover.empty());
}

TEST(NodeView, OutlierConfigIsOnByDefaultAndMapsLocalOriginFailuresAsEnvoy) {
  auto d = OutlierConfigFor(nullptr);
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.LocalOriginThreshold(), 5u);
  EXPECT_EQ(d.base_ejection_time, std::chrono::seconds(30));
  EXPECT_EQ(d.max_ejection_percent, 10u);
  EXPECT_EQ(d.min_health_percent, 0u);
  pb::ClusterPolicy p;
  auto* od = p.mutable_outlier_detection();
  // Istio's defaults with an empty outlierDetection (the waypoint's, too).
  auto e = OutlierConfigFor(&p);
  EXPECT_TRUE(e.enabled);
  EXPECT_EQ(e.consecutive_5xx, 5u);
  EXPECT_EQ(e.consecutive_gateway, 0u);
  EXPECT_EQ(e.max_ejection_percent, 10u);
  EXPECT_EQ(e.base_ejection_time, std::chrono::seconds(30));
  EXPECT_EQ(e.interval, std::chrono::seconds(10));
  EXPECT_EQ(OutlierConfigFor(&p).LocalOriginThreshold(), 5u);  // consecutive5xxErrors unset: 5
  od->set_consecutive_5xx_errors(3);
  EXPECT_EQ(OutlierConfigFor(&p).LocalOriginThreshold(), 3u);
  od->set_consecutive_gateway_errors(2);
  EXPECT_EQ(OutlierConfigFor(&p).consecutive_gateway, 2u);
  EXPECT_EQ(OutlierConfigFor(&p).LocalOriginThreshold(), 2u);  // whichever is lower
  od->set_consecutive_5xx_errors(0);
  EXPECT_EQ(OutlierConfigFor(&p).consecutive_5xx, 0u);
  EXPECT_EQ(OutlierConfigFor(&p).LocalOriginThreshold(), 2u);
  od->set_consecutive_gateway_errors(0);
  EXPECT_EQ(OutlierConfigFor(&p).LocalOriginThreshold(), 0u);  // both off: no ejection
  od->set_split_external_local_origin_errors(true);
  EXPECT_EQ(OutlierConfigFor(&p).LocalOriginThreshold(), 5u);  // local origin, unset: 5
  od->set_consecutive_local_origin_failures(7);
  od->set_base_ejection_time_ms(1000);
  od->set_interval_ms(2000);
  od->set_max_ejection_percent(0);
  od->set_min_health_percent(50);
  auto c = OutlierConfigFor(&p);
  EXPECT_TRUE(c.split_local_origin);
  EXPECT_EQ(c.consecutive_local_origin, 7u);
  EXPECT_EQ(c.LocalOriginThreshold(), 7u);
  EXPECT_EQ(c.base_ejection_time, std::chrono::seconds(1));
  EXPECT_EQ(c.interval, std::chrono::seconds(2));
  EXPECT_EQ(c.max_ejection_percent, 0u);  // set to 0: nothing may be ejected
  EXPECT_EQ(c.min_health_percent, 50u);
}

TEST(NodeView, RouteCarriesPoolLimitsAndEjectionOnlyWithoutAWaypoint) {
  auto snap = Parse(std::string(kSnapshot) + R"pb(
    cluster_policies {
      name: "outbound|80|v2|web.demo.svc.cluster.local"
      hostname: "web.demo.svc.cluster.local"
      subset: "v2"
      port: 80
      connection_pool { max_connections: 3 connect_timeout_ms: 150 }
      outlier_detection { consecutive_5xx_errors: 4 }
    })pb");
  NodeView view(snap, "node1");
  auto r = view.Resolve("10.96.0.10", 80, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cluster, "outbound|80|v2|web.demo.svc.cluster.local");
  EXPECT_EQ(r->max_connections, 3u);
  EXPECT_EQ(r->connect_timeout_ms, 150u);
  ASSERT_TRUE(r->outlier);
  EXPECT_EQ(r->outlier->consecutive_5xx, 4u);
  // A workload addressed directly: neither.
  auto direct = view.Resolve("10.244.1.9", 8080, 0);
  ASSERT_TRUE(direct);
  EXPECT_FALSE(direct->outlier);
  EXPECT_EQ(direct->max_connections, 0u);
}

}  // namespace
}  // namespace weft::agent::proxy
