#pragma once

// HTTP/1.1 serializers: heads, and the chunked framing of bodies (RFC 9112 §7.1).
//
// The body framing is the caller's decision, passed in: the serializer writes Content-Length
// or Transfer-Encoding from `framing` and never copies those two fields from the head's
// header list (a proxy must not forward the framing it received). So a response to HEAD that
// should advertise its length passes BodyFraming::ContentLength(n) and writes no body.
// kUntilClose (responses only) writes no framing field and adds "connection: close" unless a
// Connection field says close already. For a request, kUntilClose is written as kNone.
//
// Header fields are written in their order, names as stored (lowercase), "name: value".
// Nothing written can split a line: CR, LF and NUL in the method, target, reason or a value
// are written as SP, and a field whose name is not a token is left out. (Heads that come from
// the parsers never contain any of these.)
//
//   std::string out = SerializeRequestHead(head, BodyFraming::Chunked());
//   out += ChunkHeader(data.size()); out += data; out += kChunkEnd;
//   out += LastChunk(trailers);

#include <cstdint>
#include <string>
#include <string_view>

#include "core/http/http1/framing.h"
#include "core/http/message.h"

namespace weft::http::http1 {

// "GET /path HTTP/1.1\r\nhost: <authority>\r\n<headers>\r\n\r\n". Host comes first, from
// head.authority (any "host" field in head.headers is ignored); HTTP/1.1 always gets one
// (empty when the authority is). kHttp2 is written as HTTP/1.1.
std::string SerializeRequestHead(const RequestHead& head, const BodyFraming& framing);
void AppendRequestHead(const RequestHead& head, const BodyFraming& framing, std::string* out);

// "HTTP/1.1 200 OK\r\n<headers>\r\n\r\n"; the reason is http::StatusText(status) when empty.
std::string SerializeResponseHead(const ResponseHead& head, const BodyFraming& framing);
void AppendResponseHead(const ResponseHead& head, const BodyFraming& framing, std::string* out);

// The chunk-size line of a chunk of `size` bytes: hex size, CRLF ("1a\r\n"). `size` must not
// be 0 (that is the last chunk).
std::string ChunkHeader(uint64_t size);
// What follows the data of each chunk.
inline constexpr std::string_view kChunkEnd = "\r\n";
// One whole chunk: ChunkHeader(data.size()) + data + CRLF. Empty data gives "".
std::string Chunk(std::string_view data);
// The last chunk and the trailer section: "0\r\n" [trailer fields] "\r\n".
std::string LastChunk(const HeaderMap& trailers = {});

}  // namespace weft::http::http1
