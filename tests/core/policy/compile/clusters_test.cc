// Clusters pass: DestinationRules become ClusterPolicies per (host, subset, port), with Istio's
// precedence: a subset's trafficPolicy overrides the rule's per part; portLevelSettings replace
// the policy of their level for that port, and parts they omit take their defaults (Istio's
// TrafficPolicy.portLevelSettings: "Traffic settings specified at the destination-level will
// not be inherited when overridden by port-level settings").

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using testing::CompileYaml;
using testing::DiagsOf;
using testing::Dump;
using ::testing::ElementsAre;
using testing::ErrorCount;
using testing::ExcludedNames;
using testing::FindCluster;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kSvc[] = R"(apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {ports: [{name: http, port: 9080}, {name: https, port: 9443}]}
)";

constexpr char kPrecedence[] = R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {tcp: {maxConnections: 100}}
    outlierDetection: {consecutive5xxErrors: 5}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      connectionPool: {tcp: {maxConnections: 7}}
      portLevelSettings:
      - port: {number: 9443}
        tls: {mode: ISTIO_MUTUAL}
)";

constexpr char kHost[] = "reviews.shop.svc.cluster.local";

// What one cluster ends up with; -1 / "" / UNSPECIFIED = the part is unset (default).
struct Expect {
  std::string name;
  pb::LoadBalancer::Policy lb;
  int max_connections;
  int consecutive_5xx;
  pb::ClientTls::Mode tls;
};

void PrintTo(const Expect& e, std::ostream* os) {
  *os << e.name;
}

class ClusterPrecedence : public ::testing::TestWithParam<Expect> {};

TEST_P(ClusterPrecedence, Table) {
  const Expect& e = GetParam();
  auto res = CompileYaml({kSvc, kPrecedence});
  const pb::ClusterPolicy* c = FindCluster(res.snapshot, e.name);
  ASSERT_NE(c, nullptr) << e.name;
  EXPECT_EQ(c->load_balancer().policy(), e.lb) << e.name;
  EXPECT_EQ(c->has_load_balancer(), e.lb != pb::LoadBalancer::POLICY_UNSPECIFIED) << e.name;
  EXPECT_EQ(c->has_connection_pool(), e.max_connections >= 0) << e.name;
  if (e.max_connections >= 0) {
    EXPECT_EQ(c->connection_pool().max_connections(), static_cast<uint32_t>(e.max_connections))
        << e.name;
  }
  EXPECT_EQ(c->has_outlier_detection(), e.consecutive_5xx >= 0) << e.name;
  if (e.consecutive_5xx >= 0) {
    EXPECT_EQ(c->outlier_detection().consecutive_5xx_errors(),
              static_cast<uint32_t>(e.consecutive_5xx))
        << e.name;
  }
  EXPECT_EQ(c->tls().mode(), e.tls) << e.name;
  EXPECT_EQ(c->hostname(), kHost);
}

constexpr auto RR = pb::LoadBalancer::ROUND_ROBIN;
constexpr auto RND = pb::LoadBalancer::RANDOM;
constexpr auto NOLB = pb::LoadBalancer::POLICY_UNSPECIFIED;
constexpr auto NOTLS = pb::ClientTls::MODE_UNSPECIFIED;

INSTANTIATE_TEST_SUITE_P(
    Istio, ClusterPrecedence,
    ::testing::Values(
        // The host-wide policy.
        Expect{"outbound|0||reviews.shop.svc.cluster.local", RR, 100, 5, NOTLS},
        // Top-level port settings replace the host-wide policy for that port.
        Expect{"outbound|9080||reviews.shop.svc.cluster.local", RND, -1, -1, NOTLS},
        // A subset without a policy uses the rule's, port settings included.
        Expect{"outbound|0|v1|reviews.shop.svc.cluster.local", RR, 100, 5, NOTLS},
        Expect{"outbound|9080|v1|reviews.shop.svc.cluster.local", RND, -1, -1, NOTLS},
        // A subset's policy overrides per part and inherits the rest.
        Expect{"outbound|0|v2|reviews.shop.svc.cluster.local", RR, 7, 5, NOTLS},
        // ... on top of the top-level port settings for that port.
        Expect{"outbound|9080|v2|reviews.shop.svc.cluster.local", RND, 7, -1, NOTLS},
        // The subset's own port settings replace everything for their port.
        Expect{"outbound|9443|v2|reviews.shop.svc.cluster.local", NOLB, -1, -1,
               pb::ClientTls::ISTIO_MUTUAL}),
    [](const auto& info) {
      std::string n = info.param.name.substr(0, info.param.name.find("|reviews"));
      for (char& ch : n) {
        if (ch == '|') ch = '_';
      }
      return n;
    });

TEST(Clusters, OneClusterPerHostSubsetAndPortSortedByName) {
  auto res = CompileYaml({kSvc, kPrecedence});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  std::vector<std::string> names;
  for (const auto& c : res.snapshot.cluster_policies()) names.push_back(c.name());
  // Byte order of the names ('|' sorts after letters).
  EXPECT_THAT(names, ElementsAre("outbound|0|v1|reviews.shop.svc.cluster.local",
                                 "outbound|0|v2|reviews.shop.svc.cluster.local",
                                 "outbound|0||reviews.shop.svc.cluster.local",
                                 "outbound|9080|v1|reviews.shop.svc.cluster.local",
                                 "outbound|9080|v2|reviews.shop.svc.cluster.local",
                                 "outbound|9080||reviews.shop.svc.cluster.local",
                                 "outbound|9443|v2|reviews.shop.svc.cluster.local"));
  const pb::ClusterPolicy* v2 = FindCluster(res.snapshot, "outbound|0|v2|" + std::string(kHost));
  ASSERT_NE(v2, nullptr);
  EXPECT_EQ(v2->subset(), "v2");
  EXPECT_EQ(v2->port(), 0u);
  EXPECT_EQ(v2->source().kind(), "DestinationRule");
  EXPECT_EQ(v2->source().name(), "reviews");
  EXPECT_EQ(v2->source().field(), "spec.subsets[1]");
  const pb::ClusterPolicy* p = FindCluster(res.snapshot, "outbound|9080||" + std::string(kHost));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->port(), 9080u);
  EXPECT_EQ(p->subset(), "");
}

TEST(Clusters, SimpleLeastConnIsLeastRequest) {
  auto res = CompileYaml({kSvc, R"(apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: lb, namespace: shop}
spec:
  host: reviews.shop.svc.cluster.local
  trafficPolicy:
    loadBalancer: {simple: LEAST_CONN}
)"});
  ASSERT_EQ(res.snapshot.cluster_policies_size(), 1);
  const auto& c = res.snapshot.cluster_policies(0);
  EXPECT_EQ(c.name(), "outbound|0||reviews.shop.svc.cluster.local");
  EXPECT_EQ(c.load_balancer().policy(), pb::LoadBalancer::LEAST_REQUEST);
  EXPECT_FALSE(c.has_connection_pool());
}

TEST(Clusters, ShortHostResolvesInTheRulesNamespace) {
  auto res = CompileYaml({kSvc, R"(apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: other}
spec: {ports: [{port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r, namespace: other}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
)"});
  EXPECT_NE(FindCluster(res.snapshot, "outbound|0||reviews.other.svc.cluster.local"), nullptr);
  EXPECT_EQ(FindCluster(res.snapshot, "outbound|0||reviews.shop.svc.cluster.local"), nullptr);
}

TEST(Clusters, OlderRuleWinsAndTheLaterIsExcluded) {
  auto res = CompileYaml({kSvc, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: later, namespace: shop, creationTimestamp: "2024-05-01T00:00:00Z"}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: first, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  host: reviews.shop.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
)"});
  const pb::ClusterPolicy* c = FindCluster(res.snapshot, "outbound|0||" + std::string(kHost));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->load_balancer().policy(), pb::LoadBalancer::ROUND_ROBIN);
  EXPECT_EQ(c->source().name(), "first");
  auto conflict = DiagsOf(res.snapshot, code::kConflict);
  ASSERT_THAT(conflict, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(conflict[0].source().name(), "later");
  EXPECT_EQ(conflict[0].source().field(), "spec.host");
  EXPECT_EQ(conflict[0].source().line(), 5u);
  EXPECT_EQ(conflict[0].message(),
            "conflicts with DestinationRule shop/first for host "
            "\"reviews.shop.svc.cluster.local\", which is older and wins");
  EXPECT_THAT(ExcludedNames(res.snapshot), ElementsAre("DestinationRule/shop/later"));
}

TEST(Clusters, UnknownHostWarnsWildcardIsIgnored) {
  auto res = CompileYaml({kSvc, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ghost, namespace: shop}
spec:
  host: ghost
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: wild, namespace: shop}
spec:
  host: "*.example.com"
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
)"});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  auto ref = DiagsOf(res.snapshot, code::kReference);
  ASSERT_THAT(ref, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(ref[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(ref[0].message(),
            "host \"ghost.shop.svc.cluster.local\" matches no Service or ServiceEntry");
  // The policy is still compiled, for when the host appears.
  EXPECT_NE(FindCluster(res.snapshot, "outbound|0||ghost.shop.svc.cluster.local"), nullptr);
  auto wild = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(wild, SizeIs(1));
  EXPECT_EQ(wild[0].source().name(), "wild");
  EXPECT_EQ(res.snapshot.cluster_policies_size(), 1);
}

TEST(Clusters, LocalityWithoutOutlierDetectionWarns) {
  auto res = CompileYaml({kSvc, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: loc, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      localityLbSetting: {enabled: true}
  subsets:
  - name: safe
    trafficPolicy:
      outlierDetection: {consecutive5xxErrors: 3}
)"});
  auto w = DiagsOf(res.snapshot, code::kValue);
  ASSERT_THAT(w, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(w[0].source().field(), "spec.trafficPolicy.loadBalancer.localityLbSetting");
  const pb::ClusterPolicy* c = FindCluster(res.snapshot, "outbound|0|safe|" + std::string(kHost));
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->load_balancer().locality().enabled());
  EXPECT_EQ(c->outlier_detection().consecutive_5xx_errors(), 3u);
}

TEST(Clusters, DuplicatePortLevelSettingsWarn) {
  auto res = CompileYaml({kSvc, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dup, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {simple: RANDOM}
    - port: {number: 9080}
      loadBalancer: {simple: ROUND_ROBIN}
)"});
  auto w = DiagsOf(res.snapshot, code::kConflict);
  ASSERT_THAT(w, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(w[0].source().field(), "spec.trafficPolicy.portLevelSettings");
  const pb::ClusterPolicy* c = FindCluster(res.snapshot, "outbound|9080||" + std::string(kHost));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->load_balancer().policy(), pb::LoadBalancer::ROUND_ROBIN);
}

// Istio's retryBudget is a part of its own: a subset's replaces the rule's; port-level
// settings, which cannot set it, keep the level's.
TEST(Clusters, RetryBudgetPrecedence) {
  auto res = CompileYaml({kSvc, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    retryBudget: {percent: 30}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      retryBudget: {minRetryConcurrency: 9}
)"});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  auto budget = [&](const std::string& name) {
    const pb::ClusterPolicy* c = FindCluster(res.snapshot, name + std::string(kHost));
    EXPECT_NE(c, nullptr) << name;
    return c ? c->retry_budget() : pb::EnvoyRetryBudget();
  };
  EXPECT_TRUE(budget("outbound|0||").enabled());
  EXPECT_DOUBLE_EQ(budget("outbound|0||").percent(), 30);
  EXPECT_EQ(budget("outbound|0||").min_retry_concurrency(), 3u);
  EXPECT_DOUBLE_EQ(budget("outbound|9080||").percent(), 30);  // port level keeps it
  EXPECT_DOUBLE_EQ(budget("outbound|0|v1|").percent(), 30);
  // The subset's budget replaces the rule's whole: its unset percent is the default 20.
  EXPECT_DOUBLE_EQ(budget("outbound|0|v2|").percent(), 20);
  EXPECT_EQ(budget("outbound|0|v2|").min_retry_concurrency(), 9u);
  EXPECT_EQ(budget("outbound|9080|v2|").min_retry_concurrency(), 9u);
}

TEST(Clusters, NoRetryBudgetUnlessWritten) {
  auto res = CompileYaml({kSvc, kPrecedence});
  for (const auto& c : res.snapshot.cluster_policies()) {
    EXPECT_FALSE(c.has_retry_budget()) << c.name();
  }
}

// A subset's outlierDetection replaces the rule's as a whole, so what it leaves unset stays
// unset (Istio's defaults at the waypoint), not the rule's values.
TEST(Clusters, SubsetOutlierDetectionIsWholeWithOptionalFields) {
  auto res = CompileYaml({kSvc, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 0, maxEjectionPercent: 100, interval: 1s}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      outlierDetection: {interval: 2s}
)"});
  const pb::ClusterPolicy* top = FindCluster(res.snapshot, "outbound|0||" + std::string(kHost));
  ASSERT_TRUE(top->outlier_detection().has_consecutive_5xx_errors());
  EXPECT_EQ(top->outlier_detection().consecutive_5xx_errors(), 0u);
  EXPECT_EQ(top->outlier_detection().max_ejection_percent(), 100u);
  const pb::ClusterPolicy* v1 = FindCluster(res.snapshot, "outbound|0|v1|" + std::string(kHost));
  EXPECT_FALSE(v1->outlier_detection().has_consecutive_5xx_errors());
  EXPECT_FALSE(v1->outlier_detection().has_max_ejection_percent());
  EXPECT_EQ(v1->outlier_detection().interval_ms(), 2000u);
}

// connectionPool.http cannot take effect on ports that carry no HTTP.
TEST(Clusters, HttpPoolSettingsOnTcpPortsWarn) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {ports: [{name: tcp-pg, port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: mixed, namespace: shop}
spec: {ports: [{name: http, port: 80}, {name: redis, port: 6379}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: shop}
spec:
  host: db
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 10}
      http: {http2MaxRequests: 100, maxRequestsPerConnection: 1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mixed, namespace: shop}
spec:
  host: mixed
  trafficPolicy:
    connectionPool: {http: {http1MaxPendingRequests: 1}}
    portLevelSettings:
    - port: {number: 6379}
      connectionPool: {http: {maxRequestsPerConnection: 1}}
    - port: {number: 80}
      connectionPool: {http: {maxRequestsPerConnection: 1}}
)"});
  auto w = DiagsOf(res.snapshot, "value");
  ASSERT_THAT(w, SizeIs(2)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(w[0].source().name(), "db");
  EXPECT_EQ(w[0].source().field(), "spec.trafficPolicy.connectionPool.http");
  EXPECT_NE(w[0].message().find("5432 tcp"), std::string::npos) << w[0].message();
  EXPECT_EQ(w[1].source().name(), "mixed");
  EXPECT_EQ(w[1].source().field(), "spec.trafficPolicy.portLevelSettings.connectionPool.http");
  EXPECT_NE(w[1].message().find("port 6379 is redis"), std::string::npos) << w[1].message();
  // Only a warning: the settings are still compiled.
  EXPECT_EQ(FindCluster(res.snapshot, "outbound|0||db.shop.svc.cluster.local")
                ->connection_pool()
                .http2_max_requests(),
            100u);
}

TEST(Clusters, MaxRetriesWithRetryBudgetWarns) {
  auto res = CompileYaml({kSvc, R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {http: {maxRetries: 3}}
    retryBudget: {percent: 25}
)"});
  auto w = DiagsOf(res.snapshot, "value");
  ASSERT_THAT(w, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].source().field(), "spec.trafficPolicy.connectionPool.http.maxRetries");
}

TEST(Clusters, NoRuleNoCluster) {
  auto res = CompileYaml({kSvc});
  EXPECT_THAT(res.snapshot.cluster_policies(), IsEmpty());
}

}  // namespace
}  // namespace weft::policy
