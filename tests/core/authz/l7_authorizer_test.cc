// L7Authorizer: AuthorizationPolicies attached with targetRefs, enforced at the waypoint.
// A table of policies x requests over snapshots compiled from YAML by the real policy compiler
// (compiler + authorizer together), then which policies apply (Gateway vs Service vs
// ServiceEntry targets, other waypoints, other namespaces, groups), fail-closed cases over
// hand-written snapshots, and the lookup paths.

#include "core/authz/l7_authorizer.h"

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include "tests/core/authz/authz_test_util.h"
#include "tests/core/policy/policy_test_util.h"

namespace weft::authz {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Verdict;

// The waypoint shop/waypoint, Services shop/reviews and shop/ratings (bound to it through the
// namespace label), other/web (bound to other/waypoint), a ServiceEntry shop/ext.
constexpr char kMesh[] = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/use-waypoint: waypoint}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {weft.dev/use-waypoint: waypoint}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec:
  gatewayClassName: weft-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: other}
spec:
  gatewayClassName: weft-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec: {clusterIP: 10.96.0.11, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: other}
spec: {clusterIP: 10.96.0.20, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: shop}
spec:
  hosts: [api.example.com, cdn.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
)";

constexpr char kSleep[] = "spiffe://cluster.local/ns/front/sa/sleep";
constexpr char kOnWaypoint[] =
    "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]\n";
constexpr char kOnReviews[] = "  targetRefs: [{group: \"\", kind: Service, name: reviews}]\n";

std::string Ap(const std::string& name, const std::string& spec, const std::string& ns = "shop") {
  return testing::Ap(ns, name, spec);
}

struct Waypoint {
  std::shared_ptr<const pb::MeshSnapshot> snapshot;
  std::shared_ptr<const L7Authorizer> authz;

  const pb::Service* S(std::string_view hostname) const {
    const pb::Service* s = policy::testing::FindService(*snapshot, hostname);
    EXPECT_NE(s, nullptr) << hostname;
    return s;
  }
};

// Compiles kMesh plus `docs` (no errors allowed) and builds the authorizer of `ns/name`.
Waypoint Build(const std::vector<std::string>& docs, const std::string& ns = "shop",
               const std::string& name = "waypoint") {
  std::vector<std::string> all = {kMesh};
  all.insert(all.end(), docs.begin(), docs.end());
  auto res = policy::testing::CompileYaml(all);
  EXPECT_EQ(policy::testing::ErrorCount(res.snapshot), 0u) << policy::testing::Dump(res.snapshot);
  Waypoint w;
  w.snapshot = std::make_shared<const pb::MeshSnapshot>(std::move(res.snapshot));
  w.authz = std::make_shared<const L7Authorizer>(w.snapshot, ns, name);
  return w;
}

// One request as the waypoint sees it (defaults: GET / from front/sleep to reviews:9080).
struct Req {
  std::string to = "reviews.shop.svc.cluster.local";
  std::string principal = kSleep;
  std::string from_ip = "10.244.9.9";
  std::string remote_ip;  // X-Forwarded-For; empty: none
  std::string to_ip = "10.96.0.10";
  uint32_t port = 9080;
  std::string method = "GET";
  std::string path = "/";
  std::string host = "reviews.shop.svc.cluster.local:9080";
  http::HeaderMap headers;

  Req& To(std::string t) {
    to = std::move(t);
    return *this;
  }
  Req& As(std::string p) {
    principal = std::move(p);
    return *this;
  }
  Req& From(std::string ip) {
    from_ip = std::move(ip);
    return *this;
  }
  Req& Remote(std::string ip) {
    remote_ip = std::move(ip);
    return *this;
  }
  Req& ToIp(std::string ip) {
    to_ip = std::move(ip);
    return *this;
  }
  Req& Port(uint32_t p) {
    port = p;
    return *this;
  }
  Req& M(std::string m) {
    method = std::move(m);
    return *this;
  }
  Req& P(std::string p) {
    path = std::move(p);
    return *this;
  }
  Req& Host(std::string h) {
    host = std::move(h);
    return *this;
  }
  Req& H(std::string name, std::string value) {
    headers.Add(name, value);
    return *this;
  }

  RequestAttributes Attrs() const {
    RequestAttributes a;
    a.source_principal = principal;
    a.source_ip = IpAddress::Parse(from_ip).value_or(IpAddress());
    a.remote_ip = IpAddress::Parse(remote_ip).value_or(IpAddress());
    a.destination_ip = IpAddress::Parse(to_ip).value_or(IpAddress());
    a.destination_port = port;
    a.method = method;
    a.path = path;
    a.host = host;
    a.headers = &headers;
    return a;
  }
};

std::string Decide(const Waypoint& w, const Req& r) {
  const pb::Service* target = r.to.empty() ? nullptr : w.S(r.to);
  return Verdict(w.authz->Authorize(target, r.Attrs()));
}

constexpr char kNoPolicy[] = "allow no_policy";
constexpr char kNoAllow[] = "deny no_allow_match";

// ---- the table: one policy, several requests ----

struct Row {
  std::string name;
  std::string spec;  // the policy shop/p (or shop/d), attached to the waypoint
  std::vector<std::pair<Req, std::string>> requests;
};

void PrintTo(const Row& r, std::ostream* os) {
  *os << r.name;
}

class Table : public ::testing::TestWithParam<Row> {};

TEST_P(Table, Decides) {
  const Row& row = GetParam();
  Waypoint w = Build({Ap(row.name.starts_with("deny") ? "d" : "p", kOnWaypoint + row.spec)});
  EXPECT_EQ(w.authz->invalid_values(), 0u);
  for (size_t i = 0; i < row.requests.size(); ++i) {
    EXPECT_EQ(Decide(w, row.requests[i].first), row.requests[i].second)
        << row.name << " request " << i;
  }
}

const std::string kAllowed = "allow allowed_by_policy shop/p#0";
const std::string kDenied = "deny denied_by_policy shop/d#0";

INSTANTIATE_TEST_SUITE_P(
    Istio, Table,
    ::testing::Values(
        Row{"allow-methods",
            "  rules: [{to: [{operation: {methods: [GET, HEAD]}}]}]\n",
            {{Req().M("GET"), kAllowed},
             {Req().M("HEAD"), kAllowed},
             {Req().M("POST"), kNoAllow},
             {Req().M("get"), kNoAllow}}},  // case-sensitive, as Istio
        Row{"allow-method-forms",
            "  rules: [{to: [{operation: {methods: [\"P*\"]}}]}]\n",
            {{Req().M("PUT"), kAllowed}, {Req().M("PATCH"), kAllowed}, {Req().M("GET"), kNoAllow}}},
        Row{"deny-not-methods",
            "  action: DENY\n  rules: [{to: [{operation: {notMethods: [GET]}}]}]\n",
            {{Req().M("GET"), kNoPolicy}, {Req().M("DELETE"), kDenied}}},
        Row{"allow-paths",
            "  rules: [{to: [{operation: {paths: [/info, \"/api/*\", \"*.css\"]}}]}]\n",
            {{Req().P("/info"), kAllowed},
             {Req().P("/info?user=1"), kAllowed},  // without the query, as Istio (url_path)
             {Req().P("/info#top"), kAllowed},
             {Req().P("/info/"), kNoAllow},
             {Req().P("/INFO"), kNoAllow},
             {Req().P("/api/v1/x"), kAllowed},
             {Req().P("/api"), kNoAllow},
             {Req().P("/s/site.css?v=2"), kAllowed},
             {Req().P("/x?f=a.css"), kNoAllow}}},
        Row{"allow-any-path",
            "  rules: [{to: [{operation: {paths: [\"*\"]}}]}]\n",
            {{Req().P("/"), kAllowed}, {Req().P("/x?y"), kAllowed}}},
        Row{"deny-not-paths",
            "  action: DENY\n  rules: [{to: [{operation: {notPaths: [\"/public/*\"]}}]}]\n",
            {{Req().P("/public/a"), kNoPolicy},
             {Req().P("/private"), kDenied},
             {Req().P("/private?x=/public/"), kDenied}}},
        Row{"allow-hosts",
            "  rules: [{to: [{operation: {hosts: [reviews.shop.svc.cluster.local, "
            "\"reviews:*\", \"*.example.com\"]}}]}]\n",
            {{Req().Host("reviews.shop.svc.cluster.local"), kAllowed},
             {Req().Host("REVIEWS.Shop.svc.cluster.local"), kAllowed},       // case-insensitive
             {Req().Host("reviews.shop.svc.cluster.local:9080"), kNoAllow},  // port is kept
             {Req().Host("Reviews:9080"), kAllowed},
             {Req().Host("reviews"), kNoAllow},
             {Req().Host("www.EXAMPLE.com"), kAllowed}}},
        Row{"deny-not-hosts",
            "  action: DENY\n  rules: [{to: [{operation: {notHosts: [\"reviews*\"]}}]}]\n",
            {{Req(), kNoPolicy}, {Req().Host("evil"), kDenied}}},
        Row{"allow-ports",
            "  rules: [{to: [{operation: {ports: [\"9080\"]}}]}]\n",
            {{Req().Port(9080), kAllowed}, {Req().Port(8080), kNoAllow}}},
        Row{"deny-not-ports",
            "  action: DENY\n  rules: [{to: [{operation: {notPorts: [\"9080\"]}}]}]\n",
            {{Req().Port(9080), kNoPolicy}, {Req().Port(8080), kDenied}}},
        Row{"allow-principals",
            "  rules: [{from: [{source: {principals: [cluster.local/ns/front/sa/sleep]}}]}]\n",
            {{Req(), kAllowed},
             {Req().As("cluster.local/ns/front/sa/sleep"), kAllowed},  // without spiffe://
             {Req().As("spiffe://cluster.local/ns/front/sa/other"), kNoAllow},
             {Req().As(""), kNoAllow},
             {Req().As("spiffe://cluster.local/not/a/workload"), kNoAllow}}},
        Row{"allow-any-principal",
            "  rules: [{from: [{source: {principals: [\"*\"]}}]}]\n",
            {{Req(), kAllowed}, {Req().As(""), kNoAllow}}},
        Row{"deny-not-principals",
            "  action: DENY\n"
            "  rules: [{from: [{source: {notPrincipals: [\"cluster.local/ns/front/*\"]}}]}]\n",
            {{Req(), kNoPolicy},
             {Req().As("spiffe://cluster.local/ns/batch/sa/job"), kDenied},
             {Req().As(""), kDenied}}},  // no identity: the not-clause holds
        Row{"allow-namespaces",
            "  rules: [{from: [{source: {namespaces: [front, \"prod-*\"]}}]}]\n",
            {{Req(), kAllowed},
             {Req().As("spiffe://cluster.local/ns/prod-eu/sa/x"), kAllowed},
             {Req().As("spiffe://cluster.local/ns/batch/sa/job"), kNoAllow},
             {Req().As(""), kNoAllow}}},
        Row{"deny-not-namespaces",
            "  action: DENY\n  rules: [{from: [{source: {notNamespaces: [front]}}]}]\n",
            {{Req(), kNoPolicy}, {Req().As("spiffe://cluster.local/ns/batch/sa/job"), kDenied}}},
        Row{"allow-ip-blocks",
            "  rules: [{from: [{source: {ipBlocks: [10.244.9.0/24], notIpBlocks: "
            "[10.244.9.66]}}]}]\n",
            {{Req().From("10.244.9.9"), kAllowed},
             {Req().From("10.244.9.66"), kNoAllow},
             {Req().From("10.244.8.9"), kNoAllow},
             {Req().From(""), kNoAllow}}},
        Row{"allow-remote-ip-blocks",
            "  rules: [{from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]}]\n",
            {{Req().Remote("203.0.113.7"), kAllowed},
             {Req().Remote("198.51.100.1").From("203.0.113.7"), kNoAllow},
             {Req().From("203.0.113.7"), kAllowed},  // no X-Forwarded-For: the source
             {Req(), kNoAllow}}},
        Row{"allow-when-header",
            "  rules: [{when: [{key: \"request.headers[X-Token]\", values: [secret, "
            "\"tok-*\"]}]}]\n",
            {{Req().H("x-token", "secret"), kAllowed},
             {Req().H("X-TOKEN", "tok-42"), kAllowed},  // names are case-insensitive
             {Req().H("x-token", "Secret"), kNoAllow},  // values are not
             {Req().H("x-token", "secret").H("x-token", "other"), kNoAllow},  // "secret,other"
             {Req(), kNoAllow}}},
        Row{"allow-when-header-present",
            "  rules: [{when: [{key: \"request.headers[x-debug]\", values: [\"*\"]}]}]\n",
            {{Req().H("x-debug", ""), kAllowed}, {Req(), kNoAllow}}},
        Row{"deny-when-header-not-values",
            "  action: DENY\n"
            "  rules: [{when: [{key: \"request.headers[x-env]\", notValues: [prod]}]}]\n",
            {{Req().H("x-env", "prod"), kNoPolicy},
             {Req().H("x-env", "dev"), kDenied},
             {Req(), kDenied}}},  // missing: no value matches, so the not-clause holds
        Row{"allow-when-pseudo-headers",
            "  rules: [{when: [{key: \"request.headers[:method]\", values: [POST]}, "
            "{key: \"request.headers[host]\", values: [\"reviews*\"]}]}]\n",
            {{Req().M("POST"), kAllowed}, {Req().M("GET"), kNoAllow}}},
        Row{"allow-when-source",
            "  rules: [{when: [{key: source.principal, values: [cluster.local/ns/front/sa/sleep]}, "
            "{key: source.namespace, values: [front]}, {key: source.ip, values: "
            "[10.244.0.0/16]}]}]\n",
            {{Req(), kAllowed},
             {Req().From("10.1.1.1"), kNoAllow},
             {Req().As("spiffe://cluster.local/ns/front/sa/x"), kNoAllow}}},
        Row{"allow-when-destination",
            "  rules: [{when: [{key: destination.port, values: [\"9080\"]}, "
            "{key: destination.ip, values: [10.96.0.0/16]}]}]\n",
            {{Req(), kAllowed}, {Req().Port(80), kNoAllow}, {Req().ToIp("10.97.0.1"), kNoAllow}}},
        Row{"deny-when-remote-ip",
            "  action: DENY\n  rules: [{when: [{key: remote.ip, values: [192.0.2.0/24]}]}]\n",
            {{Req().Remote("192.0.2.5"), kDenied}, {Req().Remote("198.51.100.5"), kNoPolicy}}},
        Row{"allow-when-sni",  // no SNI inside HBONE: only a not-clause can hold
            "  rules: [{when: [{key: connection.sni, notValues: [\"*\"]}]}]\n",
            {{Req(), kAllowed}}},
        Row{"allow-and-of-clauses",
            "  rules:\n"
            "  - from: [{source: {namespaces: [front]}}]\n"
            "    to: [{operation: {methods: [GET], paths: [\"/api/*\"]}}]\n"
            "    when: [{key: \"request.headers[x-a]\", values: [\"1\"]}]\n",
            {{Req().P("/api/x").H("x-a", "1"), kAllowed},
             {Req().P("/api/x"), kNoAllow},
             {Req().P("/web").H("x-a", "1"), kNoAllow},
             {Req().P("/api/x").M("PUT").H("x-a", "1"), kNoAllow},
             {Req().P("/api/x").H("x-a", "1").As("spiffe://cluster.local/ns/b/sa/c"), kNoAllow}}},
        Row{"allow-or-of-froms-and-tos",
            "  rules:\n"
            "  - from: [{source: {namespaces: [front]}}, {source: {namespaces: [batch]}}]\n"
            "    to: [{operation: {methods: [GET]}}, {operation: {paths: [/ok]}}]\n",
            {{Req().M("GET"), kAllowed},
             {Req().M("POST").P("/ok").As("spiffe://cluster.local/ns/batch/sa/j"), kAllowed},
             {Req().M("POST").P("/no"), kNoAllow},
             {Req().As("spiffe://cluster.local/ns/other/sa/j"), kNoAllow}}}));

// ---- evaluation order and empty rules ----

TEST(Evaluation, DenyWinsOverAllow) {
  Waypoint w =
      Build({Ap("allow-get",
                std::string(kOnWaypoint) + "  rules: [{to: [{operation: {methods: [GET]}}]}]\n"),
             Ap("deny-admin", std::string(kOnWaypoint) +
                                  "  action: DENY\n"
                                  "  rules: [{to: [{operation: {paths: [\"/admin*\"]}}]}]\n")});
  EXPECT_EQ(Decide(w, Req().P("/x")), "allow allowed_by_policy shop/allow-get#0");
  EXPECT_EQ(Decide(w, Req().P("/admin")), "deny denied_by_policy shop/deny-admin#0");
  EXPECT_EQ(Decide(w, Req().P("/x").M("POST")), kNoAllow);
}

TEST(Evaluation, SeveralAllowPoliciesAreOred) {
  Waypoint w = Build(
      {Ap("a", std::string(kOnWaypoint) + "  rules: [{to: [{operation: {methods: [GET]}}]}]\n"),
       Ap("b", std::string(kOnWaypoint) + "  rules: [{to: [{operation: {methods: [POST]}}]}, "
                                          "{to: [{operation: {methods: [PUT]}}]}]\n")});
  EXPECT_EQ(Decide(w, Req().M("GET")), "allow allowed_by_policy shop/a#0");
  EXPECT_EQ(Decide(w, Req().M("PUT")), "allow allowed_by_policy shop/b#1");
  EXPECT_EQ(Decide(w, Req().M("DELETE")), kNoAllow);
}

TEST(Evaluation, EmptyRules) {
  // ALLOW without rules: matches nothing, so it denies everything it applies to.
  Waypoint allow_none = Build({Ap("p", std::string(kOnWaypoint) + "  action: ALLOW\n")});
  EXPECT_EQ(Decide(allow_none, Req()), kNoAllow);
  // DENY without rules: rejected, as Istio does ("meaningless"), so nothing is enforced.
  auto rejected =
      policy::testing::CompileYaml({kMesh, Ap("d", std::string(kOnWaypoint) + "  action: DENY\n")});
  EXPECT_EQ(policy::testing::ErrorCount(rejected.snapshot), 1u);
  // A rule without clauses matches everything.
  Waypoint allow_all = Build({Ap("p", std::string(kOnWaypoint) + "  rules: [{}]\n")});
  EXPECT_EQ(Decide(allow_all, Req().As("")), "allow allowed_by_policy shop/p#0");
  Waypoint deny_all =
      Build({Ap("d", std::string(kOnWaypoint) + "  action: DENY\n  rules: [{}]\n")});
  EXPECT_EQ(Decide(deny_all, Req()), "deny denied_by_policy shop/d#0");
}

// trustDomains at the waypoint: the trust domain of the caller's identity.
TEST(Evaluation, TrustDomains) {
  Waypoint w =
      Build({Ap("td", std::string(kOnWaypoint) +
                          "  rules: [{from: [{source: {trustDomains: [\"*.local\"]}}]}]\n")});
  EXPECT_EQ(Decide(w, Req()), "allow allowed_by_policy shop/td#0");
  EXPECT_EQ(Decide(w, Req().As("other.td/ns/front/sa/sleep")), kNoAllow);
  EXPECT_EQ(Decide(w, Req().As("")), kNoAllow);
}

TEST(Evaluation, AuditNeverDecides) {
  Waypoint w = Build({Ap("audit", std::string(kOnWaypoint) + "  action: AUDIT\n  rules: [{}]\n")});
  EXPECT_EQ(Decide(w, Req()), kNoPolicy);
  EXPECT_THAT(w.authz->PoliciesFor(w.S("reviews.shop.svc.cluster.local")), IsEmpty());
}

// ---- which policies apply ----

TEST(Attachment, GatewayTargetAppliesToEveryServiceThroughTheWaypoint) {
  Waypoint w = Build({Ap("p", std::string(kOnWaypoint) + "  rules: [{}]\n")});
  EXPECT_EQ(Decide(w, Req()), "allow allowed_by_policy shop/p#0");
  EXPECT_EQ(Decide(w, Req().To("ratings.shop.svc.cluster.local")),
            "allow allowed_by_policy shop/p#0");
  EXPECT_EQ(Decide(w, Req().To("")), "allow allowed_by_policy shop/p#0");  // null target
}

TEST(Attachment, ServiceTargetAppliesToThatServiceOnly) {
  Waypoint w = Build({Ap("p", std::string(kOnReviews) + "  action: ALLOW\n")});
  EXPECT_EQ(Decide(w, Req()), kNoAllow);
  EXPECT_EQ(Decide(w, Req().To("ratings.shop.svc.cluster.local")), kNoPolicy);
  EXPECT_EQ(Decide(w, Req().To("")), kNoPolicy);  // null target: only the waypoint's own
  EXPECT_THAT(w.authz->PoliciesFor(w.S("reviews.shop.svc.cluster.local")), ElementsAre("shop/p"));
  EXPECT_THAT(w.authz->PoliciesFor(w.S("ratings.shop.svc.cluster.local")), IsEmpty());
  // "core" is the same group as "".
  Waypoint core = Build({Ap("p", "  targetRefs: [{group: core, kind: Service, name: reviews}]\n")});
  EXPECT_EQ(Decide(core, Req()), kNoAllow);
}

TEST(Attachment, ServiceEntryTargetAppliesToEachOfItsHosts) {
  Waypoint w = Build(
      {Ap("p", "  targetRefs: [{group: networking.istio.io, kind: ServiceEntry, name: ext}]\n")});
  EXPECT_EQ(Decide(w, Req().To("api.example.com")), kNoAllow);
  EXPECT_EQ(Decide(w, Req().To("cdn.example.com")), kNoAllow);
  EXPECT_EQ(Decide(w, Req()), kNoPolicy);
  // A Service ref with the ServiceEntry's name does not match the ServiceEntry (kind).
  Waypoint svc = Build({Ap("p", "  targetRefs: [{group: \"\", kind: Service, name: ext}]\n")});
  EXPECT_EQ(Decide(svc, Req().To("api.example.com")), kNoPolicy);
}

TEST(Attachment, AnotherWaypointOrAnotherServiceDoesNotApply) {
  const std::vector<std::string> docs = {
      // other/waypoint's policy: not ours even though the name is the same.
      Ap("p",
         std::string(kOnWaypoint) +
             "  action: DENY\n  rules: [{to: [{operation: {paths: [/blocked]}}]}]\n",
         "other"),
      // a Gateway in our namespace with another name.
      Ap("q",
         "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: other-wp}]\n"),
      // other/web, which other/waypoint serves.
      Ap("r", "  targetRefs: [{group: \"\", kind: Service, name: web}]\n  action: ALLOW\n",
         "other"),
  };
  Waypoint shop = Build(docs);
  EXPECT_EQ(Decide(shop, Req()), kNoPolicy);
  EXPECT_EQ(Decide(shop, Req().P("/blocked")), kNoPolicy);
  EXPECT_THAT(shop.authz->PoliciesFor(nullptr), IsEmpty());
  // From other/waypoint: p applies to everything, r to other/web only.
  Waypoint other = Build(docs, "other", "waypoint");
  EXPECT_EQ(Decide(other, Req().To("web.other.svc.cluster.local")), kNoAllow);
  EXPECT_EQ(Decide(other, Req()), kNoPolicy);
  EXPECT_EQ(Decide(other, Req().P("/blocked")), "deny denied_by_policy other/p#0");
}

TEST(Attachment, CrossNamespaceAndWrongGroupRefsNeverMatch) {
  const std::vector<std::string> bad = {
      // A policy in `other` naming shop's Service: cross-namespace targetRefs.
      Ap("x", "  targetRefs: [{group: \"\", kind: Service, name: reviews, namespace: shop}]\n",
         "other"),
      // The waypoint without the Gateway API group: Istio compares canonical groups.
      Ap("g", "  targetRefs: [{kind: Gateway, name: waypoint}]\n"),
      // A Service with the gateway group.
      Ap("s", "  targetRefs: [{group: gateway.networking.k8s.io, kind: Service, name: reviews}]\n"),
  };
  // The compiler refuses all three (Istio's validatePolicyTargetReference)...
  std::vector<std::string> all = {kMesh};
  all.insert(all.end(), bad.begin(), bad.end());
  auto res = policy::testing::CompileYaml(all);
  EXPECT_EQ(policy::testing::ErrorCount(res.snapshot), 3u) << policy::testing::Dump(res.snapshot);
  // ...and a waypoint given such references anyway (a snapshot from another producer) ignores
  // them: valid policies, their references rewritten in the snapshot.
  Waypoint ok = Build({Ap("x", kOnReviews, "other"), Ap("g", kOnWaypoint), Ap("s", kOnReviews)});
  auto snapshot = std::make_shared<pb::MeshSnapshot>(*ok.snapshot);
  for (auto& p : *snapshot->mutable_authorization_policies()) {
    if (p.target_refs_size() == 0) continue;
    pb::TargetRef* t = p.mutable_target_refs(0);
    if (p.name() == "x") t->set_namespace_("shop");
    if (p.name() == "g") t->clear_group();
    if (p.name() == "s") t->set_group("gateway.networking.k8s.io");
  }
  Waypoint w;
  w.snapshot = snapshot;
  w.authz = std::make_shared<const L7Authorizer>(w.snapshot, "shop", "waypoint");
  EXPECT_EQ(Decide(w, Req()), kNoPolicy);
  EXPECT_EQ(w.authz->ignored_target_refs(), 3u);
}

TEST(Attachment, SeveralTargetRefsAreOred) {
  Waypoint w = Build({Ap("p",
                         "  targetRefs:\n"
                         "  - {group: \"\", kind: Service, name: ratings}\n"
                         "  - {group: \"\", kind: Service, name: reviews}\n"
                         "  rules: [{to: [{operation: {methods: [GET]}}]}]\n")});
  EXPECT_EQ(Decide(w, Req().M("POST")), kNoAllow);
  EXPECT_EQ(Decide(w, Req().M("POST").To("ratings.shop.svc.cluster.local")), kNoAllow);
}

TEST(Attachment, GatewayAndServicePoliciesCombine) {
  Waypoint w = Build({Ap("gw-deny", std::string(kOnWaypoint) +
                                        "  action: DENY\n"
                                        "  rules: [{to: [{operation: {paths: [/secret]}}]}]\n"),
                      Ap("svc-allow", std::string(kOnReviews) +
                                          "  rules: [{to: [{operation: {methods: [GET]}}]}]\n")});
  EXPECT_EQ(Decide(w, Req()), "allow allowed_by_policy shop/svc-allow#0");
  EXPECT_EQ(Decide(w, Req().M("POST")), kNoAllow);
  EXPECT_EQ(Decide(w, Req().P("/secret")), "deny denied_by_policy shop/gw-deny#0");
  EXPECT_EQ(Decide(w, Req().M("POST").To("ratings.shop.svc.cluster.local")), kNoPolicy);
  EXPECT_THAT(w.authz->PoliciesFor(w.S("reviews.shop.svc.cluster.local")),
              ElementsAre("shop/gw-deny", "shop/svc-allow"));
  EXPECT_THAT(w.authz->PoliciesFor(nullptr), ElementsAre("shop/gw-deny"));
}

TEST(Attachment, NodePoliciesAreNotTheWaypoints) {
  Waypoint w = Build({Ap("ns-wide", "  action: DENY\n  rules: [{}]\n"),
                      Ap("mesh", "  action: DENY\n  rules: [{}]\n", "istio-system"),
                      Ap("sel",
                         "  selector: {matchLabels: {app: reviews}}\n  action: DENY\n"
                         "  rules: [{}]\n")});
  EXPECT_EQ(Decide(w, Req()), kNoPolicy);
}

TEST(Attachment, SlowPathAgreesWithTheFastPath) {
  Waypoint w = Build(
      {Ap("p", std::string(kOnReviews) + "  rules: [{to: [{operation: {methods: [GET]}}]}]\n")});
  pb::Service copy = *w.S("reviews.shop.svc.cluster.local");
  Req get, post;
  post.M("POST");
  EXPECT_EQ(Verdict(w.authz->Authorize(&copy, get.Attrs())), "allow allowed_by_policy shop/p#0");
  EXPECT_EQ(Verdict(w.authz->Authorize(&copy, post.Attrs())), kNoAllow);
  copy.set_name("ratings");
  EXPECT_EQ(Verdict(w.authz->Authorize(&copy, post.Attrs())), kNoPolicy);
}

// ---- what the waypoint cannot evaluate: fail closed ----

TEST(FailClosed, RequestPrincipalsNeverGrantAndAlwaysDeny) {
  Waypoint allow = Build({Ap("p", std::string(kOnWaypoint) +
                                      "  rules: [{from: [{source: {requestPrincipals: [\"*\"]}}]}, "
                                      "{from: [{source: {notRequestPrincipals: [\"*\"]}}]}]\n")});
  EXPECT_EQ(Decide(allow, Req()), kNoAllow);
  EXPECT_EQ(allow.authz->unenforceable_clauses(), 2u);
  Waypoint deny = Build({Ap("d", std::string(kOnWaypoint) +
                                     "  action: DENY\n"
                                     "  rules: [{from: [{source: {requestPrincipals: [iss/sub]}}], "
                                     "to: [{operation: {paths: [\"/admin*\"]}}]}]\n")});
  EXPECT_EQ(Decide(deny, Req().P("/admin")), "deny denied_by_policy shop/d#0");
  EXPECT_EQ(Decide(deny, Req().P("/public")), kNoPolicy);  // its other clauses still count
  Waypoint deny_not =
      Build({Ap("d", std::string(kOnWaypoint) + "  action: DENY\n"
                                                "  rules: [{from: [{source: {notRequestPrincipals: "
                                                "[\"*\"]}}]}]\n")});
  EXPECT_EQ(Decide(deny_not, Req()), "deny denied_by_policy shop/d#0");
}

TEST(FailClosed, RequestAuthConditions) {
  Waypoint allow = Build(
      {Ap("p", std::string(kOnWaypoint) + "  rules: [{when: [{key: \"request.auth.claims[iss]\", "
                                          "notValues: [evil]}]}]\n")});
  EXPECT_EQ(Decide(allow, Req()), kNoAllow);
  Waypoint deny =
      Build({Ap("d", std::string(kOnWaypoint) +
                         "  action: DENY\n"
                         "  rules: [{when: [{key: request.auth.principal, values: "
                         "[x/y]}, {key: request.auth.audiences, notValues: [a]}]}]\n")});
  EXPECT_EQ(Decide(deny, Req()), "deny denied_by_policy shop/d#0");
  EXPECT_EQ(deny.authz->unenforceable_clauses(), 2u);
}

// Hand-written snapshots: what the compiler would refuse but a snapshot could hold.
std::shared_ptr<const L7Authorizer> FromText(const std::string& policy) {
  auto s = std::make_shared<pb::MeshSnapshot>();
  s->mutable_settings()->set_root_namespace("istio-system");
  pb::AuthorizationPolicy* p = s->add_authorization_policies();
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(policy, p)) << policy;
  pb::Service* svc = s->add_services();
  svc->set_name("reviews");
  svc->set_namespace_("shop");
  svc->set_kind(pb::SERVICE_KIND_KUBERNETES);
  return std::make_shared<const L7Authorizer>(s, "shop", "waypoint");
}

constexpr char kTextOnWaypoint[] =
    R"(name: "p" namespace: "shop" scope: WAYPOINT
       target_refs { group: "gateway.networking.k8s.io" kind: "Gateway" name: "waypoint" } )";

TEST(FailClosed, InvalidValuesUnderAllowMatchLessUnderDenyMore) {
  auto allow = FromText(std::string(kTextOnWaypoint) + R"(action: ALLOW l7_rules {
      conditions { key: "destination.port" values { exact: "http" } values { exact: "9080" } } })");
  EXPECT_EQ(allow->invalid_values(), 1u);
  Req r;
  EXPECT_EQ(Verdict(allow->Authorize(nullptr, r.Attrs())), "allow allowed_by_policy shop/p#0");
  EXPECT_EQ(Verdict(allow->Authorize(nullptr, Req().Port(1).Attrs())), kNoAllow);
  auto deny = FromText(std::string(kTextOnWaypoint) + R"(action: DENY l7_rules {
      conditions { key: "source.ip" values { exact: "10.0.0.0/33" } } })");
  EXPECT_EQ(Verdict(deny->Authorize(nullptr, r.Attrs())), "deny denied_by_policy shop/p#0");
  auto bad_header = FromText(std::string(kTextOnWaypoint) + R"(action: DENY l7_rules {
      conditions { key: "request.headers[]" values { exact: "x" } } })");
  EXPECT_EQ(bad_header->invalid_values(), 1u);
  EXPECT_EQ(Verdict(bad_header->Authorize(nullptr, r.Attrs())), "deny denied_by_policy shop/p#0");
  auto unknown = FromText(std::string(kTextOnWaypoint) + R"(action: ALLOW l7_rules {
      conditions { key: "experimental.envoy.filters.network.mysql_proxy[db.table]"
                   values { exact: "[t]" } } })");
  EXPECT_EQ(Verdict(unknown->Authorize(nullptr, r.Attrs())), kNoAllow);
}

TEST(Snapshot, ScopeFromTargetRefsAndDefaultAllowAction) {
  // No scope and no action: targetRefs make it the waypoint's, and the action is ALLOW.
  auto a = FromText(R"(name: "p" namespace: "shop"
      target_refs { group: "" kind: "Service" name: "reviews" }
      l7_rules { methods: "GET" })");
  const pb::Service* reviews = &a->snapshot().services(0);
  Req get, post;
  post.M("POST");
  EXPECT_EQ(Verdict(a->Authorize(reviews, get.Attrs())), "allow allowed_by_policy shop/p#0");
  EXPECT_EQ(Verdict(a->Authorize(reviews, post.Attrs())), kNoAllow);
  // Node-scope rules (`rules`) are never read here, and l7_rules of a node policy neither.
  auto node = FromText(R"(name: "p" namespace: "shop" scope: NAMESPACE action: DENY
      rules { } l7_rules { })");
  EXPECT_EQ(Verdict(node->Authorize(reviews, get.Attrs())), kNoPolicy);
}

TEST(Snapshot, GatewayClassFromTheRootNamespace) {
  auto s = std::make_shared<pb::MeshSnapshot>();
  s->mutable_settings()->set_root_namespace("istio-system");
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"(name: "all-waypoints" namespace: "istio-system" scope: WAYPOINT action: DENY
         target_refs { group: "gateway.networking.k8s.io" kind: "GatewayClass"
                       name: "istio-waypoint" }
         l7_rules { paths { prefix: "/debug" } })",
      s->add_authorization_policies()));
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"(name: "not-root" namespace: "shop" scope: WAYPOINT action: DENY
         target_refs { group: "gateway.networking.k8s.io" kind: "GatewayClass"
                       name: "istio-waypoint" }
         l7_rules { })",
      s->add_authorization_policies()));
  L7Authorizer a(s, "shop", "waypoint");
  EXPECT_EQ(Verdict(a.Authorize(nullptr, Req().P("/debug/pprof").Attrs())),
            "deny denied_by_policy istio-system/all-waypoints#0");
  EXPECT_EQ(Verdict(a.Authorize(nullptr, Req().P("/x").Attrs())), kNoPolicy);
}

TEST(Headers, NullHeaderMapMeansNoHeaders) {
  Waypoint w = Build({Ap("p", std::string(kOnWaypoint) +
                                  "  rules: [{when: [{key: \"request.headers[x]\", notValues: "
                                  "[\"*\"]}]}]\n")});
  Req r;
  RequestAttributes a = r.Attrs();
  a.headers = nullptr;
  EXPECT_EQ(Verdict(w.authz->Authorize(w.S("reviews.shop.svc.cluster.local"), a)),
            "allow allowed_by_policy shop/p#0");
}

TEST(Identity, ExplicitNamespaceOverridesThePrincipals) {
  Waypoint w = Build({Ap(
      "p", std::string(kOnWaypoint) + "  rules: [{from: [{source: {namespaces: [batch]}}]}]\n")});
  Req r;
  RequestAttributes a = r.Attrs();
  EXPECT_EQ(Verdict(w.authz->Authorize(nullptr, a)), kNoAllow);
  a.source_namespace = "batch";
  EXPECT_EQ(Verdict(w.authz->Authorize(nullptr, a)), "allow allowed_by_policy shop/p#0");
}

}  // namespace
}  // namespace weft::authz
