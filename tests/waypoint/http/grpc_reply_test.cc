#include "waypoint/http/grpc_reply.h"

#include <gtest/gtest.h>

namespace weft::waypoint {
namespace {

TEST(GrpcReply, StatusMappingAndMessageEncoding) {
  EXPECT_EQ(GrpcStatusForHttp(400), 13);
  EXPECT_EQ(GrpcStatusForHttp(401), 16);
  EXPECT_EQ(GrpcStatusForHttp(403), 7);
  EXPECT_EQ(GrpcStatusForHttp(404), 12);
  for (int c : {429, 502, 503, 504}) EXPECT_EQ(GrpcStatusForHttp(c), 14) << c;
  EXPECT_EQ(GrpcStatusForHttp(500), 2);
  EXPECT_EQ(GrpcPercentEncode("RBAC: access denied"), "RBAC: access denied");
  EXPECT_EQ(GrpcPercentEncode("50% \xc3\xa9\n"), "50%25 %C3%A9%0A");
  http::HeaderMap h;
  h.Set("content-type", "application/grpc+proto");
  EXPECT_TRUE(IsGrpcRequest(h));
  h.Set("content-type", "application/grpc-web");
  EXPECT_FALSE(IsGrpcRequest(h));
  h.Set("content-type", "Application/GRPC");
  EXPECT_TRUE(IsGrpcRequest(h));
  LocalReply denied;
  denied.status = 403;
  denied.body = "RBAC: access denied";
  denied.flag = "-";
  denied.headers.Set("content-length", "19");
  denied.headers.Set("x-envoy-ratelimited", "true");
  LocalReply g = AsGrpcReply(denied);
  EXPECT_FALSE(g.headers.Has("content-length"));
  EXPECT_EQ(g.headers.Get("x-envoy-ratelimited").value_or(""), "true");
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.headers.Get("grpc-status").value_or(""), "7");
  EXPECT_EQ(g.headers.Get("grpc-message").value_or(""), "RBAC: access denied");
  EXPECT_TRUE(g.body.empty());
  // A gRPC fault abort already is one.
  LocalReply fault;
  fault.headers.Set("grpc-status", "8");
  EXPECT_EQ(AsGrpcReply(fault).headers.Get("grpc-status").value_or(""), "8");
}

}  // namespace
}  // namespace weft::waypoint
