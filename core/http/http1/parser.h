#pragma once

// Incremental HTTP/1.1 parsers for the waypoint: RequestParser (server side of a downstream
// connection) and ResponseParser (client side of an upstream one), on llhttp 8.1 in strict
// mode with the checks llhttp lacks added (head_syntax.h), so that nothing ambiguous reaches a
// backend.
//
// Push style: the caller feeds whatever bytes it read; the parser calls back with events and
// returns how many bytes it consumed. Heads are delivered whole (http::RequestHead /
// ResponseHead); bodies are never buffered: each piece of body data (de-chunked) is passed to
// on_body as it arrives, pointing into the fed bytes. Events of one message, in order:
//
//   on_head, on_body*, on_trailers?, on_complete        (responses: on_interim* before on_head)
//
// Keep-alive and pipelining: one Feed may hold several messages; they are parsed one after
// the other. The caller can stop the parser with Pause() from any callback (typically
// on_complete, so the next pipelined request waits until this one is answered, or on_head /
// on_body for backpressure): no further event is delivered, and Feed returns kPaused with
// `consumed` = the bytes of the events delivered so far. The caller keeps the rest, calls
// Resume() when ready and feeds the rest again (plus anything read since):
//
//   std::string in;                        // bytes read and not consumed yet
//   ParseResult r = parser.Feed(in);
//   in.erase(0, r.consumed);
//   switch (r.status) {
//     case kOk:      read more; break;     // everything consumed
//     case kPaused:  ... parser.Resume(); r = parser.Feed(in); ...
//     case kUpgrade: `in` now holds the first bytes of the other protocol (raw); break;
//     case kDone:    the last message closes the connection; `in` is not HTTP; break;
//     case kError:   answer r.error_status (requests) and close; break;
//   }
//
// Pause() takes effect after the callback that called it returns, with one exception:
// on_trailers is always followed by on_complete. Called outside a callback, the next Feed
// returns kPaused at once.
//
// After kError the parser is dead: every later Feed returns the same error. A message that
// says the connection closes after it (Connection: close, HTTP/1.0 without keep-alive, a
// response delimited by close) ends the parser with kDone once it is complete. After an
// Upgrade or a CONNECT request (or a 101 / 2xx-to-CONNECT response) the parser stops with
// kUpgrade after on_complete of that message; the remaining bytes belong to the new protocol.
//
// Callbacks are std::function members (any may be empty); they must not destroy the parser.
// Not thread-safe; one parser per connection direction.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/http/http1/framing.h"
#include "core/http/http1/head_syntax.h"
#include "core/http/message.h"

namespace weft::http::http1 {

struct Limits {
  // Request line (or status line) plus header section, CRLFs included. Envoy's default
  // max_request_headers_kb. Exceeded: 431. Also bounds a trailer section.
  size_t max_head_bytes = 60 * 1024;
  // Header fields in one head (or trailer section). Envoy's default max_headers_count. 431.
  size_t max_headers = 100;
  // The request line alone (method, target, version). Exceeded: 414.
  size_t max_request_line_bytes = 16 * 1024;
  // Body bytes of one message; 0 = unlimited. Exceeded (or a larger Content-Length): 413.
  uint64_t max_body_bytes = 0;
  // Chunk extension bytes (";name=value" ...) on one chunk-size line. Exceeded: 400.
  size_t max_chunk_extension_bytes = 1024;
};

// What the head of one message says about the message and the connection.
struct MessageInfo {
  BodyFraming framing;
  // The connection may carry another message after this one (RFC 9112 §9.3: HTTP/1.1 unless
  // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive"; never after a body
  // delimited by close).
  bool keep_alive = true;
  // Request: "Expect: 100-continue" (HTTP/1.1 only; RFC 9110 §10.1.1 says to ignore it in
  // 1.0).
  bool expect_continue = false;
  // Request: Upgrade with "Connection: upgrade". Response: 101 Switching Protocols.
  bool upgrade = false;
  // Request: the CONNECT method. Response: a 2xx answer to CONNECT (a tunnel follows).
  bool connect = false;
  // Request: the form of the request-target as sent.
  TargetForm target_form = TargetForm::kOrigin;
};

enum class ParseStatus : uint8_t {
  kOk,       // every byte consumed; feed more when there is more
  kPaused,   // Pause() was called; `consumed` bytes used, resume and feed the rest
  kUpgrade,  // an upgrade / CONNECT message is complete; bytes after `consumed` are raw
  kDone,     // the last message closes the connection; bytes after `consumed` are not HTTP
  kError,    // malformed or ambiguous; see error_status / error_reason; close the connection
};
std::string_view ParseStatusName(ParseStatus s);

struct ParseResult {
  ParseStatus status = ParseStatus::kOk;
  size_t consumed = 0;
  // kError: the status to answer. Requests: 400, 413, 414, 431, 501, 505. Responses: 502
  // (what a proxy answers downstream for a malformed upstream response).
  int error_status = 0;
  std::string_view error_reason;  // static text, for logs

  bool ok() const { return status != ParseStatus::kError; }
};

namespace detail {
class Engine;
}

class RequestParser {
 public:
  struct Callbacks {
    // The head: method, path (the request-target as sent), authority (the Host header, which
    // is not left among the headers), version, scheme "http", header names lowercased in
    // their order with duplicates. `info` stays valid until the next message's head.
    std::function<void(RequestHead&& head, const MessageInfo& info)> on_head = nullptr;
    std::function<void(std::string_view data)> on_body = nullptr;
    std::function<void(HeaderMap&& trailers)> on_trailers = nullptr;  // only when there are any
    std::function<void()> on_complete = nullptr;
  };

  explicit RequestParser(Callbacks callbacks, Limits limits = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  ParseResult Feed(std::string_view bytes);
  // The peer closed its side: ok between messages, an error (400) inside one.
  ParseResult Finish();

  void Pause();
  void Resume();
  bool paused() const;
  // The current (or last) message's info.
  const MessageInfo& message() const;

 private:
  std::unique_ptr<detail::Engine> engine_;
};

class ResponseParser {
 public:
  struct Callbacks {
    // 1xx responses other than 101 (100 Continue, 103 Early Hints): the final response to
    // the same request is still to come.
    std::function<void(ResponseHead&& head)> on_interim = nullptr;
    std::function<void(ResponseHead&& head, const MessageInfo& info)> on_head = nullptr;
    std::function<void(std::string_view data)> on_body = nullptr;
    std::function<void(HeaderMap&& trailers)> on_trailers = nullptr;
    std::function<void()> on_complete = nullptr;
  };

  explicit ResponseParser(Callbacks callbacks, Limits limits = {});
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // The method of each request sent on the connection, in order: a HEAD response has no
  // body, a 2xx answer to CONNECT is a tunnel. Each final response takes the oldest one; with
  // none queued a response is read as the answer to a GET.
  void PushRequestMethod(std::string_view method);

  ParseResult Feed(std::string_view bytes);
  // The server closed: completes a body delimited by close; an error (502) inside a message
  // otherwise.
  ParseResult Finish();

  void Pause();
  void Resume();
  bool paused() const;
  const MessageInfo& message() const;

 private:
  std::unique_ptr<detail::Engine> engine_;
};

}  // namespace weft::http::http1
