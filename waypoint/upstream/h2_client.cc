#include "waypoint/upstream/h2_client.h"

#include "waypoint/http/h2_server.h"

namespace weft::waypoint {

namespace asio = boost::asio;

H2UpstreamRequest::H2UpstreamRequest(std::shared_ptr<h2::Session> session, size_t read_chunk)
    : session_(std::move(session)), buf_(read_chunk) {}

H2UpstreamRequest::~H2UpstreamRequest() {
  Release();
}

void H2UpstreamRequest::SendHead(const http::RequestHead& head, bool end_stream) {
  std::weak_ptr<H2UpstreamRequest> weak = weak_from_this();
  H2HeaderBlock block(head);
  stream_ = session_->SubmitRequestRefs(block.refs(), end_stream,
                                        [weak](error_code e, std::shared_ptr<h2::Stream> st) {
                                          if (auto self = weak.lock()) self->OnResponse(e, st);
                                        });
  if (!stream_) {
    // The session stopped taking streams (GOAWAY, closed) between the pick and now.
    reason_ = ResetReason::kRemoteReset;
    response_error_ = asio::error::connection_reset;
    have_response_ = true;
    Deliver();
  }
}

void H2UpstreamRequest::OnResponse(error_code e, std::shared_ptr<h2::Stream> st) {
  have_response_ = true;
  if (e) {
    response_error_ = e;
    reason_ = st && st->close_error_code() == NGHTTP2_REFUSED_STREAM
                  ? ResetReason::kRemoteRefusedReset
                  : ResetReason::kRemoteReset;
  } else {
    response_.status = st->status();
    response_.version = http::Version::kHttp2;
    response_.headers = FromH2(st->TakeHeaders());
  }
  Deliver();
}

void H2UpstreamRequest::Deliver() {
  if (!head_handler_ || !have_response_) return;
  auto h = std::move(head_handler_);
  head_handler_ = nullptr;
  h(response_error_, response_error_ ? nullptr : &response_);
}

void H2UpstreamRequest::ReadHead(std::function<void(error_code, http::ResponseHead*)> handler) {
  head_handler_ = std::move(handler);
  if (have_response_) {
    auto self = shared_from_this();
    asio::post(session_->executor(), [self] { self->Deliver(); });
  }
}

bool H2UpstreamRequest::response_has_body() const {
  return stream_ && !(stream_->recv_eof() && stream_->buffered() == 0);
}

void H2UpstreamRequest::WriteBody(std::string_view data, DoneHandler handler) {
  if (!stream_) {
    asio::post(session_->executor(), [h = std::move(handler)] { h(asio::error::broken_pipe); });
    return;
  }
  stream_->AsyncWrite(asio::buffer(data.data(), data.size()),
                      [handler = std::move(handler)](error_code e, size_t) { handler(e); });
}

void H2UpstreamRequest::Finish(const http::HeaderMap& trailers) {
  if (!stream_) return;
  if (trailers.empty()) {
    stream_->ShutdownSend();
    return;
  }
  h2::Headers t;
  for (const auto& f : trailers) t.push_back({f.name, f.value});
  stream_->ShutdownSendWithTrailers(std::move(t));
}

void H2UpstreamRequest::ReadBody(BodyHandler handler) {
  if (!stream_) {
    asio::post(session_->executor(), [h = std::move(handler)] {
      h(asio::error::connection_reset, std::string_view(), false);
    });
    return;
  }
  auto self = shared_from_this();
  stream_->AsyncReadSome(buf_.Next(), [self, handler = std::move(handler)](error_code e, size_t n) {
    if (e == asio::error::eof) {
      self->trailers_ = FromH2(self->stream_->trailers());
      handler({}, std::string_view(), true);
    } else if (e) {
      self->reason_ = self->stream_->close_error_code() == NGHTTP2_REFUSED_STREAM
                          ? ResetReason::kRemoteRefusedReset
                          : ResetReason::kRemoteReset;
      handler(e, std::string_view(), false);
    } else {
      handler({}, self->buf_.Filled(n), false);
    }
  });
}

bool H2UpstreamRequest::TryReadBody(std::string_view* data, bool* end) {
  if (!stream_ || !have_response_ || response_error_) return false;
  if (!stream_->TryRead(&taken_, BodyReadBuffer::kInitial, end)) return false;
  if (*end) trailers_ = FromH2(stream_->trailers());
  *data = taken_;
  return true;
}

void H2UpstreamRequest::Release() {
  if (released_) return;
  released_ = true;
  // A stream that is not done both ways is cancelled; a finished one is already closed.
  if (stream_ && !stream_->closed() && !(stream_->send_shut() && stream_->recv_eof())) {
    stream_->Reset(NGHTTP2_CANCEL);
  }
}

}  // namespace weft::waypoint
