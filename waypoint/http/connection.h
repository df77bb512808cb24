#pragma once

// HttpConnection: a downstream HBONE tunnel carrying HTTP. Reads the first bytes: the HTTP/2
// connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", prior knowledge / h2c) selects the
// HTTP/2 server, anything else the HTTP/1.1 server. Both hand every request to the same
// handler, which runs the exchange.

#include <functional>
#include <memory>
#include <string>

#include "core/hbone/byte_stream.h"
#include "waypoint/http/h1_server.h"
#include "waypoint/http/h2_server.h"

namespace weft::waypoint {

inline constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct HttpConnectionSettings {
  H1ServerSettings h1;
  H2ServerSettings h2;
  // Time to wait for the first bytes that decide the protocol.
  std::chrono::milliseconds detect_timeout{std::chrono::seconds(60)};
};

enum class DetectedProtocol { kUnknown, kHttp1, kHttp2 };

// Whether `prefix` (the first bytes of a connection) is, could still be, or is not the
// HTTP/2 preface: kHttp2 when it starts with the whole preface, kHttp1 when it differs from
// it, kUnknown while it is a proper prefix of it.
DetectedProtocol DetectProtocol(std::string_view prefix);

// Serves HTTP on `stream`; `on_close` runs when the connection ends.
void ServeHttp(std::shared_ptr<hbone::ByteStream> stream, HttpConnectionSettings settings,
               RequestHandler handler, std::function<void(DetectedProtocol)> on_detected,
               std::function<void()> on_close);

}  // namespace weft::waypoint
