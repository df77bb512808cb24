// ResponseParser: the response side of the engine (engine.h). What the body of a response is
// depends on the request (RFC 9112 §6.3): none for HEAD, 1xx, 204 and 304 whatever the head
// says; a tunnel after a 2xx to CONNECT and after 101; otherwise chunked, Content-Length or,
// with neither, until the server closes. Stricter than the RFC where it lets a recipient
// guess: Transfer-Encoding with Content-Length, several Content-Length fields, a transfer
// coding other than a single final chunked (we decode no other), and Transfer-Encoding in
// HTTP/1.0 are all errors (502), never a guess about where the body ends.

#include <deque>
#include <string>
#include <vector>

#include "core/http/http1/engine.h"
#include "core/http/http1/parser.h"

namespace weft::http::http1 {
namespace {

class ResponseEngine final : public detail::Engine {
 public:
  ResponseEngine(ResponseParser::Callbacks callbacks, const Limits& limits)
      : Engine(/*request=*/false, limits), cb_(std::move(callbacks)) {}

  void PushRequestMethod(std::string_view method) { methods_.emplace_back(method); }

 protected:
  int HeadComplete(std::string_view start_line, HeaderMap&& fields) override {
    StatusLine sl;
    if (auto err = ParseStatusLine(start_line, &sl)) return Fail(err->status, err->reason);
    if (sl.status != llhttp_status()) return Fail(502, "llhttp and the head disagree on status");

    ResponseHead head;
    head.status = sl.status;
    head.reason = std::string(sl.reason);
    head.version = sl.version;

    interim_ = sl.status >= 100 && sl.status < 200 && sl.status != 101;
    if (interim_) {
      head.headers = std::move(fields);
      if (cb_.on_interim) cb_.on_interim(std::move(head));
      return kNoBody;
    }

    std::string method = "GET";
    if (!methods_.empty()) {
      method = std::move(methods_.front());
      methods_.pop_front();
    }

    std::vector<std::string_view> te = fields.GetAll("transfer-encoding");
    std::vector<std::string_view> cl = fields.GetAll("content-length");
    if (!te.empty() && !cl.empty()) return Fail(502, "Content-Length with Transfer-Encoding");
    if (cl.size() > 1) return Fail(502, "several Content-Length fields");
    std::optional<uint64_t> length;
    if (!cl.empty()) {
      length = ParseContentLength(cl[0]);
      if (!length) return Fail(502, "invalid Content-Length");
    }
    if (!te.empty()) {
      if (sl.version == Version::kHttp10) return Fail(502, "Transfer-Encoding in HTTP/1.0");
      if (te.size() > 1 || !EqualsIgnoreCase(TrimOws(te[0]), "chunked")) {
        return Fail(502, "transfer coding other than a single chunked");
      }
    }

    const bool close = HasListToken(fields, "connection", "close");
    info_ = MessageInfo{};
    info_.keep_alive = sl.version == Version::kHttp11
                           ? !close
                           : !close && HasListToken(fields, "connection", "keep-alive");
    int rc = kBody;
    if (method == "CONNECT" && sl.status >= 200 && sl.status < 300) {
      info_.connect = true;
      rc = kUpgrade;
    } else if (sl.status == 101) {
      info_.upgrade = true;
      rc = kUpgrade;
    } else if (method == "HEAD" || sl.status == 204 || sl.status == 304) {
      rc = kNoBody;
    } else if (!te.empty()) {
      info_.framing = BodyFraming::Chunked();
    } else if (length) {
      info_.framing = BodyFraming::ContentLength(*length);
    } else {
      info_.framing = BodyFraming::UntilClose();
      info_.keep_alive = false;
    }
    if (rc == kBody) {
      if (!LlhttpFramingIs(info_.framing)) {
        return Fail(502, "llhttp and the head disagree on the body framing");
      }
      if (limits_.max_body_bytes != 0 && length && *length > limits_.max_body_bytes) {
        return Fail(502, "Content-Length larger than the limit");
      }
    }

    head.headers = std::move(fields);
    if (cb_.on_head) cb_.on_head(std::move(head), info_);
    return rc;
  }

  void DeliverBody(std::string_view data) override {
    if (cb_.on_body) cb_.on_body(data);
  }
  void DeliverTrailers(HeaderMap&& trailers) override {
    if (cb_.on_trailers) cb_.on_trailers(std::move(trailers));
  }
  void DeliverComplete() override {
    if (cb_.on_complete) cb_.on_complete();
  }
  bool interim() const override { return interim_; }
  int MapStatus(int) const override { return 502; }

 private:
  ResponseParser::Callbacks cb_;
  std::deque<std::string> methods_;
  bool interim_ = false;
};

}  // namespace

ResponseParser::ResponseParser(Callbacks callbacks, Limits limits)
    : engine_(std::make_unique<ResponseEngine>(std::move(callbacks), limits)) {}
ResponseParser::~ResponseParser() = default;
void ResponseParser::PushRequestMethod(std::string_view method) {
  static_cast<ResponseEngine*>(engine_.get())->PushRequestMethod(method);
}
ParseResult ResponseParser::Feed(std::string_view bytes) {
  return engine_->Feed(bytes);
}
ParseResult ResponseParser::Finish() {
  return engine_->Finish();
}
void ResponseParser::Pause() {
  engine_->Pause();
}
void ResponseParser::Resume() {
  engine_->Resume();
}
bool ResponseParser::paused() const {
  return engine_->paused();
}
const MessageInfo& ResponseParser::message() const {
  return engine_->message();
}

}  // namespace weft::http::http1
