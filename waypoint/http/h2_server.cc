#include "waypoint/http/h2_server.h"

#include "core/hbone/stream_transport.h"
#include "waypoint/http/hop_by_hop.h"

namespace weft::waypoint {

namespace asio = boost::asio;

H2HeaderBlock::H2HeaderBlock(const http::RequestHead& head) {
  refs_.push_back({":method", head.method});
  if (head.method != "CONNECT")
    refs_.push_back({":scheme", head.scheme.empty() ? std::string_view("http") : head.scheme});
  refs_.push_back({":authority", head.authority});
  if (head.method != "CONNECT")
    refs_.push_back({":path", head.path.empty() ? std::string_view("/") : head.path});
  AppendFields(head.headers, /*request=*/true);
}

H2HeaderBlock::H2HeaderBlock(const http::ResponseHead& head) {
  AppendFields(head.headers, /*request=*/false);
}

// The fields without hop-by-hop headers (and without host, for a request): views straight
// into the message when it has none to strip (the usual case), else into a stripped copy.
void H2HeaderBlock::AppendFields(const http::HeaderMap& fields, bool request) {
  const http::HeaderMap* from = &fields;
  if (HasHopByHop(fields)) {
    stripped_ = fields;
    StripHopByHop(stripped_, /*keep_te_trailers=*/request);
    from = &stripped_;
  }
  for (const auto& f : *from) {
    if (request && f.name == "host") continue;
    refs_.push_back({f.name, f.value});
  }
}

http::HeaderMap FromH2(const h2::Headers& headers) {
  http::HeaderMap out;
  out.mutable_fields().reserve(headers.size());
  for (const auto& h : headers) {
    if (!h.name.empty() && h.name[0] == ':') continue;
    out.AddLowercase(h.name, h.value);
  }
  return out;
}

http::HeaderMap FromH2(h2::Headers&& headers) {
  http::HeaderMap out;
  out.mutable_fields().reserve(headers.size());
  for (auto& h : headers) {
    if (!h.name.empty() && h.name[0] == ':') continue;
    out.AddLowercase(std::move(h.name), std::move(h.value));
  }
  return out;
}

H2DownstreamRequest::H2DownstreamRequest(std::shared_ptr<h2::Stream> stream, size_t read_chunk)
    : stream_(std::move(stream)), buf_(read_chunk) {
  head_.version = http::Version::kHttp2;
  // The stream's strings are taken, not copied (nghttp2 has checked the names: lowercase).
  h2::Headers headers = stream_->TakeHeaders();
  head_.headers.mutable_fields().reserve(headers.size());
  bool have_method = false, have_path = false;
  for (auto& h : headers) {
    if (h.name == ":method") {
      head_.method = std::move(h.value);
      have_method = true;
    } else if (h.name == ":scheme") {
      head_.scheme = std::move(h.value);
    } else if (h.name == ":authority") {
      head_.authority = std::move(h.value);
    } else if (h.name == ":path") {
      head_.path = std::move(h.value);
      have_path = true;
    } else if (h.name == "host") {
      if (head_.authority.empty()) head_.authority = std::move(h.value);
    } else if (!h.name.empty() && h.name[0] != ':') {
      head_.headers.AddLowercase(std::move(h.name), std::move(h.value));
    }
  }
  // nghttp2 already refuses streams whose pseudo-headers break RFC 9113 §8.3; this catches
  // what an L7 proxy needs on top (a CONNECT has no :path; everything else must have one).
  if (!have_method || (head_.method != "CONNECT" && !have_path)) valid_ = false;
  head_request_ = head_.method == "HEAD";
  // The body may have arrived whole before the request was handed on.
  has_body_ = !stream_->recv_eof() || stream_->buffered() > 0;
}

asio::any_io_executor H2DownstreamRequest::executor() {
  return stream_->session()->executor();
}

void H2DownstreamRequest::ReadBody(BodyHandler handler) {
  auto self = shared_from_this();
  stream_->AsyncReadSome(buf_.Next(), [self, handler = std::move(handler)](error_code e, size_t n) {
    if (e == asio::error::eof) {
      self->trailers_ = FromH2(self->stream_->trailers());
      handler({}, std::string_view(), true);
    } else if (e) {
      handler(e, std::string_view(), false);
    } else {
      handler({}, self->buf_.Filled(n), false);
    }
  });
}

void H2DownstreamRequest::SendHead(http::ResponseHead head, bool end_stream) {
  head_sent_ = true;
  // A response to HEAD carries no content (RFC 9110 9.3.2): its HEADERS end the stream,
  // whatever body a local reply or the upstream has (HTTP/1.1 drops it the same way).
  if (head_request_ && head.status >= 200) end_stream = true;
  if (end_stream) finished_ = true;
  H2HeaderBlock block(head);
  stream_->RespondRefs(head.status, block.refs(), end_stream);
}

void H2DownstreamRequest::WriteBody(std::string_view data, DoneHandler handler) {
  if (head_request_ && head_sent_) {
    // The body of a response to HEAD: dropped (the stream ended with the headers).
    asio::post(executor(), [h = std::move(handler)] { h({}); });
    return;
  }
  stream_->AsyncWrite(asio::buffer(data.data(), data.size()),
                      [handler = std::move(handler)](error_code e, size_t) { handler(e); });
}

void H2DownstreamRequest::Finish(http::HeaderMap trailers) {
  if (finished_) return;
  finished_ = true;
  if (trailers.empty()) {
    stream_->ShutdownSend();
    return;
  }
  h2::Headers t;
  for (const auto& f : trailers) t.push_back({f.name, f.value});
  stream_->ShutdownSendWithTrailers(std::move(t));
}

void H2DownstreamRequest::Abort() {
  finished_ = true;
  stream_->Reset(NGHTTP2_INTERNAL_ERROR);
}

std::shared_ptr<h2::Session> ServeH2(std::shared_ptr<hbone::ByteStream> stream, std::string prefix,
                                     H2ServerSettings settings, RequestHandler handler,
                                     std::function<void()> on_close) {
  h2::Session::Callbacks cbs;
  size_t chunk = settings.read_chunk;
  cbs.on_request = [handler, chunk](std::shared_ptr<h2::Stream> st) {
    handler(std::make_shared<H2DownstreamRequest>(std::move(st), chunk));
  };
  cbs.on_close = [on_close](error_code) {
    if (on_close) on_close();
  };
  auto session = h2::Session::Create(
      h2::Session::kServer,
      std::make_unique<hbone::ByteStreamTransport>(std::move(stream), std::move(prefix)),
      settings.session, std::move(cbs));
  session->Start();
  return session;
}

}  // namespace weft::waypoint
