#pragma once

// How the body of one HTTP/1.1 message is delimited on the wire (RFC 9112 §6). The parsers
// report it per message (MessageInfo::framing); the serializers take it and write the framing
// header fields from it (and only from it: Content-Length and Transfer-Encoding in a head's
// header list are never written as they are).

#include <cstdint>
#include <string_view>

namespace weft::http::http1 {

struct BodyFraming {
  enum class Kind : uint8_t {
    kNone,           // no body (GET without Content-Length, HEAD response, 204, 304, 1xx, ...)
    kContentLength,  // exactly `length` bytes
    kChunked,        // Transfer-Encoding: chunked, ended by the last chunk (and trailers)
    kUntilClose,     // responses only: the body ends when the server closes the connection
  };
  Kind kind = Kind::kNone;
  uint64_t length = 0;  // kContentLength only

  static BodyFraming None() { return {}; }
  static BodyFraming ContentLength(uint64_t n) { return {Kind::kContentLength, n}; }
  static BodyFraming Chunked() { return {Kind::kChunked, 0}; }
  static BodyFraming UntilClose() { return {Kind::kUntilClose, 0}; }

  bool operator==(const BodyFraming&) const = default;
};

// "none", "content-length 5", "chunked", "until-close".
std::string_view FramingKindName(BodyFraming::Kind kind);

}  // namespace weft::http::http1
