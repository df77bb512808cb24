#pragma once

// An HTTP/2 transport over any ByteStream: h2c (HTTP/2 with prior knowledge, no TLS) inside an
// HBONE tunnel, as the waypoint speaks it to HTTP/2 clients and upstreams. The tunnel is
// already mutual TLS, so the inner session needs no second TLS layer.
//
//   auto t = std::make_unique<hbone::ByteStreamTransport>(tunnel, already_read_bytes);
//   auto session = h2::Session::Create(h2::Session::kServer, std::move(t), settings, cbs);
//
// `prefix`: bytes read from the stream before the session took it (the waypoint reads the
// first bytes to detect the HTTP/2 preface); they are returned by the first reads.

#include <memory>
#include <string>

#include "core/h2/tls_transport.h"
#include "core/hbone/byte_stream.h"

namespace weft::hbone {

class ByteStreamTransport final : public h2::Transport {
 public:
  explicit ByteStreamTransport(std::shared_ptr<ByteStream> stream, std::string prefix = {})
      : stream_(std::move(stream)), prefix_(std::move(prefix)) {}
  ~ByteStreamTransport() override { Close(); }

  asio::any_io_executor executor() override { return stream_->executor(); }
  void AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) override;
  void AsyncWrite(asio::const_buffer buf, IoHandler handler) override;
  // Closes the stream (abortively unless both directions ended).
  void Close() override;

  ByteStream& stream() { return *stream_; }

 private:
  std::shared_ptr<ByteStream> stream_;
  std::string prefix_;
  size_t prefix_pos_ = 0;
  bool closed_ = false;
};

}  // namespace weft::hbone
