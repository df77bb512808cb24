// RequestParser: the request side of the engine (engine.h) — the request line, Host and the
// body framing rules of RFC 9112 §6.3 for requests, strictest reading wherever the RFC lets a
// recipient choose:
//   - Transfer-Encoding together with Content-Length: 400 (llhttp refuses it too);
//   - Transfer-Encoding whose final coding is not chunked (`chunked, gzip`, `identity`,
//     `xchunked`), or chunked twice: 400 (body length undeterminable, §6.3 rule 4);
//     a final chunked after other codings (`gzip, chunked`): 501, we implement no other
//     transfer coding (§6.1); Transfer-Encoding in an HTTP/1.0 request: 400 (§6.1);
//   - more than one Content-Length field, identical or not: 400. RFC 9110 §8.6 lets a
//     recipient accept identical duplicates; llhttp does not, and neither do we (a second
//     field is a sign of a desynchronising client, never of a legitimate one);
//   - Content-Length other than 1*DIGIT (`+5`, `5, 6`, `0x5`): 400;
//   - Host: exactly one in HTTP/1.1 (RFC 9112 §3.2), at most one in HTTP/1.0, a valid
//     host[:port], not empty; with an absolute-form or authority-form target it must name
//     the same authority as the target (RFC 9112 §3.2.2 lets the target win; we refuse the
//     disagreement instead, so no two hops can route on different names);
//   - CONNECT: authority-form target with a port, no body framing.

#include <llhttp.h>

#include <vector>

#include "core/http/http1/engine.h"
#include "core/http/http1/parser.h"

namespace weft::http::http1 {
namespace {

// Checks Transfer-Encoding per the rules above; *chunked when the body is chunked.
int CheckTransferEncoding(const std::vector<std::string_view>& values, bool* chunked,
                          std::string_view* reason) {
  std::vector<std::string_view> codings;
  for (std::string_view value : values) {
    while (true) {
      size_t comma = value.find(',');
      std::string_view item = TrimOws(value.substr(0, comma));
      if (item.empty()) {
        *reason = "empty element in Transfer-Encoding";
        return 400;
      }
      codings.push_back(item);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  size_t chunked_count = 0;
  for (std::string_view c : codings) {
    if (EqualsIgnoreCase(c, "chunked")) ++chunked_count;
  }
  if (codings.empty() || !EqualsIgnoreCase(codings.back(), "chunked")) {
    *reason = "Transfer-Encoding whose final coding is not chunked";
    return 400;
  }
  if (chunked_count > 1) {
    *reason = "chunked applied more than once";
    return 400;
  }
  for (size_t i = 0; i + 1 < codings.size(); ++i) {
    std::string_view name = codings[i].substr(0, codings[i].find(';'));
    if (!IsToken(TrimOws(name))) {
      *reason = "invalid transfer coding";
      return 400;
    }
  }
  if (codings.size() > 1) {
    *reason = "transfer coding other than chunked";
    return 501;
  }
  *chunked = true;
  return 0;
}

class RequestEngine final : public detail::Engine {
 public:
  RequestEngine(RequestParser::Callbacks callbacks, const Limits& limits)
      : Engine(/*request=*/true, limits), cb_(std::move(callbacks)) {}

 protected:
  int HeadComplete(std::string_view start_line, HeaderMap&& fields) override {
    RequestLine rl;
    if (auto err = ParseRequestLine(start_line, &rl)) return Fail(err->status, err->reason);
    const char* llhttp_name = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_method()));
    if (rl.method != llhttp_name) return Fail(400, "llhttp and the head disagree on the method");

    TargetForm form = TargetForm::kOrigin;
    std::string_view target_authority;
    if (auto err = CheckTarget(rl.method, rl.target, &form, &target_authority)) {
      return Fail(err->status, err->reason);
    }
    if (form == TargetForm::kAuthority) target_authority = rl.target;

    // Host.
    std::vector<std::string_view> hosts = fields.GetAll("host");
    if (hosts.size() > 1) return Fail(400, "several Host fields");
    if (hosts.empty() && rl.version == Version::kHttp11) {
      return Fail(400, "HTTP/1.1 request without Host");
    }
    std::string authority;
    if (!hosts.empty()) {
      if (hosts[0].empty()) return Fail(400, "empty Host");
      if (!IsValidAuthority(hosts[0], /*require_port=*/false)) return Fail(400, "invalid Host");
      if (!target_authority.empty() && !EqualsIgnoreCase(hosts[0], target_authority)) {
        return Fail(400, "Host differs from the authority of the request-target");
      }
      authority = std::string(hosts[0]);
    } else {
      authority = std::string(target_authority);
    }

    // Body framing.
    std::vector<std::string_view> te = fields.GetAll("transfer-encoding");
    std::vector<std::string_view> cl = fields.GetAll("content-length");
    BodyFraming framing;
    if (!te.empty()) {
      if (rl.version == Version::kHttp10) {
        return Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      }
      if (!cl.empty()) return Fail(400, "Content-Length with Transfer-Encoding");
      bool chunked = false;
      std::string_view reason;
      if (int status = CheckTransferEncoding(te, &chunked, &reason); status != 0) {
        return Fail(status, reason);
      }
      framing = BodyFraming::Chunked();
    } else if (!cl.empty()) {
      if (cl.size() > 1) return Fail(400, "several Content-Length fields");
      std::optional<uint64_t> n = ParseContentLength(cl[0]);
      if (!n) return Fail(400, "invalid Content-Length");
      if (limits_.max_body_bytes != 0 && *n > limits_.max_body_bytes) {
        return Fail(413, "Content-Length larger than the limit");
      }
      framing = BodyFraming::ContentLength(*n);
    }
    if (!LlhttpFramingIs(framing)) {
      return Fail(400, "llhttp and the head disagree on the body framing");
    }

    const bool connect = rl.method == "CONNECT";
    if (connect && framing.kind != BodyFraming::Kind::kNone) {
      return Fail(400, "CONNECT with a body");
    }
    const bool upgrade =
        !connect && fields.Has("upgrade") && HasListToken(fields, "connection", "upgrade");
    if ((upgrade || connect) != llhttp_upgrade()) {
      return Fail(400, "llhttp and the head disagree on the upgrade");
    }
    const bool close = HasListToken(fields, "connection", "close");

    info_.framing = framing;
    info_.keep_alive = rl.version == Version::kHttp11
                           ? !close
                           : !close && HasListToken(fields, "connection", "keep-alive");
    info_.expect_continue =
        rl.version == Version::kHttp11 && HasListToken(fields, "expect", "100-continue");
    info_.upgrade = upgrade;
    info_.connect = connect;
    info_.target_form = form;

    fields.Remove("host");
    RequestHead head;
    head.method = std::string(rl.method);
    head.scheme = "http";
    head.authority = std::move(authority);
    head.path = std::string(rl.target);
    head.headers = std::move(fields);
    head.version = rl.version;
    if (cb_.on_head) cb_.on_head(std::move(head), info_);
    return kBody;
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

 private:
  RequestParser::Callbacks cb_;
};

}  // namespace

RequestParser::RequestParser(Callbacks callbacks, Limits limits)
    : engine_(std::make_unique<RequestEngine>(std::move(callbacks), limits)) {}
RequestParser::~RequestParser() = default;
ParseResult RequestParser::Feed(std::string_view bytes) {
  return engine_->Feed(bytes);
}
ParseResult RequestParser::Finish() {
  return engine_->Finish();
}
void RequestParser::Pause() {
  engine_->Pause();
}
void RequestParser::Resume() {
  engine_->Resume();
}
bool RequestParser::paused() const {
  return engine_->paused();
}
const MessageInfo& RequestParser::message() const {
  return engine_->message();
}

}  // namespace weft::http::http1
