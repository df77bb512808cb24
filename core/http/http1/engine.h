#pragma once

// Internal to weft_http1: the llhttp driver shared by RequestParser and ResponseParser.
//
// llhttp parses and frames the message; the engine adds what llhttp does not do:
//   - it captures the raw head (and trailer section) bytes as llhttp consumes them, bounded by
//     the limits, and checks them with the strict grammar of head_syntax.h before the head is
//     delivered. To know where a head starts, the engine pauses llhttp internally at
//     on_message_begin (and at the last chunk, where the trailers start); error_pos then gives
//     the exact offset. The capture stops at the first CRLF CRLF; llhttp must reach the end
//     of its head within the captured bytes with the same number of fields, or the message is
//     rejected (the two parsers disagree on where the head ends);
//   - the checks on the header semantics (subclasses: Host, Content-Length, Transfer-Encoding,
//     CONNECT, ...), and that llhttp's framing equals the one derived from the checked head;
//   - the pause protocol of parser.h on top of llhttp's HPE_PAUSED, and kDone after a message
//     that closes the connection.

#include <llhttp.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/http/http1/parser.h"

namespace weft::http::http1::detail {

class Engine {
 public:
  Engine(bool request, const Limits& limits);
  virtual ~Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  ParseResult Feed(std::string_view in);
  ParseResult Finish();
  void Pause() { user_paused_ = true; }
  void Resume() { user_paused_ = false; }
  bool paused() const { return user_paused_; }
  const MessageInfo& message() const { return info_; }

 protected:
  // Return values of HeadComplete, as llhttp's on_headers_complete takes them.
  static constexpr int kBody = 0;     // body per llhttp's framing
  static constexpr int kNoBody = 1;   // no body (HEAD response, 1xx, 204, 304)
  static constexpr int kUpgrade = 2;  // no body, then the connection leaves HTTP
  static constexpr int kFailed = -1;  // Fail() was called

  // The head is complete and its raw bytes passed the grammar: `start_line` without CRLF,
  // `fields` the header fields. Fills info_, checks semantics, delivers the head.
  virtual int HeadComplete(std::string_view start_line, HeaderMap&& fields) = 0;
  virtual void DeliverBody(std::string_view data) = 0;
  virtual void DeliverTrailers(HeaderMap&& trailers) = 0;
  virtual void DeliverComplete() = 0;
  // The current message is an interim (1xx) response: no on_complete.
  virtual bool interim() const { return false; }
  // The status answered for a failure whose natural status is `status`.
  virtual int MapStatus(int status) const { return status; }

  // Records the first error; returns kFailed (an llhttp HPE_USER return).
  int Fail(int status, std::string_view reason);
  // Checks llhttp's view of the body framing against `framing` (derived from the head).
  bool LlhttpFramingIs(const BodyFraming& framing) const;
  uint8_t llhttp_method() const { return parser_.method; }
  // llhttp's own reading: Upgrade + Connection: upgrade, or CONNECT (requests).
  bool llhttp_upgrade() const { return parser_.upgrade != 0; }
  int llhttp_status() const { return parser_.status_code; }

  MessageInfo info_;
  Limits limits_;

 private:
  enum class Capture : uint8_t { kNone, kHead, kTrailers };
  enum class Stop : uint8_t { kNone, kBegin, kTrailers, kComplete };

  static int OnMessageBegin(llhttp_t* p);
  static int OnHeaderValueComplete(llhttp_t* p);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t n);
  static int OnChunkExtension(llhttp_t* p, const char* at, size_t n);
  static int OnChunkHeader(llhttp_t* p);
  static int OnChunkComplete(llhttp_t* p);
  static int OnMessageComplete(llhttp_t* p);
  static const llhttp_settings_t* Settings();

  int HandleHeadersComplete();
  int HandleMessageComplete();
  // Delivers on_complete and decides what follows it; returns an llhttp return value.
  int AfterComplete();
  // Appends the bytes of `in` from absolute offset `abs` to the capture, up to its end.
  bool CaptureMore(std::string_view in, uint64_t abs);
  // The status for an llhttp error at absolute offset `error_abs`.
  int ErrorStatusFor(llhttp_errno_t err, uint64_t error_abs) const;
  ParseResult Error(size_t consumed) const;
  static ParseResult Result(ParseStatus status, size_t consumed);

  const bool request_;
  llhttp_t parser_;

  // Absolute stream offset of the first byte of the current Feed (bytes consumed so far).
  uint64_t stream_pos_ = 0;

  Capture capture_ = Capture::kNone;
  bool capture_done_ = false;
  uint64_t capture_start_ = 0;  // absolute offset of capture_buf_[0] (after any seed)
  std::string capture_buf_;     // trailers: seeded with "\r\n"
  size_t capture_seed_ = 0;

  Stop stop_ = Stop::kNone;  // why llhttp returned HPE_PAUSED internally
  bool user_paused_ = false;
  bool pending_complete_ = false;  // on_complete owed after a pause at a bodyless head
  bool done_ = false;
  bool upgraded_ = false;

  size_t fields_seen_ = 0;  // llhttp's count of header (or trailer) fields
  uint64_t body_bytes_ = 0;
  size_t chunk_ext_bytes_ = 0;

  int error_status_ = 0;
  std::string_view error_reason_;
};

}  // namespace weft::http::http1::detail
