// Route actions: path and authority rewrite (Istio prefix_rewrite, regex rewrite, Gateway API
// ReplacePrefixMatch and ReplaceFullPath), header operations, redirect, direct response.

#include "waypoint/route/actions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/waypoint/route/route_test_util.h"

namespace weft::waypoint::route {
namespace {

using testing::Req;
using testing::TableFromText;

// The path after ApplyRewrite of the first route of `table` for `path`, through Match() so
// that the match index is the real one.
std::string Rewritten(const std::string& table, const std::string& path) {
  CompiledRouteTable t = TableFromText(table);
  Req r(path);
  RouteMatch m = t.Match({&r.head, 9080, nullptr, ""});
  if (!m) return "no match";
  ApplyRewrite(*m.route, m.match_index, r.head);
  return r.head.path;
}

// ---- Istio rewrite.uri: Envoy prefix_rewrite ----

TEST(IstioRewrite, ReplacesTheMatchedPrefixAndKeepsTheQuery) {
  const std::string t =
      R"(http_routes { matches { uri { prefix: "/api" } } rewrite { uri: "/v2" } })";
  EXPECT_EQ(Rewritten(t, "/api/users?id=1"), "/v2/users?id=1");
  EXPECT_EQ(Rewritten(t, "/api"), "/v2");
  EXPECT_EQ(Rewritten(t, "/apis"), "/v2s");  // a plain prefix, as Envoy
  // Rewriting to "/" leaves the separator of the rest: Envoy's (and Istio's) "//users".
  const std::string slash =
      R"(http_routes { matches { uri { prefix: "/api" } } rewrite { uri: "/" } })";
  EXPECT_EQ(Rewritten(slash, "/api/users"), "//users");
  const std::string slash2 =
      R"(http_routes { matches { uri { prefix: "/api/" } } rewrite { uri: "/" } })";
  EXPECT_EQ(Rewritten(slash2, "/api/users"), "/users");
}

TEST(IstioRewrite, ExactAndRegexMatchesReplaceTheWholePath) {
  EXPECT_EQ(
      Rewritten(R"(http_routes { matches { uri { exact: "/old" } } rewrite { uri: "/new" } })",
                "/old?x=1#f"),
      "/new?x=1#f");
  EXPECT_EQ(
      Rewritten(R"(http_routes { matches { uri { regex: "/v[0-9]/.*" } } rewrite { uri: "/x" } })",
                "/v1/a/b?q"),
      "/x?q");
}

TEST(IstioRewrite, IgnoreUriCaseReplacesAsManyCharacters) {
  EXPECT_EQ(Rewritten(R"(http_routes { matches { uri { prefix: "/API" } ignore_uri_case: true }
                                       rewrite { uri: "/v2" } })",
                      "/api/x"),
            "/v2/x");
}

TEST(IstioRewrite, WithoutUriRuleThePrefixIsSlash) {
  // No matches (match index -1) and a match without uri are Envoy's prefix "/".
  EXPECT_EQ(Rewritten(R"(http_routes { rewrite { uri: "/v2/" } })", "/a?b"), "/v2/a?b");
  CompiledRouteTable t =
      TableFromText(R"(http_routes { matches { port: 9080 } rewrite { uri: "/v2" } })");
  Req r("/a");
  ApplyRewrite(t.routes()[0], 0, r.head);
  EXPECT_EQ(r.head.path, "/v2a");
}

TEST(IstioRewrite, SecondMatchUsesItsOwnPrefix) {
  const std::string t = R"(http_routes {
    matches { uri { prefix: "/a" } } matches { uri { prefix: "/bbb" } } rewrite { uri: "/z" } })";
  EXPECT_EQ(Rewritten(t, "/a/1"), "/z/1");
  EXPECT_EQ(Rewritten(t, "/bbb/1"), "/z/1");
}

// ---- uriRegexRewrite: Envoy regex_rewrite ----

TEST(RegexRewrite, GlobalReplaceWithBackReferencesOnThePathOnly) {
  EXPECT_EQ(Rewritten(R"(http_routes { rewrite { uri_regex: "^/svc/([^/]+)/(.*)$"
                                                uri_regex_substitution: "/\\2/instance/\\1" } })",
                      "/svc/a/b/c?x=/svc/q/r"),
            "/b/c/instance/a?x=/svc/q/r");
  // Every non-overlapping match is replaced.
  EXPECT_EQ(Rewritten(R"(http_routes { rewrite { uri_regex: "o" uri_regex_substitution: "0" } })",
                      "/foo/boo?o=o"),
            "/f00/b00?o=o");
  // No match: the path is unchanged.
  EXPECT_EQ(
      Rewritten(R"(http_routes { rewrite { uri_regex: "^/nope" uri_regex_substitution: "/x" } })",
                "/a?b"),
      "/a?b");
  // A regex rewrite wins over uri (Istio checks it first).
  EXPECT_EQ(
      Rewritten(
          R"(http_routes { rewrite { uri: "/u" uri_regex: "^/a" uri_regex_substitution: "/r" } })",
          "/a/1"),
      "/r/1");
}

// ---- Gateway API URLRewrite ----

struct PrefixCase {
  std::string prefix;       // PathPrefix match
  std::string replacement;  // ReplacePrefixMatch
  std::string path;
  std::string want;
};

void PrintTo(const PrefixCase& c, std::ostream* os) {
  *os << c.prefix << " -> \"" << c.replacement << "\" on " << c.path;
}

class ReplacePrefixMatch : public ::testing::TestWithParam<PrefixCase> {};

TEST_P(ReplacePrefixMatch, FollowsTheGatewayApiTable) {
  const PrefixCase& c = GetParam();
  std::string t = "http_routes { source { kind: \"HTTPRoute\" } matches { uri { path_prefix: \"" +
                  c.prefix + "\" } } rewrite { uri: \"" + c.replacement + "\" } }";
  EXPECT_EQ(Rewritten(t, c.path), c.want) << c.prefix << " -> " << c.replacement;
}

// The rows of the HTTPPathModifier ReplacePrefixMatch table in the Gateway API reference (but
// the three with an empty replacement: see below), then the "/" prefix and the query string.
INSTANTIATE_TEST_SUITE_P(
    Spec, ReplacePrefixMatch,
    ::testing::Values(PrefixCase{"/foo", "/xyz", "/foo/bar", "/xyz/bar"},
                      PrefixCase{"/foo", "/xyz/", "/foo/bar", "/xyz/bar"},
                      PrefixCase{"/foo/", "/xyz", "/foo/bar", "/xyz/bar"},
                      PrefixCase{"/foo/", "/xyz/", "/foo/bar", "/xyz/bar"},
                      PrefixCase{"/foo", "/xyz", "/foo", "/xyz"},
                      PrefixCase{"/foo", "/xyz", "/foo/", "/xyz/"},
                      PrefixCase{"/foo", "/", "/foo/", "/"}, PrefixCase{"/foo", "/", "/foo", "/"},
                      PrefixCase{"/foo", "/", "/foo/x", "/x"},
                      PrefixCase{"/", "/xyz", "/foo", "/xyz/foo"},
                      PrefixCase{"/", "/", "/foo", "/foo"},
                      PrefixCase{"/foo/bar", "/a/b", "/foo/bar/baz?q=1", "/a/b/baz?q=1"}));

TEST(GatewayRewrite, EmptyReplacementCannotBeToldFromNoPathChange) {
  // `replacePrefixMatch: ""` compiles to an empty Rewrite.uri, which the snapshot cannot tell
  // from "no path modifier": the path is left alone. (The Gateway API rows with "" give the
  // same results as the "/" rows above, which work.)
  EXPECT_EQ(Rewritten(R"(http_routes { source { kind: "HTTPRoute" }
                                       matches { uri { path_prefix: "/foo" } } rewrite { } })",
                      "/foo/bar"),
            "/foo/bar");
}

TEST(GatewayRewrite, MatchWithoutPathIsPrefixSlash) {
  CompiledRouteTable t = TableFromText(R"(http_routes { source { kind: "HTTPRoute" }
      matches { headers { name: "x" } } rewrite { uri: "/v2" } })");
  Req r("/a/b");
  ApplyRewrite(t.routes()[0], 0, r.head);
  EXPECT_EQ(r.head.path, "/v2/a/b");
}

TEST(GatewayRewrite, ReplaceFullPathKeepsTheQuery) {
  const std::string t = R"(http_routes { source { kind: "HTTPRoute" }
      matches { uri { path_prefix: "/foo" } } rewrite { uri: "/full" full_path: true } })";
  EXPECT_EQ(Rewritten(t, "/foo/bar/baz?x=1"), "/full?x=1");
  EXPECT_EQ(Rewritten(t, "/foo"), "/full");
}

TEST(GatewayRewrite, ExactMatchReplacesThePath) {
  EXPECT_EQ(Rewritten(R"(http_routes { source { kind: "HTTPRoute" }
                                       matches { uri { exact: "/a/b" } } rewrite { uri: "/c" } })",
                      "/a/b?q"),
            "/c?q");
}

// ---- authority ----

TEST(AuthorityRewrite, RewriteThenRouteHeadersThenDestinationHeaders) {
  CompiledRouteTable t = TableFromText(R"(
    http_routes { name: "rw" rewrite { authority: "new.example" }
                  request_headers { set { key: "Host" value: "from-headers" } } }
    http_routes { name: "hdr" request_headers { add { key: ":authority" value: "added" } } }
    http_routes { name: "set-over-add" request_headers { add { key: "host" value: "added" }
                                                          set { key: "host" value: "set" } } }
    http_routes { name: "none" })");
  pb::WeightedDestination d;
  (*d.mutable_request_headers()->mutable_set())["host"] = "from-destination";
  auto authority = [&](int i, const pb::WeightedDestination* dest) {
    Req r("/a");
    ApplyRewrite(t.routes()[static_cast<size_t>(i)], -1, r.head, dest);
    EXPECT_EQ(r.head.path, "/a");
    return r.head.authority;
  };
  EXPECT_EQ(authority(0, &d), "new.example");
  EXPECT_EQ(authority(1, &d), "added");
  EXPECT_EQ(authority(2, nullptr), "set");
  EXPECT_EQ(authority(3, &d), "from-destination");
  EXPECT_EQ(authority(3, nullptr), "reviews.shop.svc.cluster.local:9080");
}

// ---- header operations ----

std::string Fields(const http::HeaderMap& h) {
  std::string s;
  for (const auto& f : h) s += (s.empty() ? "" : " ") + f.name + "=" + f.value;
  return s;
}

TEST(HeaderOperations, RemoveThenSetThenAddInKeyOrder) {
  pb::HeaderOperations ops;
  ops.add_remove("X-Drop");
  ops.add_remove("x-set");  // removed first, so `set` adds it back
  (*ops.mutable_set())["x-set"] = "s";
  (*ops.mutable_set())["x-multi"] = "one";
  (*ops.mutable_add())["x-b"] = "2";
  (*ops.mutable_add())["x-a"] = "1";
  (*ops.mutable_add())["x-multi"] = "two";
  http::HeaderMap h{{"x-drop", "1"}, {"x-keep", "k"},   {"x-multi", "0"},
                    {"X-Drop", "2"}, {"x-multi", "00"}, {"x-set", "old"}};
  ApplyHeaderOperations(ops, h);
  EXPECT_EQ(Fields(h), "x-keep=k x-multi=one x-set=s x-a=1 x-b=2 x-multi=two");
}

TEST(HeaderOperations, PseudoHeadersAndHostAreNotTouched) {
  pb::HeaderOperations ops;
  ops.add_remove(":path");
  ops.add_remove("host");
  (*ops.mutable_set())[":authority"] = "x";
  (*ops.mutable_set())["Host"] = "x";
  (*ops.mutable_add())[":method"] = "DELETE";
  (*ops.mutable_add())["x-ok"] = "1";
  http::HeaderMap h{{"host", "stray"}};
  ApplyHeaderOperations(ops, h);
  EXPECT_EQ(Fields(h), "host=stray x-ok=1");
  EXPECT_EQ(AuthorityFromHeaderOperations(ops), "x");
  EXPECT_EQ(AuthorityFromHeaderOperations(pb::HeaderOperations()), std::nullopt);
}

TEST(HeaderOperations, SetNamesAreLowered) {
  pb::HeaderOperations ops;
  (*ops.mutable_set())["X-Version"] = "v2";
  http::HeaderMap h{{"x-version", "v1"}};
  ApplyHeaderOperations(ops, h);
  EXPECT_EQ(Fields(h), "x-version=v2");
  http::HeaderMap empty;
  ApplyHeaderOperations(ops, empty);
  EXPECT_EQ(Fields(empty), "x-version=v2");
}

// ---- redirect ----

struct RedirectOut {
  int status;
  std::string location;
};

RedirectOut Redirect(const std::string& redirect, Req r, std::string_view scheme = "http",
                     const std::string& source = "VirtualService") {
  CompiledRouteTable t = TableFromText("http_routes { source { kind: \"" + source +
                                       "\" } redirect { " + redirect + " } }");
  http::ResponseHead h = BuildRedirect(t.routes()[0], r.head, scheme);
  return {h.status, std::string(h.headers.Get("location").value_or("<none>"))};
}

TEST(Redirect, UriReplacesThePathAndKeepsTheQuery) {
  auto out = Redirect(R"(uri: "/v2/new")", Req("/old/x?a=1").Authority("shop:9080"));
  EXPECT_EQ(out.status, 301);
  EXPECT_EQ(out.location, "http://shop:9080/v2/new?a=1");
  EXPECT_EQ(Redirect(R"(uri: "/n?b=2")", Req("/o?a=1").Authority("s")).location, "http://s/n?b=2");
  EXPECT_EQ(Redirect(R"(authority: "other")", Req("/keep/me?q").Authority("s:81")).location,
            "http://other/keep/me?q");  // Envoy host_redirect: the request's port is not kept
  EXPECT_EQ(Redirect(R"(uri: "relative")", Req("/").Authority("s")).location, "http://s/relative");
}

// Istio's HTTPRedirect.prefixRewrite: the part of the path the match matched is replaced, the
// query kept (as Envoy's prefix_rewrite on a redirect).
TEST(Redirect, PrefixRewriteReplacesTheMatchedPrefix) {
  CompiledRouteTable t = TableFromText(
      "http_routes { source { kind: \"VirtualService\" } matches { uri { prefix: \"/old\" } } "
      "redirect { prefix_rewrite: \"/new\" } }");
  Req r = Req("/old/page?x=1").Authority("shop");
  http::ResponseHead h = BuildRedirect(t.routes()[0], r.head, "http", 0);
  EXPECT_EQ(h.status, 301);
  EXPECT_EQ(h.headers.Get("location").value_or("<none>"), "http://shop/new/page?x=1");
  // Without a uri match the matched prefix is Istio's "/".
  CompiledRouteTable any = TableFromText(
      "http_routes { source { kind: \"VirtualService\" } redirect { prefix_rewrite: \"/v2/\" } }");
  h = BuildRedirect(any.routes()[0], Req("/a/b").Authority("shop").head, "http", -1);
  EXPECT_EQ(h.headers.Get("location").value_or("<none>"), "http://shop/v2/a/b");
}

TEST(Redirect, StatusDefaults) {
  EXPECT_EQ(Redirect(R"(uri: "/x")", Req()).status, 301);  // Istio redirectCode default
  EXPECT_EQ(Redirect(R"(uri: "/x")", Req(), "http", "HTTPRoute").status, 302);  // Gateway API
  EXPECT_EQ(Redirect(R"(uri: "/x" response_code: 308)", Req()).status, 308);
  EXPECT_EQ(Redirect(R"(uri: "/x" response_code: 301)", Req(), "http", "HTTPRoute").status, 301);
}

TEST(Redirect, SchemeAndPort) {
  // Scheme change: the request's port goes when it was the old scheme's default.
  EXPECT_EQ(Redirect(R"(scheme: "https")", Req("/a").Authority("shop:80")).location,
            "https://shop/a");
  EXPECT_EQ(Redirect(R"(scheme: "https")", Req("/a").Authority("shop:8080")).location,
            "https://shop:8080/a");
  EXPECT_EQ(Redirect(R"(scheme: "https" port: 8443)", Req("/a").Authority("shop:8080")).location,
            "https://shop:8443/a");
  // The scheme's default port is not written.
  EXPECT_EQ(Redirect(R"(scheme: "https" port: 443)", Req("/a").Authority("shop:8080")).location,
            "https://shop/a");
  EXPECT_EQ(Redirect(R"(port: 80)", Req("/a").Authority("shop:8080")).location, "http://shop/a");
  EXPECT_EQ(Redirect(R"(port: 9090)", Req("/a").Authority("shop")).location, "http://shop:9090/a");
  EXPECT_EQ(Redirect(R"(authority: "x.example" port: 9090)", Req("/a")).location,
            "http://x.example:9090/a");
  // Same scheme, no port given: the authority is kept as it was.
  EXPECT_EQ(Redirect(R"(uri: "/b")", Req("/a").Authority("shop:80")).location, "http://shop:80/b");
  // The request's scheme comes from the caller (the mesh is plain HTTP inside HBONE).
  EXPECT_EQ(Redirect(R"(uri: "/b")", Req("/a").Authority("shop:443"), "https").location,
            "https://shop:443/b");
  EXPECT_EQ(Redirect(R"(scheme: "http")", Req("/a").Authority("shop:443"), "https").location,
            "http://shop/a");
}

TEST(Redirect, Ipv6Authority) {
  EXPECT_EQ(Redirect(R"(port: 8080)", Req("/a").Authority("[fd00::1]:9080")).location,
            "http://[fd00::1]:8080/a");
  EXPECT_EQ(Redirect(R"(uri: "/b")", Req("/a").Authority("[fd00::1]")).location,
            "http://[fd00::1]/b");
}

// ---- direct response ----

TEST(DirectResponse, StatusBodyAndContentType) {
  pb::DirectResponse dr;
  dr.set_status(503);
  dr.set_body("maintenance");
  DirectResponse out = MakeDirectResponse(dr);
  EXPECT_EQ(out.head.status, 503);
  EXPECT_EQ(out.body, "maintenance");
  EXPECT_EQ(out.head.headers.Get("content-type"), "text/plain");
  pb::DirectResponse empty;
  empty.set_status(204);
  DirectResponse none = MakeDirectResponse(empty);
  EXPECT_EQ(none.head.status, 204);
  EXPECT_TRUE(none.body.empty());
  EXPECT_FALSE(none.head.headers.Has("content-type"));
}

// ---- the whole sequence, as the filter chain runs it ----

TEST(Sequence, MatchPickRewriteAndHeaders) {
  CompiledRouteTable t = TableFromText(R"(http_routes {
    name: "r"
    matches { uri { prefix: "/api/" } }
    rewrite { uri: "/" }
    request_headers { set { key: "x-route" value: "r" } remove: "x-internal" }
    destinations { hostname: "v1" weight: 90
                   request_headers { add { key: "x-dest" value: "v1" } } }
    destinations { hostname: "v2" weight: 10
                   request_headers { add { key: "x-dest" value: "v2" } } } })");
  Req r("/api/items?page=2");
  r.H("x-internal", "secret");
  RouteMatch m = t.Match({&r.head, 9080, nullptr, ""});
  ASSERT_TRUE(m);
  const pb::WeightedDestination* d = PickDestination(*m.route, 95);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->hostname(), "v2");
  ApplyRewrite(*m.route, m.match_index, r.head, d);
  ApplyHeaderOperations(m.route->proto().request_headers(), r.head.headers);
  ApplyHeaderOperations(d->request_headers(), r.head.headers);
  EXPECT_EQ(r.head.path, "/items?page=2");
  EXPECT_EQ(Fields(r.head.headers), "x-route=r x-dest=v2");
}

}  // namespace
}  // namespace weft::waypoint::route
