#pragma once

// The two sides of one proxied HTTP request, whatever the codec: the downstream request a
// client sent (HTTP/1.1 or HTTP/2 server stream) and the upstream request the waypoint sends
// to an endpoint (HTTP/1.1 or HTTP/2 client stream). The exchange (exchange.h) moves a
// request from one to the other without knowing the protocol on either side, so an h2c
// client reaches an HTTP/1.1 backend and the reverse.
//
// Bodies are pulled, one chunk at a time: ReadBody hands out the next chunk only when asked,
// and WriteBody completes when the bytes are on their way (the codec's buffer, bounded). A
// slow reader therefore stalls its writer with at most one chunk in flight per direction, on
// top of the transports' own windows: nothing buffers without bound.
//
// Single-threaded: every call on executor(); handlers run there, never inline.

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/http/message.h"

namespace weft::waypoint {

using boost::system::error_code;

// One body chunk. `data` stays valid until the next ReadBody call or the stream's end.
// end=true: the body is complete (trailers() are final); `data` may still hold the last bytes.
// An error (connection reset, malformed framing) ends the body abnormally.
using BodyHandler = std::function<void(error_code, std::string_view data, bool end)>;
using DoneHandler = std::function<void(error_code)>;

// Why an upstream or downstream stream ended abnormally, in Envoy's words (response flags and
// "reset reason" texts users know from Istio).
enum class ResetReason {
  kNone,
  kConnectFailure,      // UF: connection failure (HBONE, TCP or TLS)
  kRemoteReset,         // UR: the upstream reset the stream / closed the connection
  kRemoteRefusedReset,  // REFUSED_STREAM from an HTTP/2 upstream
  kProtocolError,       // UPE: the upstream's response was not valid HTTP
  kOverflow,            // UO: (next issue: circuit breaking)
  kLocalReset,          // the waypoint gave up (downstream went away)
};
std::string_view ResetReasonText(ResetReason r);  // "connection failure", "remote reset", ...

class DownstreamRequest {
 public:
  virtual ~DownstreamRequest() = default;
  virtual boost::asio::any_io_executor executor() = 0;

  // The request as received (Host in authority; hop-by-hop headers still present).
  virtual http::RequestHead& head() = 0;
  // False when the request certainly has no body (HTTP/1.1 without Content-Length or chunked;
  // HTTP/2 HEADERS with END_STREAM).
  virtual bool has_body() const = 0;
  virtual void ReadBody(BodyHandler handler) = 0;
  virtual const http::HeaderMap& trailers() const = 0;
  // The client's own protocol ("HTTP/1.1", "HTTP/2"), for x-forwarded-proto and logs.
  virtual http::Version version() const = 0;

  // The response. SendHead may be called once (after at most one 100 Continue, see below);
  // end_stream=true: no body follows.
  virtual void SendHead(http::ResponseHead head, bool end_stream) = 0;
  virtual void WriteBody(std::string_view data, DoneHandler handler) = 0;
  // Ends the response (trailers only where the protocol carries them: HTTP/2, or HTTP/1.1
  // chunked).
  virtual void Finish(http::HeaderMap trailers) = 0;
  // Gives up: RST_STREAM (HTTP/2) or closing the connection (HTTP/1.1).
  virtual void Abort() = 0;
  virtual bool head_sent() const = 0;
  // An HTTP/1.1 request asking to switch protocols (Upgrade, e.g. WebSocket).
  virtual bool upgrade() const { return false; }
  // The status to refuse the request with before routing it, 0 for none (HTTP/2: 431 for a
  // header block over the limit, 400 for a malformed request).
  virtual int early_reject_status() const { return 0; }

  // Called once the exchange is completely done with this request (response finished or
  // aborted); the connection may go on to the next one.
  virtual void Done() = 0;
};

class UpstreamRequest {
 public:
  virtual ~UpstreamRequest() = default;
  virtual boost::asio::any_io_executor executor() = 0;

  // Sends the head. end_stream=true: no body.
  virtual void SendHead(const http::RequestHead& head, bool end_stream) = 0;
  virtual void WriteBody(std::string_view data, DoneHandler handler) = 0;
  virtual void Finish(const http::HeaderMap& trailers) = 0;
  // The final response head (1xx interim responses are consumed here).
  virtual void ReadHead(std::function<void(error_code, http::ResponseHead*)> handler) = 0;
  virtual void ReadBody(BodyHandler handler) = 0;
  // The next chunk if it is here already, without waiting: what ReadBody would deliver, at
  // once (false: nothing yet, call ReadBody). Lets a response whose body came with its head
  // go out in one write.
  virtual bool TryReadBody(std::string_view* data, bool* end) {
    (void)data;
    (void)end;
    return false;
  }
  virtual const http::HeaderMap& trailers() const = 0;
  // After ReadHead: false when the response certainly has no body (HEAD, 204, 304, HTTP/2
  // HEADERS with END_STREAM).
  virtual bool response_has_body() const = 0;
  // Why it failed, after an error.
  virtual ResetReason reset_reason() const = 0;
  // Stops using the stream: a finished HTTP/1.1 exchange returns its connection to the pool
  // for keep-alive; an unfinished one closes it (and resets an HTTP/2 stream).
  virtual void Release() = 0;
};

}  // namespace weft::waypoint
