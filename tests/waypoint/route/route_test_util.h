#pragma once

// Helpers for the route table tests: tables from text-format protos, request heads, and a
// one-string description of what matched.

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "waypoint/route/route_table.h"

namespace weft::waypoint::route::testing {

// A RouteTable from text format; the test fails if it does not parse or compile.
inline CompiledRouteTable TableFromText(const std::string& text) {
  pb::RouteTable t;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &t)) << text;
  auto c = CompiledRouteTable::Build(t);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return std::move(*CompiledRouteTable::Build(pb::RouteTable()));
  return std::move(*c);
}

// A request head: method, path (with query), authority, headers.
struct Req {
  http::RequestHead head;

  explicit Req(std::string path = "/", std::string method = "GET") {
    head.method = std::move(method);
    head.path = std::move(path);
    head.scheme = "http";
    head.authority = "reviews.shop.svc.cluster.local:9080";
  }
  Req& H(std::string name, std::string value) {
    head.headers.Add(name, value);
    return *this;
  }
  Req& Authority(std::string a) {
    head.authority = std::move(a);
    return *this;
  }
};

// "<route name>#<match index>" of the route Match() picks, or "none".
inline std::string Hit(const CompiledRouteTable& t, const Req& r, uint32_t port = 9080,
                       const Labels* labels = nullptr, std::string_view ns = "") {
  RequestContext ctx{&r.head, port, labels, ns};
  RouteMatch m = t.Match(ctx);
  if (!m) return "none";
  return m.route->proto().name() + "#" + std::to_string(m.match_index);
}

}  // namespace weft::waypoint::route::testing
