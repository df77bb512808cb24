// Golden tests on the Istio examples users bring (tests/testdata/istio, copied from
// ../shared/examples/istio): each file compiles together with k8s-catalog.yaml, and its output
// is checked field by field.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using testing::CompileInputs;
using testing::Dump;
using ::testing::ElementsAre;
using testing::ErrorCount;
using testing::FindCluster;
using testing::FindNamespace;
using testing::FindRouteTable;
using testing::FindService;
using testing::Input;
using ::testing::IsEmpty;
using ::testing::Pair;
using testing::ReadFile;
using ::testing::SizeIs;
using testing::TestdataPath;

Input Example(const std::string& name) {
  return {name, ReadFile(TestdataPath("istio/" + name))};
}

pb::MeshSnapshot Compile(const std::vector<std::string>& names) {
  std::vector<Input> in;
  for (const auto& n : names) in.push_back(Example(n));
  auto res = CompileInputs(in);
  EXPECT_FALSE(res.has_errors) << Dump(res.snapshot);
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  EXPECT_THAT(res.snapshot.excluded(), IsEmpty()) << Dump(res.snapshot);
  return res.snapshot;
}

constexpr char kCatalogHost[] = "catalog.istioinaction.svc.cluster.local";
constexpr char kWebappHost[] = "webapp.istioinaction.svc.cluster.local";
constexpr char kBackendHost[] = "simple-backend.istioinaction.svc.cluster.local";

// Every example file compiles with the catalog (and the subsets the canary needs) with no
// diagnostics at all: a new example that does not gets noticed here.
TEST(Examples, EveryFileCompilesCleanly) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(TestdataPath("istio"))) {
    if (e.path().extension() == ".yaml") files.push_back(e.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_THAT(files,
              ElementsAre("catalog-canary-90-10.yaml", "catalog-subsets.yaml", "k8s-catalog.yaml",
                          "simple-backend-lb.yaml", "webapp-retries.yaml"));
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    std::vector<std::string> in = {"k8s-catalog.yaml", "catalog-subsets.yaml"};
    if (std::find(in.begin(), in.end(), f) == in.end()) in.push_back(f);
    pb::MeshSnapshot s = Compile(in);
    EXPECT_EQ(s.diagnostics_size(), 0) << Dump(s);
  }
}

TEST(Examples, AllTogether) {
  pb::MeshSnapshot s =
      Compile({"k8s-catalog.yaml", "catalog-subsets.yaml", "catalog-canary-90-10.yaml",
               "simple-backend-lb.yaml", "webapp-retries.yaml"});
  EXPECT_EQ(s.diagnostics_size(), 0) << Dump(s);
  EXPECT_EQ(s.services_size(), 3);
  EXPECT_EQ(s.route_tables_size(), 2);
  EXPECT_EQ(s.cluster_policies_size(), 4);
}

TEST(Examples, K8sCatalog) {
  pb::MeshSnapshot s = Compile({"k8s-catalog.yaml"});
  EXPECT_EQ(s.schema_version(), "weft.config.v1");
  EXPECT_EQ(s.settings().root_namespace(), "istio-system");
  ASSERT_EQ(s.namespaces_size(), 1);
  const pb::Namespace* ns = FindNamespace(s, "istioinaction");
  ASSERT_NE(ns, nullptr);
  EXPECT_EQ(ns->dataplane_mode(), pb::DATAPLANE_MODE_AMBIENT);
  EXPECT_EQ(ns->source().file(), "k8s-catalog.yaml");
  EXPECT_EQ(ns->source().line(), 1u);
  std::vector<std::string> hosts;
  for (const auto& svc : s.services()) hosts.push_back(svc.hostname());
  EXPECT_THAT(hosts, ElementsAre(kCatalogHost, kBackendHost, kWebappHost));
  struct Want {
    const char* host;
    const char* name;
    uint32_t target;
    uint32_t line;
  };
  for (const Want& w :
       {Want{kCatalogHost, "catalog", 3000, 8}, Want{kWebappHost, "webapp", 8080, 21},
        Want{kBackendHost, "simple-backend", 8080, 34}}) {
    SCOPED_TRACE(w.host);
    const pb::Service* svc = FindService(s, w.host);
    ASSERT_NE(svc, nullptr);
    EXPECT_EQ(svc->name(), w.name);
    EXPECT_EQ(svc->namespace_(), "istioinaction");
    EXPECT_EQ(svc->kind(), pb::SERVICE_KIND_KUBERNETES);
    EXPECT_THAT(svc->vips(), IsEmpty());  // no clusterIP in the example
    EXPECT_THAT(svc->selector(), ElementsAre(Pair("app", w.name)));
    ASSERT_EQ(svc->ports_size(), 1);
    EXPECT_EQ(svc->ports(0).name(), "http");
    EXPECT_EQ(svc->ports(0).port(), 80u);
    EXPECT_EQ(svc->ports(0).target_port(), w.target);
    EXPECT_EQ(svc->ports(0).protocol(), "TCP");
    EXPECT_EQ(svc->ports(0).app_protocol(), "http");
    EXPECT_EQ(svc->endpoints_size(), 0);  // no Pods or slices in the example
    EXPECT_EQ(svc->subsets_size(), 0);
    EXPECT_EQ(svc->source().line(), w.line);
  }
  EXPECT_EQ(s.workloads_size(), 0);
  EXPECT_EQ(s.route_tables_size(), 0);
  EXPECT_EQ(s.cluster_policies_size(), 0);
  EXPECT_EQ(s.authorization_policies_size(), 0);
}

TEST(Examples, CatalogCanary9010) {
  pb::MeshSnapshot s =
      Compile({"k8s-catalog.yaml", "catalog-subsets.yaml", "catalog-canary-90-10.yaml"});
  ASSERT_EQ(s.route_tables_size(), 1);
  const pb::RouteTable* t = FindRouteTable(s, kCatalogHost);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->port(), 0u);
  EXPECT_EQ(t->source().kind(), "VirtualService");
  EXPECT_EQ(t->source().api_version(), "networking.istio.io/v1alpha3");
  EXPECT_EQ(t->source().namespace_(), "istioinaction");
  EXPECT_EQ(t->source().name(), "catalog");
  EXPECT_EQ(t->source().file(), "catalog-canary-90-10.yaml");
  EXPECT_EQ(t->tcp_routes_size(), 0);
  ASSERT_EQ(t->http_routes_size(), 1);
  const pb::HttpRoute& r = t->http_routes(0);
  EXPECT_EQ(r.matches_size(), 0);  // matches everything
  EXPECT_EQ(r.source().field(), "spec.http[0]");
  EXPECT_EQ(r.source().line(), 12u);
  ASSERT_EQ(r.destinations_size(), 2);
  EXPECT_EQ(r.destinations(0).hostname(), kCatalogHost);
  EXPECT_EQ(r.destinations(0).subset(), "version-v1");
  EXPECT_EQ(r.destinations(0).weight(), 90u);
  EXPECT_EQ(r.destinations(0).port(), 0u);
  EXPECT_EQ(r.destinations(0).cluster(),
            "outbound|0|version-v1|catalog.istioinaction.svc.cluster.local");
  EXPECT_EQ(r.destinations(1).hostname(), kCatalogHost);
  EXPECT_EQ(r.destinations(1).subset(), "version-v2");
  EXPECT_EQ(r.destinations(1).weight(), 10u);
  EXPECT_EQ(r.destinations(1).cluster(),
            "outbound|0|version-v2|catalog.istioinaction.svc.cluster.local");
  EXPECT_EQ(r.timeout_ms(), 0u);
  EXPECT_FALSE(r.has_retries());
  // Every cluster a route names exists.
  for (const auto& d : r.destinations())
    EXPECT_NE(FindCluster(s, d.cluster()), nullptr) << d.cluster();
}

TEST(Examples, CatalogCanaryNeedsTheSubsets) {
  // Without catalog-subsets.yaml the subsets do not exist: an error, as istioctl analyze
  // reports (IST0101), and the VirtualService is left out.
  auto res = CompileInputs({Example("k8s-catalog.yaml"), Example("catalog-canary-90-10.yaml")});
  EXPECT_TRUE(res.has_errors);
  std::vector<std::string> got;
  for (const auto& d : res.snapshot.diagnostics()) {
    got.push_back(d.code() + " " + d.source().file() + ":" + std::to_string(d.source().line()) +
                  ":" + std::to_string(d.source().column()) + " " + d.source().field());
  }
  EXPECT_THAT(got, ElementsAre("reference catalog-canary-90-10.yaml:15:17 "
                               "spec.http[0].route[0].destination.subset",
                               "reference catalog-canary-90-10.yaml:19:17 "
                               "spec.http[0].route[1].destination.subset"));
  ASSERT_EQ(res.snapshot.excluded_size(), 1);
  EXPECT_EQ(res.snapshot.excluded(0).source().name(), "catalog");
  EXPECT_EQ(res.snapshot.route_tables_size(), 0);
}

TEST(Examples, CatalogSubsets) {
  pb::MeshSnapshot s = Compile({"k8s-catalog.yaml", "catalog-subsets.yaml"});
  const pb::Service* svc = FindService(s, kCatalogHost);
  ASSERT_NE(svc, nullptr);
  ASSERT_EQ(svc->subsets_size(), 2);
  EXPECT_EQ(svc->subsets(0).name(), "version-v1");
  EXPECT_THAT(svc->subsets(0).labels(), ElementsAre(Pair("version", "v1")));
  EXPECT_THAT(svc->subsets(0).endpoint_indexes(), IsEmpty());
  EXPECT_EQ(svc->subsets(0).source().file(), "catalog-subsets.yaml");
  EXPECT_EQ(svc->subsets(0).source().field(), "spec.subsets[0]");
  EXPECT_EQ(svc->subsets(1).name(), "version-v2");
  EXPECT_THAT(svc->subsets(1).labels(), ElementsAre(Pair("version", "v2")));
  // Only catalog has subsets.
  EXPECT_EQ(FindService(s, kWebappHost)->subsets_size(), 0);
  std::vector<std::string> clusters;
  for (const auto& c : s.cluster_policies()) {
    clusters.push_back(c.name());
    EXPECT_FALSE(c.has_load_balancer()) << c.name();
    EXPECT_FALSE(c.has_connection_pool()) << c.name();
    EXPECT_FALSE(c.has_outlier_detection()) << c.name();
    EXPECT_FALSE(c.has_tls()) << c.name();
    EXPECT_EQ(c.hostname(), kCatalogHost);
  }
  EXPECT_THAT(clusters, ElementsAre("outbound|0|version-v1|catalog.istioinaction.svc.cluster.local",
                                    "outbound|0|version-v2|catalog.istioinaction.svc.cluster.local",
                                    "outbound|0||catalog.istioinaction.svc.cluster.local"));
}

TEST(Examples, SimpleBackendLb) {
  pb::MeshSnapshot s = Compile({"k8s-catalog.yaml", "simple-backend-lb.yaml"});
  ASSERT_EQ(s.cluster_policies_size(), 1);
  const pb::ClusterPolicy* c =
      FindCluster(s, "outbound|0||simple-backend.istioinaction.svc.cluster.local");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->hostname(), kBackendHost);
  EXPECT_EQ(c->subset(), "");
  EXPECT_EQ(c->port(), 0u);
  // LEAST_CONN is Istio's deprecated name of LEAST_REQUEST.
  EXPECT_EQ(c->load_balancer().policy(), pb::LoadBalancer::LEAST_REQUEST);
  EXPECT_FALSE(c->load_balancer().has_consistent_hash());
  EXPECT_FALSE(c->has_connection_pool());
  EXPECT_FALSE(c->has_outlier_detection());
  EXPECT_FALSE(c->has_tls());
  EXPECT_EQ(c->source().kind(), "DestinationRule");
  EXPECT_EQ(c->source().api_version(), "networking.istio.io/v1beta1");
  EXPECT_EQ(c->source().name(), "simple-backend-dr");
  EXPECT_EQ(c->source().file(), "simple-backend-lb.yaml");
  EXPECT_EQ(s.route_tables_size(), 0);
}

TEST(Examples, WebappRetries) {
  pb::MeshSnapshot s = Compile({"k8s-catalog.yaml", "webapp-retries.yaml"});
  ASSERT_EQ(s.route_tables_size(), 1);
  const pb::RouteTable* t = FindRouteTable(s, kWebappHost);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->source().name(), "webapp");
  ASSERT_EQ(t->http_routes_size(), 1);
  const pb::HttpRoute& r = t->http_routes(0);
  ASSERT_EQ(r.destinations_size(), 1);
  EXPECT_EQ(r.destinations(0).hostname(), kWebappHost);
  EXPECT_EQ(r.destinations(0).port(), 80u);
  EXPECT_EQ(r.destinations(0).subset(), "");
  EXPECT_EQ(r.destinations(0).weight(), 100u);
  EXPECT_EQ(r.destinations(0).cluster(), "outbound|80||webapp.istioinaction.svc.cluster.local");
  ASSERT_TRUE(r.has_retries());
  EXPECT_EQ(r.retries().attempts(), 3u);
  EXPECT_EQ(r.retries().per_try_timeout_ms(), 2000u);
  EXPECT_THAT(r.retries().retry_on(), IsEmpty());
  EXPECT_EQ(r.timeout_ms(), 0u);
  EXPECT_EQ(r.source().line(), 10u);
  EXPECT_EQ(s.cluster_policies_size(), 0);
}

TEST(Examples, TestdataMatchesTheSharedExamples) {
  // CI has ../shared beside the repository; when it is there, the copies must not drift.
  std::filesystem::path shared =
      std::filesystem::path(WEFT_SOURCE_DIR) / ".." / "shared" / "examples" / "istio";
  if (!std::filesystem::exists(shared)) return;  // hermetic: nothing to compare against
  for (const auto& e : std::filesystem::directory_iterator(shared)) {
    SCOPED_TRACE(e.path().filename().string());
    EXPECT_EQ(ReadFile(e.path().string()),
              ReadFile(TestdataPath("istio/" + e.path().filename().string())));
  }
}

}  // namespace
}  // namespace weft::policy
