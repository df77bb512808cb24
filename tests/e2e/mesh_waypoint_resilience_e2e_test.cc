// End to end: the waypoint's resilience on a real 2-node netns cluster (docs/waypoint.md,
// "Resilience"), each of the scenarios with its own numbers, under fortio (the load
// tool of Istio's tutorials, built by tools/setup-go-tools) run in the client pod on node1:
// retries of a backend failing 70 %, a route timeout, connection-pool overflow, outlier
// ejection and its end, a 50 % abort, mirroring, sticky sessions on a header, and locality
// failover (nodes in two zones; the waypoint on node2, zone b).
//
// Services beyond the waypoint suite's (waypoint_e2e_fixture.h): `flaky` (flaky-good on
// node1/zone a, flaky-bad on node2/zone b answering only 500s) and `shadow` (a mirror target),
// both bound to the waypoint.

#include <cstdlib>

#include "tests/e2e/waypoint_e2e_fixture.h"

namespace weft::e2e {
namespace {

constexpr char kFlakyHost[] = "flaky.demo.svc.cluster.local";
constexpr char kShadowHost[] = "shadow.demo.svc.cluster.local";

std::string FortioPath() {
  const char* cache = std::getenv("WEFT_CACHE");
  return std::string(cache && *cache ? cache : "/var/cache/weft") + "/go/bin/fortio";
}

// One fortio run's outcome: status counts and the mean latency.
struct Load {
  std::map<int, int> codes;
  double avg_s = 0;
  int total = 0;
  std::string raw;
  int Code(int c) const {
    auto it = codes.find(c);
    return it == codes.end() ? 0 : it->second;
  }
};

class ResilienceE2E : public WaypointE2E {
 protected:
  void SetUp() override {
    WaypointE2E::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(fs::exists(FortioPath()))
        << FortioPath() << " is missing: tools/setup-go-tools builds it";
    if (flaky_vip_.empty()) {
      WriteFile("nodes.yaml", ZonedNodes());
      WriteFile("resilience.yaml", ExtraYaml());
      ASSERT_TRUE(WaitFor(
          [&] {
            json svcs = Admin(N1(), "/services");
            if (!svcs.is_array()) return false;
            int ready = 0;
            for (const auto& j : svcs) {
              std::string h = j.value("hostname", "");
              if ((h == kFlakyHost && j.value("ready_endpoints", 0) == 2) ||
                  (h == kShadowHost && j.value("ready_endpoints", 0) == 1)) {
                ++ready;
              }
            }
            return ready == 2;
          },
          60000))
          << Diagnose();
      flaky_vip_ = ServiceVip(kFlakyHost);
      shadow_vip_ = ServiceVip(kShadowHost);
    }
  }

  static std::string ZonedNodes() {
    auto node = [](const std::string& n, const std::string& zone) {
      return "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + n +
             "\n  labels: {topology.kubernetes.io/region: r1, topology.kubernetes.io/zone: " +
             zone + "}\n";
    };
    return node(N1(), "a") + "---\n" + node(N2(), "b");
  }

  static std::string BackendPod(const std::string& name, const std::string& app,
                                const std::string& node, const std::string& extra = "") {
    return "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
           "\n  namespace: demo\n  labels: {app: " + app +
           "}\n  annotations:\n    weft.dev/run: \"exec /usr/bin/python3 " +
           Src("tests/waypoint/testdata/http_backend.py") +
           " --address 0.0.0.0 --port 8081 --name " + name + " " + extra +
           "\"\nspec:\n  nodeName: " + node + "\n";
  }

  static std::string ExtraYaml() {
    std::string out;
    for (const char* svc : {"flaky", "shadow"}) {
      out += std::string(out.empty() ? "" : "---\n") +
             "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + svc +
             "\n  namespace: demo\n  labels: {weft.dev/use-waypoint: waypoint}\nspec:\n"
             "  selector: {app: " +
             svc + "}\n  ports: [{name: http, port: 80, targetPort: 8081}]\n";
    }
    return out + BackendPod("flaky-good", "flaky", N1()) +
           BackendPod("flaky-bad", "flaky", N2(), "--status 500") +
           BackendPod("shadow-v1", "shadow", N1());
  }

  // fortio in the client pod: `count` GETs over `connections` keep-alive connections, as fast
  // as they go (bounded by the count; each request by fortio's timeout).
  Load Fortio(const std::string& url, int count, int connections, const std::string& extra = "") {
    Result r = ClusterCmd("exec demo/client -- " + FortioPath() +
                          " load -quiet -qps 0 -timeout 5s -allow-initial-errors -c " +
                          std::to_string(connections) + " -n " + std::to_string(count) + " " +
                          extra + " -json - " + url);
    Load l;
    l.raw = r.all();
    // The result is the object holding "RunType" (fortio's log lines may be JSON too).
    size_t key = r.out.find("\"RunType\"");
    size_t brace = key == std::string::npos ? key : r.out.rfind('{', key);
    json j = brace == std::string::npos ? json() : json::parse(r.out.substr(brace), nullptr, false);
    if (!j.is_object() || !j.contains("RetCodes") || !j.contains("DurationHistogram")) {
      ADD_FAILURE() << "fortio: " << r.all();
      return l;
    }
    const json codes = j["RetCodes"];
    for (auto& [code, n] : codes.items()) {
      int v = n.is_number() ? n.get<int>() : 0;
      l.codes[std::stoi(code)] = v;
      l.total += v;
    }
    l.avg_s = j["DurationHistogram"].value("Avg", 0.0);
    if (r.out.find("RetCodes") == std::string::npos) ADD_FAILURE() << r.all();
    return l;
  }

  static std::string Vs(const std::string& host, const std::string& rule_tail) {
    return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: " + host +
           "\n  namespace: demo\nspec:\n  hosts: [" + host +
           "]\n  http:\n  - route: " + "[{destination: {host: " + host + "}}]\n" + rule_tail;
  }
  static std::string Dr(const std::string& host, const std::string& traffic_policy) {
    return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: " + host +
           "\n  namespace: demo\nspec:\n  host: " + host + "\n  trafficPolicy: " + traffic_policy +
           "\n";
  }

  // Until the waypoint's admin `path` shows `needle`.
  static bool WaitForWaypoint(const std::string& path, const std::string& needle) {
    return WaitFor([&] { return WaypointAdmin(path).dump().find(needle) != std::string::npos; },
                   20000);
  }

  static std::string flaky_vip_, shadow_vip_;
};

std::string ResilienceE2E::flaky_vip_;
std::string ResilienceE2E::shadow_vip_;

TEST_F(ResilienceE2E, RetriesTurnA70PercentFailureRateIntoSuccess) {
  WriteRoutes(Vs("api", "    retries: {attempts: 20, retryOn: 5xx}\n"));
  ASSERT_TRUE(WaitForWaypointRoutes("\"name\""));
  ASSERT_TRUE(WaitForWaypoint("/config_dump", "api"));
  // The VirtualService is live once a retry shows up.
  ASSERT_TRUE(WaitFor(
      [&] { return Fortio("http://" + api_vip_ + "/fail/70", 20, 2).Code(200) >= 19; }, 20000));
  Load with = Fortio("http://" + api_vip_ + "/fail/70", 500, 4);
  EXPECT_EQ(with.total, 500) << with.raw;
  EXPECT_GE(with.Code(200), 495) << with.raw;  // >= 99 %

  WriteRoutes(Vs("api", "    retries: {attempts: 0}\n"));
  ASSERT_TRUE(WaitFor(
      [&] { return Fortio("http://" + api_vip_ + "/fail/70", 40, 2).Code(500) > 10; }, 20000));
  Load without = Fortio("http://" + api_vip_ + "/fail/70", 500, 4);
  EXPECT_EQ(without.total, 500) << without.raw;
  EXPECT_NEAR(without.Code(200) / 500.0, 0.30, 0.07) << without.raw;
}

TEST_F(ResilienceE2E, RouteTimeoutAnswers504InHalfASecond) {
  WriteRoutes(Vs("api", "    timeout: 0.5s\n"));
  ASSERT_TRUE(WaitFor(
      [&] { return Fortio("http://" + api_vip_ + "/delay/1000", 1, 1).Code(504) == 1; }, 20000));
  Load l = Fortio("http://" + api_vip_ + "/delay/1000", 10, 2);
  EXPECT_EQ(l.Code(504), 10) << l.raw;
  EXPECT_NEAR(l.avg_s, 0.5, 0.1) << l.raw;
  EXPECT_GE(WaypointAdmin("/stats")["resilience"].value("upstream_rq_timeout", 0), 10);
}

TEST_F(ResilienceE2E, ConnectionPoolLimitsAnswer503UnderABurst) {
  WriteRoutes(Vs("api", ""), Dr("api",
                                "{connectionPool: {tcp: {maxConnections: 1}, http: "
                                "{http1MaxPendingRequests: 1}}}"));
  ASSERT_TRUE(WaitForWaypoint("/clusters", "\"max_connections\":1"));
  Load l = Fortio("http://" + api_vip_ + "/delay/100", 100, 10);
  EXPECT_EQ(l.total, 100) << l.raw;
  EXPECT_GT(l.Code(503), 0) << l.raw;
  EXPECT_GT(l.Code(200), 0) << l.raw;
  EXPECT_EQ(l.Code(200) + l.Code(503), 100) << l.raw;
  json r = WaypointAdmin("/stats")["resilience"];
  EXPECT_GE(r.value("upstream_rq_pending_overflow", 0), l.Code(503)) << r.dump();
  EXPECT_GT(WaypointAdmin("/stats")["http"]["response_flags"].value("UO", 0), 0);
}

TEST_F(ResilienceE2E, AFailingPodIsEjectedUntilItsTimeIsUp) {
  WriteRoutes(Vs("flaky", "    retries: {attempts: 0}\n"),
              Dr("flaky",
                 "{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: "
                 "{consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 5s, "
                 "maxEjectionPercent: 100}}"));
  ASSERT_TRUE(WaitForWaypoint("/clusters", "ROUND_ROBIN"));
  Load first = Fortio("http://" + flaky_vip_ + "/", 40, 1);
  EXPECT_EQ(first.Code(500), 3) << "ejected after consecutive5xxErrors\n" << first.raw;
  EXPECT_EQ(first.Code(200), 37) << first.raw;
  std::string clusters = WaypointAdmin("/clusters").dump();
  EXPECT_NE(clusters.find("\"health\":\"ejected\""), std::string::npos) << clusters;
  Load during = Fortio("http://" + flaky_vip_ + "/", 40, 2);
  EXPECT_EQ(during.Code(200), 40) << during.raw;
  // baseEjectionTime (5 s) later it is back, and fails again.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  Load after = Fortio("http://" + flaky_vip_ + "/", 20, 1);
  EXPECT_GE(after.Code(500), 1) << after.raw;
}

TEST_F(ResilienceE2E, LocalityFailoverMovesTrafficToTheOtherZone) {
  // Default load balancing with an outlierDetection: locality-aware, as Istio. The waypoint
  // runs on node2 (zone b), where flaky-bad is; flaky-good is in zone a. A subset makes a
  // cluster of its own, so that ejections of the test before do not carry over.
  WriteRoutes(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
      "  name: flaky\n  namespace: demo\nspec:\n  hosts: [flaky]\n  http:\n"
      "  - route: [{destination: {host: flaky, subset: zoned}}]\n"
      "    retries: {attempts: 0}\n",
      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n"
      "  name: flaky\n  namespace: demo\nspec:\n  host: flaky\n"
      "  subsets: [{name: zoned, labels: {app: flaky}}]\n"
      "  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 2, interval: 1s, "
      "baseEjectionTime: 30s, maxEjectionPercent: 100}}\n");
  ASSERT_TRUE(WaitForWaypoint("/clusters", "|zoned|"));
  Load l = Fortio("http://" + flaky_vip_ + "/", 30, 1);
  // Without the locality preference the picks would alternate and the count of consecutive
  // failures restart: more than 2 failures.
  EXPECT_EQ(l.Code(500), 2) << "the local zone first, until its endpoint is ejected\n" << l.raw;
  EXPECT_EQ(l.Code(200), 28) << l.raw;
}

TEST_F(ResilienceE2E, AbortFaultHalfTheRequests) {
  WriteRoutes(Vs("api", "    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}\n"));
  ASSERT_TRUE(
      WaitFor([&] { return Fortio("http://" + api_vip_ + "/", 40, 2).Code(503) > 5; }, 20000));
  Load l = Fortio("http://" + api_vip_ + "/", 1000, 8);
  EXPECT_EQ(l.total, 1000) << l.raw;
  // The share's standard deviation over 1,000 draws is 0.016: +-0.08 is 5 of them (+-0.05, 3.2,
  // failed once in a CI run of the one-process twin of this test).
  EXPECT_NEAR(l.Code(503) / 1000.0, 0.5, 0.08) << l.raw;
  EXPECT_EQ(l.Code(503) + l.Code(200), 1000) << l.raw;
}

TEST_F(ResilienceE2E, MirrorSeesEveryRequestTheClientOnlyThePrimary) {
  WriteRoutes(Vs("api", std::string("    mirror: {host: ") + kShadowHost +
                            "}\n    mirrorPercentage: {value: 100}\n"));
  ASSERT_TRUE(WaitForWaypoint("/clusters", "shadow"));
  uint64_t before = WaypointAdmin("/stats")["resilience"].value("mirror_requests", 0ull);
  Result r = Client("http://" + api_vip_ + "/mirrored -n 50");
  ASSERT_EQ(r.code, 0) << r.all();
  auto h = Histogram(r.out);
  EXPECT_EQ(h["api-v1"] + h["api-v2"], 50) << r.out;
  EXPECT_EQ(h["shadow-v1"], 0) << r.out;
  EXPECT_TRUE(WaitFor(
      [&] {
        return WaypointAdmin("/stats")["resilience"].value("mirror_requests", 0ull) - before >= 50;
      },
      10000));
  // The shadow pod itself counted them (its /__count, through the mesh from the client). The
  // mirrors are fire-and-forget: the waypoint counts one when it starts it, the shadow pod when
  // it has read it, so poll the pod rather than read it once.
  Result c;
  bool counted = WaitFor(
      [&] {
        c = Client("http://" + shadow_vip_ + "/__count -n 1 --show-body");
        return c.out.find("\\\"requests\\\": 50") != std::string::npos;
      },
      15000);
  EXPECT_TRUE(counted) << c.out << "\nwaypoint resilience stats: "
                       << WaypointAdmin("/stats")["resilience"].dump();
  EXPECT_NE(c.out.find("-shadow"), std::string::npos) << c.out;
}

TEST_F(ResilienceE2E, StickySessionsOnAHeader) {
  WriteRoutes(Vs("api", ""),
              Dr("api", "{loadBalancer: {consistentHash: {httpHeaderName: x-user}}}"));
  ASSERT_TRUE(WaitForWaypoint("/clusters", "RING_HASH"));
  Result alice = Client("http://" + api_vip_ + "/ -n 100 --header 'x-user: alice'");
  auto one = Histogram(alice.out);
  EXPECT_EQ(std::max(one["api-v1"], one["api-v2"]), 100) << "one user, one pod\n" << alice.all();
  std::map<std::string, int> pods;
  for (int u = 0; u < 16; ++u) {
    Result r =
        Client("http://" + api_vip_ + "/ -n 5 --header 'x-user: user" + std::to_string(u) + "'");
    auto h = Histogram(r.out);
    EXPECT_EQ(std::max(h["api-v1"], h["api-v2"]), 5) << "user" << u << "\n" << r.all();
    for (auto& [k, n] : h) pods[k] += n;
  }
  EXPECT_GT(pods["api-v1"], 0) << "many users spread";
  EXPECT_GT(pods["api-v2"], 0) << "many users spread";
}

}  // namespace
}  // namespace weft::e2e
