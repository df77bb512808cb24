#include "core/hbone/stream_transport.h"

#include <algorithm>
#include <cstring>

namespace weft::hbone {

void ByteStreamTransport::AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) {
  if (closed_) {
    asio::post(stream_->executor(),
               [h = std::move(handler)] { h(asio::error::operation_aborted, 0); });
    return;
  }
  if (prefix_pos_ < prefix_.size()) {
    size_t n = std::min(buf.size(), prefix_.size() - prefix_pos_);
    std::memcpy(buf.data(), prefix_.data() + prefix_pos_, n);
    prefix_pos_ += n;
    if (prefix_pos_ == prefix_.size()) {
      prefix_.clear();
      prefix_pos_ = 0;
    }
    asio::post(stream_->executor(), [h = std::move(handler), n] { h({}, n); });
    return;
  }
  stream_->AsyncReadSome(buf, std::move(handler));
}

void ByteStreamTransport::AsyncWrite(asio::const_buffer buf, IoHandler handler) {
  if (closed_) {
    asio::post(stream_->executor(),
               [h = std::move(handler)] { h(asio::error::operation_aborted, 0); });
    return;
  }
  stream_->AsyncWrite(buf, std::move(handler));
}

void ByteStreamTransport::Close() {
  if (closed_) return;
  closed_ = true;
  stream_->Close();
}

}  // namespace weft::hbone
