// CompiledRouteTable: Istio/Envoy match semantics over hand-written tables (uri, method,
// headers, withoutHeaders, query parameters, port, source labels), table order, build errors,
// weighted destination choice, and tables compiled from YAML by the real policy compiler.

#include "waypoint/route/route_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "tests/core/policy/policy_test_util.h"
#include "tests/waypoint/route/route_test_util.h"

namespace weft::waypoint::route {
namespace {

using testing::Hit;
using testing::Req;
using testing::TableFromText;

// One route "r" with one match given in text format.
CompiledRouteTable OneMatch(const std::string& match) {
  return TableFromText("http_routes { name: \"r\" matches { " + match + " } }");
}

// ---- uri ----

struct UriCase {
  std::string match;  // HttpMatch in text format
  std::string path;
  bool hit;
};

void PrintTo(const UriCase& c, std::ostream* os) {
  *os << c.match << " on " << c.path;
}

class Uri : public ::testing::TestWithParam<UriCase> {};

TEST_P(Uri, Matches) {
  const UriCase& c = GetParam();
  CompiledRouteTable t = OneMatch(c.match);
  EXPECT_EQ(Hit(t, Req(c.path)), c.hit ? "r#0" : "none") << c.match << " on " << c.path;
}

INSTANTIATE_TEST_SUITE_P(
    Table, Uri,
    ::testing::Values(
        // exact: the path without query (and fragment), case-sensitive
        UriCase{R"(uri { exact: "/a" })", "/a", true},
        UriCase{R"(uri { exact: "/a" })", "/a?x=1", true},
        UriCase{R"(uri { exact: "/a" })", "/a#frag", true},
        UriCase{R"(uri { exact: "/a" })", "/a/", false},
        UriCase{R"(uri { exact: "/a" })", "/A", false},
        UriCase{R"(uri { exact: "/a?x=1" })", "/a?x=1", false},
        UriCase{R"(uri { exact: "/A" } ignore_uri_case: true)", "/a", true},
        UriCase{R"(uri { exact: "/a" } ignore_uri_case: true)", "/A?Q=1", true},
        // prefix: plain string prefix (Istio), not segment-wise
        UriCase{R"(uri { prefix: "/api" })", "/api", true},
        UriCase{R"(uri { prefix: "/api" })", "/apis", true},
        UriCase{R"(uri { prefix: "/api" })", "/api/v1?x", true},
        UriCase{R"(uri { prefix: "/api" })", "/ap", false},
        UriCase{R"(uri { prefix: "/api" })", "/API", false},
        UriCase{R"(uri { prefix: "/api" } ignore_uri_case: true)", "/API/x", true},
        UriCase{R"(uri { prefix: "/" })", "/anything", true},
        // regex: RE2 full match on the path without query; ignore_uri_case does not apply
        UriCase{R"(uri { regex: "/v[0-9]+/.*" })", "/v1/x", true},
        UriCase{R"(uri { regex: "/v[0-9]+/.*" })", "/v12/x?q=/v1/", true},
        UriCase{R"(uri { regex: "/v[0-9]+/.*" })", "/x/v1/x", false},
        UriCase{R"(uri { regex: "/v[0-9]+" })", "/v1/x", false},
        UriCase{R"(uri { regex: "/v[0-9]+/x" })", "/v1/x?y=1", true},
        UriCase{R"(uri { regex: "/v1/x\\?y=1" })", "/v1/x?y=1", false},
        UriCase{R"(uri { regex: "/abc" } ignore_uri_case: true)", "/ABC", false},
        UriCase{R"(uri { regex: "(?i)/abc" })", "/ABC", true},
        // Gateway API PathPrefix: whole segments, trailing "/" ignored
        UriCase{R"(uri { path_prefix: "/foo" })", "/foo", true},
        UriCase{R"(uri { path_prefix: "/foo" })", "/foo/", true},
        UriCase{R"(uri { path_prefix: "/foo" })", "/foo/bar", true},
        UriCase{R"(uri { path_prefix: "/foo" })", "/foo?x=1", true},
        UriCase{R"(uri { path_prefix: "/foo" })", "/foobar", false},
        UriCase{R"(uri { path_prefix: "/foo" })", "/fo", false},
        UriCase{R"(uri { path_prefix: "/foo/" })", "/foo", true},
        UriCase{R"(uri { path_prefix: "/foo/" })", "/foo/bar", true},
        UriCase{R"(uri { path_prefix: "/foo/" })", "/foobar", false},
        UriCase{R"(uri { path_prefix: "/foo/bar" })", "/foo/bar/baz", true},
        UriCase{R"(uri { path_prefix: "/foo/bar" })", "/foo/barbaz", false},
        UriCase{R"(uri { path_prefix: "/" })", "/", true},
        UriCase{R"(uri { path_prefix: "/" })", "/anything/at/all", true},
        UriCase{R"(uri { path_prefix: "/foo" })", "/FOO", false},
        // no uri: every path
        UriCase{R"(port: 0)", "/x", true}));

// ---- method ----

TEST(Method, ExactPrefixRegexAreCaseSensitive) {
  EXPECT_EQ(Hit(OneMatch(R"(method { exact: "GET" })"), Req("/", "GET")), "r#0");
  EXPECT_EQ(Hit(OneMatch(R"(method { exact: "GET" })"), Req("/", "get")), "none");
  EXPECT_EQ(Hit(OneMatch(R"(method { exact: "GET" })"), Req("/", "POST")), "none");
  EXPECT_EQ(Hit(OneMatch(R"(method { prefix: "P" })"), Req("/", "PUT")), "r#0");
  EXPECT_EQ(Hit(OneMatch(R"(method { regex: "GET|HEAD" })"), Req("/", "HEAD")), "r#0");
  EXPECT_EQ(Hit(OneMatch(R"(method { regex: "GET|HEAD" })"), Req("/", "GETX")), "none");
}

// ---- headers ----

TEST(Headers, ExactPrefixRegexAndPresence) {
  auto exact = OneMatch(R"(headers { name: "end-user" value { exact: "jason" } })");
  EXPECT_EQ(Hit(exact, Req().H("end-user", "jason")), "r#0");
  EXPECT_EQ(Hit(exact, Req().H("End-User", "jason")), "r#0");   // names are case-insensitive
  EXPECT_EQ(Hit(exact, Req().H("end-user", "Jason")), "none");  // values are not
  EXPECT_EQ(Hit(exact, Req()), "none");

  auto prefix = OneMatch(R"(headers { name: "x-v" value { prefix: "v1" } })");
  EXPECT_EQ(Hit(prefix, Req().H("x-v", "v1.2")), "r#0");
  EXPECT_EQ(Hit(prefix, Req().H("x-v", "v2")), "none");

  auto regex = OneMatch(R"(headers { name: "x-v" value { regex: "v[12]" } })");
  EXPECT_EQ(Hit(regex, Req().H("x-v", "v2")), "r#0");
  EXPECT_EQ(Hit(regex, Req().H("x-v", "v22")), "none");  // full match

  // Unset value: presence, whatever the value (even empty).
  auto present = OneMatch(R"(headers { name: "x-debug" })");
  EXPECT_EQ(Hit(present, Req().H("x-debug", "")), "r#0");
  EXPECT_EQ(Hit(present, Req().H("x-other", "1")), "none");
  // Istio: regex "*" is a presence match, not RE2.
  auto star = OneMatch(R"(headers { name: "x-debug" value { regex: "*" } })");
  EXPECT_EQ(Hit(star, Req().H("x-debug", "anything")), "r#0");
  EXPECT_EQ(Hit(star, Req()), "none");
}

TEST(Headers, SeveralFieldsAreJoinedWithCommaAsEnvoy) {
  auto joined = OneMatch(R"(headers { name: "x-a" value { exact: "1,2" } })");
  EXPECT_EQ(Hit(joined, Req().H("x-a", "1").H("x-a", "2")), "r#0");
  EXPECT_EQ(Hit(joined, Req().H("x-a", "1")), "none");
  auto first_only = OneMatch(R"(headers { name: "x-a" value { exact: "1" } })");
  EXPECT_EQ(Hit(first_only, Req().H("x-a", "1").H("x-a", "2")), "none");
  auto regex = OneMatch(R"(headers { name: "x-a" value { regex: "1,.*" } })");
  EXPECT_EQ(Hit(regex, Req().H("x-a", "1").H("x-b", "z").H("X-A", "2").H("x-a", "3")), "r#0");
}

TEST(Headers, PseudoHeadersAndHostReadTheHead) {
  auto host = OneMatch(R"(headers { name: "host" value { prefix: "reviews." } })");
  EXPECT_EQ(Hit(host, Req()), "r#0");
  EXPECT_EQ(Hit(host, Req().Authority("ratings:9080")), "none");
  auto authority = OneMatch(R"(headers { name: ":authority" value { exact: "a:1" } })");
  EXPECT_EQ(Hit(authority, Req().Authority("a:1")), "r#0");
  auto method = OneMatch(R"(headers { name: ":method" value { exact: "POST" } })");
  EXPECT_EQ(Hit(method, Req("/", "POST")), "r#0");
  EXPECT_EQ(Hit(method, Req("/", "GET")), "none");
  auto path = OneMatch(R"(headers { name: ":path" value { exact: "/a?b=1" } })");
  EXPECT_EQ(Hit(path, Req("/a?b=1")), "r#0");  // :path includes the query
}

TEST(Headers, InvertNeedsTheHeaderAsEnvoy) {
  auto inverted = OneMatch(R"(headers { name: "x-v" value { exact: "1" } invert: true })");
  EXPECT_EQ(Hit(inverted, Req().H("x-v", "2")), "r#0");
  EXPECT_EQ(Hit(inverted, Req().H("x-v", "1")), "none");
  // Envoy: a missing header fails a value match even inverted (treat_missing_header_as_empty
  // is only set by Istio for withoutHeaders).
  EXPECT_EQ(Hit(inverted, Req()), "none");
  auto not_present = OneMatch(R"(headers { name: "x-v" invert: true })");
  EXPECT_EQ(Hit(not_present, Req()), "r#0");
  EXPECT_EQ(Hit(not_present, Req().H("x-v", "")), "none");
}

TEST(WithoutHeaders, MatchWhenTheHeaderDoesNotMatch) {
  auto t = OneMatch(R"(without_headers { name: "x-canary" value { exact: "yes" } })");
  EXPECT_EQ(Hit(t, Req()), "r#0");  // missing: compared as "" (Istio)
  EXPECT_EQ(Hit(t, Req().H("x-canary", "no")), "r#0");
  EXPECT_EQ(Hit(t, Req().H("x-canary", "yes")), "none");
  auto prefix = OneMatch(R"(without_headers { name: "x-canary" value { prefix: "" } })");
  EXPECT_EQ(Hit(prefix, Req()), "none");  // "" has the empty prefix
  // Unset value: the request must not carry the header at all.
  auto absent = OneMatch(R"(without_headers { name: "x-canary" })");
  EXPECT_EQ(Hit(absent, Req()), "r#0");
  EXPECT_EQ(Hit(absent, Req().H("x-canary", "")), "none");
  // Combined with headers: every one must hold.
  auto both = OneMatch(R"(headers { name: "x-user" value { exact: "a" } }
                          without_headers { name: "x-canary" })");
  EXPECT_EQ(Hit(both, Req().H("x-user", "a")), "r#0");
  EXPECT_EQ(Hit(both, Req().H("x-user", "a").H("x-canary", "1")), "none");
  EXPECT_EQ(Hit(both, Req()), "none");
}

// ---- query parameters ----

TEST(QueryParams, ExactRegexPresence) {
  auto exact = OneMatch(R"(query_params { name: "v" value { exact: "2" } })");
  EXPECT_EQ(Hit(exact, Req("/a?v=2")), "r#0");
  EXPECT_EQ(Hit(exact, Req("/a?x=1&v=2&y")), "r#0");
  EXPECT_EQ(Hit(exact, Req("/a?v=22")), "none");
  EXPECT_EQ(Hit(exact, Req("/a?V=2")), "none");  // names are case-sensitive
  EXPECT_EQ(Hit(exact, Req("/a")), "none");
  EXPECT_EQ(Hit(exact, Req("/a?v=2#frag")), "r#0");
  auto regex = OneMatch(R"(query_params { name: "v" value { regex: "[0-9]+" } })");
  EXPECT_EQ(Hit(regex, Req("/?v=123")), "r#0");
  EXPECT_EQ(Hit(regex, Req("/?v=12a")), "none");
  auto present = OneMatch(R"(query_params { name: "debug" })");
  EXPECT_EQ(Hit(present, Req("/?debug")), "r#0");
  EXPECT_EQ(Hit(present, Req("/?debug=")), "r#0");
  EXPECT_EQ(Hit(present, Req("/?nodebug=1")), "none");
  auto star = OneMatch(R"(query_params { name: "debug" value { regex: "*" } })");
  EXPECT_EQ(Hit(star, Req("/?debug=x")), "r#0");
}

TEST(QueryParams, FirstValueAndNotUrlDecodedAsEnvoy) {
  auto t = OneMatch(R"(query_params { name: "v" value { exact: "1" } })");
  EXPECT_EQ(Hit(t, Req("/?v=1&v=2")), "r#0");
  EXPECT_EQ(Hit(t, Req("/?v=2&v=1")), "none");  // only the first value counts
  auto encoded = OneMatch(R"(query_params { name: "q" value { exact: "a b" } })");
  EXPECT_EQ(Hit(encoded, Req("/?q=a%20b")), "none");
  EXPECT_EQ(Hit(encoded, Req("/?q=a b")), "r#0");
  auto raw = OneMatch(R"(query_params { name: "q" value { exact: "a%20b" } })");
  EXPECT_EQ(Hit(raw, Req("/?q=a%20b")), "r#0");
  auto empty = OneMatch(R"(query_params { name: "v" value { exact: "" } })");
  EXPECT_EQ(Hit(empty, Req("/?v")), "r#0");  // no "=": the value is ""
}

// ---- port and source labels ----

TEST(Port, IsTheServicePortTheRequestCameOn) {
  auto t = OneMatch("port: 9080");
  EXPECT_EQ(Hit(t, Req(), 9080), "r#0");
  EXPECT_EQ(Hit(t, Req(), 8080), "none");
}

TEST(SourceLabels, AreASubsetOfTheClientsLabels) {
  auto t = OneMatch(R"(source_labels { key: "app" value: "web" }
                       source_labels { key: "version" value: "v2" })");
  Labels both = {{"app", "web"}, {"version", "v2"}, {"tier", "front"}};
  Labels one = {{"app", "web"}};
  Labels wrong = {{"app", "web"}, {"version", "v1"}};
  EXPECT_EQ(Hit(t, Req(), 9080, &both), "r#0");
  EXPECT_EQ(Hit(t, Req(), 9080, &one), "none");
  EXPECT_EQ(Hit(t, Req(), 9080, &wrong), "none");
  EXPECT_EQ(Hit(t, Req(), 9080, nullptr), "none");
  // No source_labels: any client, known or not.
  EXPECT_EQ(Hit(OneMatch("port: 0"), Req(), 9080, nullptr), "r#0");
}

TEST(SourceNamespace, IsTheClientsNamespaceExactly) {
  auto t = OneMatch(R"(source_namespace: "front")");
  EXPECT_EQ(Hit(t, Req(), 9080, nullptr, "front"), "r#0");
  EXPECT_EQ(Hit(t, Req(), 9080, nullptr, "frontend"), "none");
  EXPECT_EQ(Hit(t, Req(), 9080, nullptr, ""), "none");  // unknown client
  EXPECT_EQ(Hit(OneMatch("port: 0"), Req(), 9080, nullptr, ""), "r#0");
}

TEST(AuthorityAndScheme, AreMatchedLikeTheirPseudoHeaders) {
  auto exact = OneMatch(R"(authority { exact: "reviews:9080" })");
  EXPECT_EQ(Hit(exact, Req().Authority("reviews:9080")), "r#0");
  EXPECT_EQ(Hit(exact, Req().Authority("reviews")), "none");
  EXPECT_EQ(Hit(exact, Req().Authority("Reviews:9080")), "none");  // as a header value
  auto prefix = OneMatch(R"(authority { prefix: "reviews" })");
  EXPECT_EQ(Hit(prefix, Req().Authority("reviews.shop:9080")), "r#0");
  auto regex = OneMatch(R"(authority { regex: "reviews(:[0-9]+)?" })");
  EXPECT_EQ(Hit(regex, Req().Authority("reviews")), "r#0");
  EXPECT_EQ(Hit(regex, Req().Authority("reviews.shop")), "none");
  auto scheme = OneMatch(R"(scheme { exact: "https" })");
  EXPECT_EQ(Hit(scheme, Req()), "none");  // Req() is http
  Req https;
  https.head.scheme = "https";
  EXPECT_EQ(Hit(scheme, https), "r#0");
}

TEST(Fields, AreAnded) {
  auto t = OneMatch(R"(uri { prefix: "/api" } method { exact: "POST" }
                       headers { name: "x-a" value { exact: "1" } }
                       query_params { name: "q" } port: 9080)");
  EXPECT_EQ(Hit(t, Req("/api/x?q=1", "POST").H("x-a", "1")), "r#0");
  EXPECT_EQ(Hit(t, Req("/api/x?q=1", "GET").H("x-a", "1")), "none");
  EXPECT_EQ(Hit(t, Req("/api/x", "POST").H("x-a", "1")), "none");
  EXPECT_EQ(Hit(t, Req("/api/x?q=1", "POST")), "none");
  EXPECT_EQ(Hit(t, Req("/web?q=1", "POST").H("x-a", "1")), "none");
  EXPECT_EQ(Hit(t, Req("/api/x?q=1", "POST").H("x-a", "1"), 8080), "none");
}

// ---- table order ----

TEST(Table, FirstRouteWinsMatchesAreOredAndIndexIsReported) {
  auto t = TableFromText(R"(
    http_routes { name: "a" matches { uri { prefix: "/a" } } matches { uri { prefix: "/b" } } }
    http_routes { name: "b" matches { uri { prefix: "/b" } } }
    http_routes { name: "c" matches { headers { name: "x" } } }
    http_routes { name: "rest" }
    http_routes { name: "shadowed" })");
  EXPECT_EQ(Hit(t, Req("/a/1")), "a#0");
  EXPECT_EQ(Hit(t, Req("/b/1")), "a#1");
  EXPECT_EQ(Hit(t, Req("/c").H("x", "")), "c#0");
  EXPECT_EQ(Hit(t, Req("/c")), "rest#-1");  // no matches: every request
  EXPECT_EQ(t.routes().size(), 5u);
  EXPECT_EQ(t.routes()[2].index(), 2);
}

TEST(Table, NoMatchAndEmptyTable) {
  auto t = TableFromText(R"(http_routes { name: "a" matches { uri { exact: "/a" } } })");
  EXPECT_EQ(Hit(t, Req("/b")), "none");
  auto empty = TableFromText("hostname: \"x\"");
  EXPECT_EQ(Hit(empty, Req("/")), "none");
  RequestContext no_head;
  EXPECT_FALSE(t.Match(no_head));
}

TEST(Table, KeepsItsOwnCopyOfTheRoutes) {
  std::optional<CompiledRouteTable> t;
  {
    pb::RouteTable tmp;
    auto* r = tmp.add_http_routes();
    r->set_name("a");
    r->add_matches()->mutable_uri()->set_prefix("/a");
    auto c = CompiledRouteTable::Build(tmp);
    ASSERT_TRUE(c.ok());
    t.emplace(std::move(*c));
  }
  CompiledRouteTable moved = std::move(*t);
  t.reset();
  EXPECT_EQ(Hit(moved, Req("/a")), "a#0");
  EXPECT_EQ(moved.proto().http_routes(0).name(), "a");
}

TEST(Table, SemanticsFollowTheSource) {
  auto t = TableFromText(R"(
    http_routes { name: "vs" source { kind: "VirtualService" } }
    http_routes { name: "hr" source { kind: "HTTPRoute" } }
    http_routes { name: "pp" matches { uri { path_prefix: "/x" } } })");
  EXPECT_FALSE(t.routes()[0].gateway_semantics());
  EXPECT_TRUE(t.routes()[1].gateway_semantics());
  EXPECT_TRUE(t.routes()[2].gateway_semantics());  // only HTTPRoutes have path prefixes
}

// ---- build errors ----

TEST(Build, RejectsBadRegexesAndMisplacedPathPrefixes) {
  auto bad = [](const std::string& text) {
    pb::RouteTable t;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &t)) << text;
    auto c = CompiledRouteTable::Build(t);
    return c.ok() ? std::string("ok") : std::string(c.status().message());
  };
  EXPECT_THAT(bad(R"(http_routes { name: "a" matches { uri { regex: "(" } } })"),
              ::testing::StartsWith("route 0 (a) match 0: invalid regular expression \"(\""));
  EXPECT_THAT(bad(R"(http_routes { } http_routes { matches { } matches {
                       headers { name: "h" value { regex: "[" } } } })"),
              ::testing::StartsWith("route 1 match 1: header \"h\": invalid regular expression"));
  EXPECT_THAT(
      bad(R"(http_routes { matches { query_params { name: "q" value { regex: "a{2,1}" } } } })"),
      ::testing::HasSubstr("invalid regular expression"));
  EXPECT_THAT(bad(R"(http_routes { matches { method { path_prefix: "/x" } } })"),
              ::testing::HasSubstr("method: a path prefix is only valid for the uri"));
  EXPECT_THAT(bad(R"(http_routes { name: "a" rewrite { uri_regex: "(?P<x" } })"),
              ::testing::StartsWith("route 0 (a): rewrite:"));
  // Lookahead is not RE2 (Envoy refuses it too).
  EXPECT_NE(bad(R"pb(http_routes { matches { uri { regex: "/a(?=b)" } } })pb"), "ok");
}

// ---- PathWithoutQuery ----

TEST(Path, WithoutQueryAndFragment) {
  EXPECT_EQ(PathWithoutQuery("/a?b=1"), "/a");
  EXPECT_EQ(PathWithoutQuery("/a#f?x"), "/a");
  EXPECT_EQ(PathWithoutQuery("/a"), "/a");
  EXPECT_EQ(PathWithoutQuery("?x"), "");
}

// ---- PickDestination ----

std::map<std::string, int> Spread(const CompiledRouteTable& t, uint64_t n, uint64_t offset = 0) {
  std::map<std::string, int> out;
  for (uint64_t i = 0; i < n; ++i) {
    const pb::WeightedDestination* d = PickDestination(t.routes()[0], offset + i);
    out[d ? d->hostname() : "null"]++;
  }
  return out;
}

TEST(PickDestination, WeightedByShareOfTheTotal) {
  auto t = TableFromText(R"(http_routes {
    destinations { hostname: "a" weight: 20 }
    destinations { hostname: "zero" weight: 0 }
    destinations { hostname: "b" weight: 80 } })");
  // Every residue modulo 100 once: exactly the weights.
  EXPECT_EQ(Spread(t, 100), (std::map<std::string, int>{{"a", 20}, {"b", 80}}));
  EXPECT_EQ(Spread(t, 100, 0xffffffffffffff00ull),
            (std::map<std::string, int>{{"a", 20}, {"b", 80}}));
  EXPECT_EQ(PickDestination(t.routes()[0], 19)->hostname(), "a");
  EXPECT_EQ(PickDestination(t.routes()[0], 20)->hostname(), "b");
  EXPECT_EQ(PickDestination(t.routes()[0], 119)->hostname(), "a");
}

TEST(PickDestination, OneDestinationTakesAllAndZeroWeightsGiveNull) {
  auto one = TableFromText(R"(http_routes { destinations { hostname: "a" weight: 100 } })");
  EXPECT_EQ(Spread(one, 7), (std::map<std::string, int>{{"a", 7}}));
  auto zero = TableFromText(R"(http_routes { destinations { hostname: "a" weight: 0 }
                                             destinations { hostname: "b" weight: 0 } })");
  EXPECT_EQ(PickDestination(zero.routes()[0], 5), nullptr);
  auto none = TableFromText(R"(http_routes { redirect { uri: "/x" } })");
  EXPECT_EQ(PickDestination(none.routes()[0], 5), nullptr);
  // Totals other than 100 (a snapshot normalised with a warning) still split by share.
  auto odd = TableFromText(R"(http_routes { destinations { hostname: "a" weight: 1 }
                                            destinations { hostname: "b" weight: 2 } })");
  EXPECT_EQ(Spread(odd, 3), (std::map<std::string, int>{{"a", 1}, {"b", 2}}));
}

// ---- tables compiled from YAML ----

constexpr char kMesh[] = R"(apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec: {ports: [{name: http, port: 9080}]}
)";

CompiledRouteTable Compiled(const std::string& yaml, uint32_t port = 0) {
  auto res = policy::testing::CompileYaml({kMesh, yaml});
  EXPECT_EQ(policy::testing::ErrorCount(res.snapshot), 0u) << policy::testing::Dump(res.snapshot);
  const pb::RouteTable* t =
      policy::testing::FindRouteTable(res.snapshot, "reviews.shop.svc.cluster.local", port);
  EXPECT_NE(t, nullptr) << policy::testing::Dump(res.snapshot);
  auto c = CompiledRouteTable::Build(t ? *t : pb::RouteTable());
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return std::move(*CompiledRouteTable::Build(pb::RouteTable()));
  return std::move(*c);
}

TEST(Compiled, VirtualServiceMatchesInOrder) {
  auto t = Compiled(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match:
    - headers: {end-user: {exact: jason}}
      uri: {prefix: /reviews}
    route: [{destination: {host: ratings}}]
  - name: no-canary
    match:
    - withoutHeaders: {x-canary: {}}
      queryParams: {v: {regex: "[0-9]+"}}
    route: [{destination: {host: ratings}}]
  - name: default
    route: [{destination: {host: reviews}}]
)");
  EXPECT_EQ(Hit(t, Req("/reviews/1").H("end-user", "jason")), "jason#0");
  EXPECT_EQ(Hit(t, Req("/ratings").H("end-user", "jason")), "default#-1");
  EXPECT_EQ(Hit(t, Req("/x?v=12")), "no-canary#0");
  EXPECT_EQ(Hit(t, Req("/x?v=12").H("x-canary", "1")), "default#-1");
  EXPECT_FALSE(t.routes()[0].gateway_semantics());
}

TEST(Compiled, VirtualServiceSourceNamespaceAndAuthority) {
  auto t = Compiled(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - name: from-front
    match: [{sourceNamespace: front}]
    route: [{destination: {host: ratings}}]
  - name: by-authority
    match: [{authority: {prefix: ratings}}]
    route: [{destination: {host: ratings}}]
  - name: default
    route: [{destination: {host: reviews}}]
)");
  EXPECT_EQ(Hit(t, Req(), 9080, nullptr, "front"), "from-front#0");
  EXPECT_EQ(Hit(t, Req(), 9080, nullptr, "back"), "default#-1");
  EXPECT_EQ(Hit(t, Req().Authority("ratings:9080"), 9080, nullptr, "back"), "by-authority#0");
}

TEST(Compiled, HTTPRoutePrecedenceAndSegmentPrefixes) {
  auto t = Compiled(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules:
  - name: all
    backendRefs: [{name: reviews, port: 9080}]
  - name: canary
    matches: [{headers: [{name: x-canary, value: "1"}]}]
    backendRefs: [{name: ratings, port: 9080}]
  - name: foo
    matches: [{path: {type: PathPrefix, value: /foo}}]
    backendRefs: [{name: ratings, port: 9080}]
  - name: exact
    matches: [{path: {type: Exact, value: /foo/exact}}]
    backendRefs: [{name: ratings, port: 9080}]
)",
                    9080);
  EXPECT_EQ(Hit(t, Req("/foo/bar")), "foo#0");
  EXPECT_EQ(Hit(t, Req("/foo")), "foo#0");
  EXPECT_EQ(Hit(t, Req("/foobar")), "all#0");  // segment-wise
  EXPECT_EQ(Hit(t, Req("/foo/exact")), "exact#0");
  EXPECT_EQ(Hit(t, Req("/x").H("x-canary", "1")), "canary#0");
  EXPECT_EQ(Hit(t, Req("/x")), "all#0");
  EXPECT_TRUE(t.routes()[0].gateway_semantics());
}

}  // namespace
}  // namespace weft::waypoint::route
