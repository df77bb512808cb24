#include "waypoint/http/grpc_reply.h"

#include <cstdio>

namespace weft::waypoint {

bool IsGrpcRequest(const http::HeaderMap& request_headers) {
  auto ct = request_headers.Get("content-type");
  if (!ct) return false;
  constexpr std::string_view kGrpc = "application/grpc";
  if (ct->size() < kGrpc.size() || !http::EqualsIgnoreCase(ct->substr(0, kGrpc.size()), kGrpc)) {
    return false;
  }
  // application/grpc, application/grpc+proto, application/grpc;charset=...: not grpc-web.
  return ct->size() == kGrpc.size() || (*ct)[kGrpc.size()] == '+' || (*ct)[kGrpc.size()] == ';';
}

int GrpcStatusForHttp(int http_status) {
  switch (http_status) {
    case 400:
      return 13;  // INTERNAL
    case 401:
      return 16;  // UNAUTHENTICATED
    case 403:
      return 7;  // PERMISSION_DENIED
    case 404:
      return 12;  // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;  // UNAVAILABLE
    default:
      return 2;  // UNKNOWN
  }
}

std::string GrpcPercentEncode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out.push_back(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out.append(buf, 3);
    }
  }
  return out;
}

LocalReply AsGrpcReply(LocalReply reply) {
  if (reply.headers.Has("grpc-status")) return reply;
  // The reply's other headers (retry-after, x-envoy-ratelimited, ...) stay; its body's
  // framing goes with the body.
  LocalReply g;
  g.flag = std::move(reply.flag);
  g.status = 200;
  g.headers = std::move(reply.headers);
  g.headers.Remove("content-length");
  g.headers.Set("content-type", "application/grpc");
  g.headers.Set("grpc-status", std::to_string(GrpcStatusForHttp(reply.status)));
  if (!reply.body.empty()) g.headers.Set("grpc-message", GrpcPercentEncode(reply.body));
  return g;
}

}  // namespace weft::waypoint
