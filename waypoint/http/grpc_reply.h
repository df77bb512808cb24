#pragma once

// Local replies to gRPC requests, as Envoy sends them. A gRPC client reads the outcome from
// grpc-status, not from the HTTP status, so the waypoint's own answers (no route, RBAC
// denial, no healthy upstream, overflow, timeout, reset...) to a request whose content-type is
// application/grpc[+proto|;...] become trailers-only responses: HTTP 200, content-type
// application/grpc, grpc-status mapped from the HTTP status by gRPC's HTTP-to-gRPC table
// (Envoy's Grpc::Utility::httpToGrpcStatus), grpc-message the reply's text percent-encoded
// as the gRPC protocol says, no body. A reply that already carries a grpc-status (a gRPC
// fault abort) is left as it is.

#include <string>
#include <string_view>

#include "core/http/message.h"
#include "waypoint/http/filter_chain.h"

namespace weft::waypoint {

bool IsGrpcRequest(const http::HeaderMap& request_headers);

// 400 → INTERNAL (13), 401 → UNAUTHENTICATED (16), 403 → PERMISSION_DENIED (7),
// 404 → UNIMPLEMENTED (12), 429/502/503/504 → UNAVAILABLE (14), anything else UNKNOWN (2).
int GrpcStatusForHttp(int http_status);

// grpc-message's encoding: bytes outside 0x20-0x7e, and '%', as %XX.
std::string GrpcPercentEncode(std::string_view text);

LocalReply AsGrpcReply(LocalReply reply);

}  // namespace weft::waypoint
