#include "core/http/http1/engine.h"

#include <algorithm>

namespace weft::http::http1 {

std::string_view ParseStatusName(ParseStatus s) {
  switch (s) {
    case ParseStatus::kOk:
      return "ok";
    case ParseStatus::kPaused:
      return "paused";
    case ParseStatus::kUpgrade:
      return "upgrade";
    case ParseStatus::kDone:
      return "done";
    case ParseStatus::kError:
      return "error";
  }
  return "?";
}

namespace detail {
namespace {

Engine* Self(llhttp_t* p) {
  return static_cast<Engine*>(p->data);
}

constexpr std::string_view kCrlfCrlf = "\r\n\r\n";

// An LF without its CR: llhttp ends a line there, the head grammar does not.
bool HasBareLf(std::string_view s) {
  for (size_t i = s.find('\n'); i != std::string_view::npos; i = s.find('\n', i + 1)) {
    if (i == 0 || s[i - 1] != '\r') return true;
  }
  return false;
}

}  // namespace

Engine::Engine(bool request, const Limits& limits) : limits_(limits), request_(request) {
  llhttp_init(&parser_, request ? HTTP_REQUEST : HTTP_RESPONSE, Settings());
  parser_.data = this;
  // Every lenient flag of llhttp 8.1 off (they are off after llhttp_init; said explicitly so
  // that nobody turns one on by accident).
  llhttp_set_lenient_headers(&parser_, 0);
  llhttp_set_lenient_chunked_length(&parser_, 0);
  llhttp_set_lenient_keep_alive(&parser_, 0);
  llhttp_set_lenient_transfer_encoding(&parser_, 0);
}

const llhttp_settings_t* Engine::Settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &Engine::OnMessageBegin;
    s.on_header_value_complete = &Engine::OnHeaderValueComplete;
    s.on_headers_complete = &Engine::OnHeadersComplete;
    s.on_body = &Engine::OnBody;
    s.on_chunk_extension_name = &Engine::OnChunkExtension;
    s.on_chunk_extension_value = &Engine::OnChunkExtension;
    s.on_chunk_header = &Engine::OnChunkHeader;
    s.on_chunk_complete = &Engine::OnChunkComplete;
    s.on_message_complete = &Engine::OnMessageComplete;
    return s;
  }();
  return &settings;
}

int Engine::Fail(int status, std::string_view reason) {
  if (error_status_ == 0) {
    error_status_ = MapStatus(status);
    error_reason_ = reason;
  }
  return kFailed;
}

ParseResult Engine::Result(ParseStatus status, size_t consumed) {
  ParseResult r;
  r.status = status;
  r.consumed = consumed;
  return r;
}

ParseResult Engine::Error(size_t consumed) const {
  ParseResult r = Result(ParseStatus::kError, consumed);
  r.error_status = error_status_;
  r.error_reason = error_reason_;
  return r;
}

bool Engine::LlhttpFramingIs(const BodyFraming& framing) const {
  const uint16_t flags = parser_.flags;
  const bool cl = flags & F_CONTENT_LENGTH;
  const bool te = flags & F_TRANSFER_ENCODING;
  const bool chunked = flags & F_CHUNKED;
  switch (framing.kind) {
    case BodyFraming::Kind::kNone:
      return !cl && !te && !chunked;
    case BodyFraming::Kind::kContentLength:
      return cl && !te && !chunked && parser_.content_length == framing.length;
    case BodyFraming::Kind::kChunked:
      return chunked && !cl;
    case BodyFraming::Kind::kUntilClose:
      return !cl && !chunked;
  }
  return false;
}

// --- llhttp callbacks -------------------------------------------------------------------------

int Engine::OnMessageBegin(llhttp_t* p) {
  Engine* e = Self(p);
  e->info_ = MessageInfo{};
  e->fields_seen_ = 0;
  e->body_bytes_ = 0;
  e->chunk_ext_bytes_ = 0;
  e->capture_ = Capture::kHead;
  e->capture_done_ = false;
  e->capture_buf_.clear();
  e->capture_seed_ = 0;
  // Stop so that Feed learns where the message starts (error_pos) and captures from there.
  e->stop_ = Stop::kBegin;
  return HPE_PAUSED;
}

int Engine::OnHeaderValueComplete(llhttp_t* p) {
  ++Self(p)->fields_seen_;
  return 0;
}

int Engine::OnHeadersComplete(llhttp_t* p) {
  return Self(p)->HandleHeadersComplete();
}

int Engine::HandleHeadersComplete() {
  if (capture_ != Capture::kHead || !capture_done_ || HasBareLf(capture_buf_)) {
    // llhttp ended the head on something other than CRLF CRLF (a bare LF). The capture may
    // still have found a CRLF CRLF further on, when those bytes came in the same Feed: the
    // bare LF inside it tells the same story, so that the answer does not depend on how the
    // bytes were split.
    return Fail(400, "head not ended by CRLF CRLF");
  }
  std::string_view raw = capture_buf_;
  size_t eol = raw.find("\r\n");
  std::string_view start_line = raw.substr(0, eol);
  HeaderMap fields;
  if (auto err = ParseFieldSection(raw.substr(eol + 2), limits_.max_headers, &fields)) {
    return Fail(err->status, err->reason);
  }
  if (fields.size() != fields_seen_) {
    return Fail(400, "llhttp and the head grammar disagree on the header fields");
  }
  int rc = HeadComplete(start_line, std::move(fields));
  capture_ = Capture::kNone;
  capture_buf_.clear();
  if (rc == kFailed || error_status_ != 0) return kFailed;
  if (rc == kBody && user_paused_) return HPE_PAUSED;
  // kNoBody / kUpgrade with a pause: the pause takes effect at on_message_complete, which
  // follows at once and owes on_complete to the next Feed.
  return rc;
}

int Engine::OnBody(llhttp_t* p, const char* at, size_t n) {
  Engine* e = Self(p);
  if (n == 0) return 0;  // an empty span flushed at the end of an empty Feed
  e->body_bytes_ += n;
  if (e->limits_.max_body_bytes != 0 && e->body_bytes_ > e->limits_.max_body_bytes) {
    return e->Fail(413, "body larger than the limit");
  }
  e->DeliverBody(std::string_view(at, n));
  if (e->error_status_ != 0) return kFailed;
  return e->user_paused_ ? HPE_PAUSED : 0;
}

int Engine::OnChunkExtension(llhttp_t* p, const char*, size_t n) {
  Engine* e = Self(p);
  e->chunk_ext_bytes_ += n;
  if (e->chunk_ext_bytes_ > e->limits_.max_chunk_extension_bytes) {
    return e->Fail(400, "chunk extensions larger than the limit");
  }
  return 0;
}

int Engine::OnChunkHeader(llhttp_t* p) {
  Engine* e = Self(p);
  e->chunk_ext_bytes_ = 0;
  const uint64_t size = p->content_length;
  if (e->limits_.max_body_bytes != 0 &&
      (size > e->limits_.max_body_bytes || e->body_bytes_ + size > e->limits_.max_body_bytes)) {
    return e->Fail(413, "body larger than the limit");
  }
  if (size == 0) {
    // The last chunk: the trailer section starts here. Capture it as a head, seeded with the
    // CRLF of the last-chunk line so that an empty section is CRLF CRLF as well.
    e->capture_ = Capture::kTrailers;
    e->capture_done_ = false;
    e->capture_buf_ = "\r\n";
    e->capture_seed_ = 2;
    e->fields_seen_ = 0;
    e->stop_ = Stop::kTrailers;
    return HPE_PAUSED;
  }
  return 0;
}

int Engine::OnChunkComplete(llhttp_t* p) {
  Self(p)->chunk_ext_bytes_ = 0;
  return 0;
}

int Engine::OnMessageComplete(llhttp_t* p) {
  return Self(p)->HandleMessageComplete();
}

int Engine::HandleMessageComplete() {
  if (interim()) {
    // A 1xx response: no on_complete; the final response follows.
    return user_paused_ ? HPE_PAUSED : 0;
  }
  if (user_paused_) {
    // Paused at a head without body (see HandleHeadersComplete).
    pending_complete_ = true;
    stop_ = Stop::kComplete;
    return HPE_PAUSED;
  }
  if (capture_ == Capture::kTrailers) {
    if (!capture_done_ || HasBareLf(capture_buf_)) {
      return Fail(400, "trailer section not ended by CRLF CRLF");  // as for the head
    }
    HeaderMap trailers;
    std::string_view raw = capture_buf_;
    if (auto err = ParseFieldSection(raw.substr(capture_seed_), limits_.max_headers, &trailers)) {
      return Fail(err->status, err->reason);
    }
    if (trailers.size() != fields_seen_) {
      return Fail(400, "llhttp and the head grammar disagree on the trailer fields");
    }
    // Fields that frame or route a message have no place in trailers (RFC 9110 §6.5.1);
    // refusing them means no recipient can be tempted to merge them.
    for (std::string_view name : {"content-length", "transfer-encoding", "host"}) {
      if (trailers.Has(name)) return Fail(400, "framing or routing field in trailers");
    }
    capture_ = Capture::kNone;
    capture_buf_.clear();
    if (!trailers.empty()) {
      DeliverTrailers(std::move(trailers));
      if (error_status_ != 0) return kFailed;
    }
  }
  return AfterComplete();
}

int Engine::AfterComplete() {
  DeliverComplete();
  if (error_status_ != 0) return kFailed;
  if (!info_.keep_alive && !info_.upgrade && !info_.connect) {
    done_ = true;
    stop_ = Stop::kComplete;
    return HPE_PAUSED;
  }
  return user_paused_ ? HPE_PAUSED : 0;
}

// --- feeding ----------------------------------------------------------------------------------

bool Engine::CaptureMore(std::string_view in, uint64_t abs) {
  const uint64_t captured_end = capture_start_ + (capture_buf_.size() - capture_seed_);
  if (abs + in.size() <= captured_end) return true;  // re-fed bytes, captured already
  if (abs < captured_end) in.remove_prefix(captured_end - abs);
  const size_t limit = limits_.max_head_bytes;
  const size_t have = capture_buf_.size() - capture_seed_;
  // One byte over the limit is enough to tell that it is exceeded.
  size_t take = std::min(in.size(), limit + 1 - std::min(have, limit + 1));
  size_t search_from = capture_buf_.size() >= 3 ? capture_buf_.size() - 3 : 0;
  capture_buf_.append(in.data(), take);
  size_t end = capture_buf_.find(kCrlfCrlf, search_from);
  if (end != std::string::npos) {
    capture_buf_.resize(end + kCrlfCrlf.size());
    capture_done_ = true;
  }
  if (request_ && capture_ == Capture::kHead) {
    size_t eol = capture_buf_.find('\n');
    size_t line = eol == std::string::npos ? capture_buf_.size() : eol;
    if (line > limits_.max_request_line_bytes) {
      Fail(414, "request line longer than the limit");
      return false;
    }
  }
  if (capture_buf_.size() - capture_seed_ > limit) {
    Fail(431, capture_ == Capture::kHead ? "head larger than the limit"
                                         : "trailer section larger than the limit");
    return false;
  }
  return true;
}

int Engine::ErrorStatusFor(llhttp_errno_t err, uint64_t error_abs) const {
  if (!request_) return 502;
  // The request line as far as llhttp read it: `before` the byte it refused, `upto` with it
  // (when that byte was fed). llhttp may report a version error at the byte after the version
  // or, when the version ended a Feed, at the end of that Feed, so only the bytes before the
  // error position give an answer that does not depend on how the bytes were split.
  std::string_view before, upto;
  if (capture_ == Capture::kHead && error_abs >= capture_start_) {
    std::string_view cap = capture_buf_;
    before = cap.substr(0, error_abs - capture_start_);
    upto = cap.substr(0, error_abs - capture_start_ + 1);
    before = before.substr(0, before.find_first_of("\r\n"));
    upto = upto.substr(0, upto.find_first_of("\r\n"));
  }
  switch (err) {
    case HPE_INVALID_METHOD:
      // Refused while still reading tchars: a well-formed method llhttp does not know, which
      // we do not implement (RFC 9110 §9.1). Anything else is malformed.
      return IsToken(upto) ? 501 : 400;
    case HPE_INVALID_VERSION: {
      size_t sp = before.rfind(' ');
      std::string_view v = sp == std::string_view::npos ? before : before.substr(sp + 1);
      bool shaped = v.size() == 8 && v.substr(0, 5) == "HTTP/" && v[5] >= '0' && v[5] <= '9' &&
                    v[6] == '.' && v[7] >= '0' && v[7] <= '9';
      bool supported = v == "HTTP/1.1" || v == "HTTP/1.0";
      return shaped && !supported ? 505 : 400;
    }
    case HPE_PAUSED_H2_UPGRADE:
      return 505;  // "PRI * HTTP/2.0": the HTTP/2 preface on an HTTP/1.1 connection
    default:
      return 400;
  }
}

ParseResult Engine::Feed(std::string_view in) {
  if (error_status_ != 0) return Error(0);
  if (done_) return Result(ParseStatus::kDone, 0);
  if (upgraded_) return Result(ParseStatus::kUpgrade, 0);
  if (user_paused_) return Result(ParseStatus::kPaused, 0);
  if (pending_complete_) {
    pending_complete_ = false;
    AfterComplete();
    if (error_status_ != 0) return Error(0);
    if (done_) return Result(ParseStatus::kDone, 0);
    if (user_paused_) return Result(ParseStatus::kPaused, 0);
  }
  // An empty Feed still runs llhttp once: after a pause it may owe transitions that consume
  // nothing (the end of a bodyless message after a pause at its head).
  static constexpr char kNothing = 0;
  if (in.data() == nullptr) in = std::string_view(&kNothing, 0);
  size_t pos = 0;
  bool first = true;
  while (pos < in.size() || first) {
    first = false;
    if (capture_ != Capture::kNone && !capture_done_ &&
        !CaptureMore(in.substr(pos), stream_pos_ + pos)) {
      stream_pos_ += pos;
      return Error(pos);
    }
    stop_ = Stop::kNone;
    llhttp_errno_t err = llhttp_execute(&parser_, in.data() + pos, in.size() - pos);
    if (err == HPE_OK) {
      pos = in.size();
      break;
    }
    const size_t at = static_cast<size_t>(llhttp_get_error_pos(&parser_) - in.data());
    if (err == HPE_PAUSED) {
      llhttp_resume(&parser_);
      pos = at;
      if (stop_ == Stop::kBegin || stop_ == Stop::kTrailers) capture_start_ = stream_pos_ + pos;
      if (done_) {
        stream_pos_ += pos;
        return Result(ParseStatus::kDone, pos);
      }
      if (user_paused_) {
        stream_pos_ += pos;
        return Result(ParseStatus::kPaused, pos);
      }
      continue;
    }
    if (err == HPE_PAUSED_UPGRADE) {
      upgraded_ = true;
      stream_pos_ += at;
      return Result(ParseStatus::kUpgrade, at);
    }
    if (error_status_ == 0) {
      error_status_ = MapStatus(ErrorStatusFor(err, stream_pos_ + at));
      error_reason_ = llhttp_get_error_reason(&parser_);
    }
    stream_pos_ += at;
    return Error(at);
  }
  stream_pos_ += pos;
  return Result(ParseStatus::kOk, pos);
}

ParseResult Engine::Finish() {
  // Whatever is owed from a pause first (on_complete, the end of a bodyless message).
  ParseResult r = Feed({});
  if (r.status != ParseStatus::kOk) return r;
  llhttp_errno_t err = llhttp_finish(&parser_);
  if (error_status_ != 0) return Error(0);
  if (err != HPE_OK && err != HPE_PAUSED) {
    Fail(400, "connection closed inside a message");
    return Error(0);
  }
  if (err == HPE_PAUSED) llhttp_resume(&parser_);
  return Result(done_ ? ParseStatus::kDone : ParseStatus::kOk, 0);
}

}  // namespace detail
}  // namespace weft::http::http1
