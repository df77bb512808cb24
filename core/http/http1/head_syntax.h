#pragma once

// The strict HTTP/1.1 head grammar (RFC 9112 §2-§5, RFC 9110 §5.6) the codec checks every
// head and trailer section against, on the raw bytes, independently of llhttp. llhttp (even in
// strict mode) accepts things a proxy must not forward: a bare LF after the request line or as
// the blank line, obs-fold, several spaces in the request line, "RTSP/1.0" and "ICE/1.0",
// "HTTP/2.0" and "HTTP/0.9". Here a head is accepted only when it is exactly
//
//   start-line CRLF *( field-name ":" OWS field-value OWS CRLF ) CRLF
//
// with every byte in its grammar: field names are tokens (so no space before the colon, and a
// line starting with SP/HTAB — obs-fold — is an error), values are VCHAR / obs-text / SP /
// HTAB (no NUL, no other control, no bare CR or LF).
//
// Every failure carries the status a server answers with (400 unless said otherwise).

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/http/message.h"

namespace weft::http::http1 {

struct SyntaxError {
  int status = 400;         // HTTP status to answer
  std::string_view reason;  // static text
};

// tchar (RFC 9110 §5.6.2).
bool IsTokenChar(unsigned char c);
// 1*tchar.
bool IsToken(std::string_view s);
// A field value (already without leading/trailing OWS): VCHAR, obs-text, SP, HTAB.
bool IsValidFieldValue(std::string_view s);
// host [":" port] as in Host and the authority-form of CONNECT (RFC 9110 §7.2, RFC 3986
// §3.2.2): reg-name (unreserved / pct-encoded / sub-delims), IPv4, or an IP-literal in
// brackets; port is 1-5 digits <= 65535. No userinfo. `require_port`: CONNECT's target.
bool IsValidAuthority(std::string_view s, bool require_port);

// True when the comma-separated list in any of `headers`' fields called `name` contains
// `token` (case-insensitive), e.g. HasListToken(h, "connection", "close").
bool HasListToken(const HeaderMap& headers, std::string_view name, std::string_view token);

// Strips leading and trailing SP / HTAB.
std::string_view TrimOws(std::string_view s);

// A plain decimal Content-Length (1*DIGIT, no sign, no list), at most 2^63-1.
std::optional<uint64_t> ParseContentLength(std::string_view value);

struct RequestLine {
  std::string_view method;
  std::string_view target;
  Version version = Version::kHttp11;
};
// method SP request-target SP "HTTP/1." ("0" | "1"), without the CRLF. Any other HTTP
// version ("HTTP/2.0", "HTTP/1.2", "HTTP/0.9") is 505; anything else malformed is 400.
std::optional<SyntaxError> ParseRequestLine(std::string_view line, RequestLine* out);

struct StatusLine {
  Version version = Version::kHttp11;
  int status = 0;
  std::string_view reason;
};
// "HTTP/1.x" SP 3DIGIT [ SP reason-phrase ], without the CRLF; status 100..599. (A missing
// SP before an empty reason is accepted: many servers send "HTTP/1.1 200\r\n".)
std::optional<SyntaxError> ParseStatusLine(std::string_view line, StatusLine* out);

// Parses a field section: `block` is the field lines each ending with CRLF, then the empty
// line's CRLF (i.e. everything after the start line's CRLF, or a trailer section). Appends
// the fields to `out` (names lowercased, values without OWS). More than `max_fields` fields:
// 431.
std::optional<SyntaxError> ParseFieldSection(std::string_view block, size_t max_fields,
                                             HeaderMap* out);

// The request-target forms of RFC 9112 §3.2.
enum class TargetForm : uint8_t { kOrigin, kAbsolute, kAuthority, kAsterisk };

// Classifies and checks a request-target for `method`: CONNECT takes the authority form only
// (host:port); "*" only with OPTIONS; otherwise "/..." or an absolute "http(s)://authority..."
// URI (its authority in *absolute_authority). A fragment ('#') is never valid in a target.
std::optional<SyntaxError> CheckTarget(std::string_view method, std::string_view target,
                                       TargetForm* form, std::string_view* absolute_authority);

}  // namespace weft::http::http1
