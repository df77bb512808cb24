#pragma once

// A bidirectional byte stream with half-close, as the node proxy's copy loop needs it:
// implemented by a plain TCP socket (TcpByteStream) and by an HBONE tunnel (TunnelStream, an
// HTTP/2 CONNECT stream). Single-threaded: call on executor(); handlers run there.
//
//   read_some    some bytes; asio::error::eof after the peer's FIN / END_STREAM
//   write        all of the buffer (one write at a time)
//   shutdown_send  FIN / END_STREAM after the written bytes
//   close        done with it: graceful when both directions already ended, otherwise abortive
//                (RST_STREAM CANCEL for a tunnel, close() for TCP)
//
// Splice() relays two streams with half-close both ways; the HBONE server uses it to bridge a
// tunnel to the application's socket and the proxy can use it the same way.

#include <utility>  // before Boost.Asio 1.74 (awaitable.hpp uses std::exchange)

#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/h2/session.h"

namespace weft::hbone {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using IoHandler = std::function<void(error_code, size_t)>;

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual asio::any_io_executor executor() = 0;
  virtual void AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) = 0;
  virtual void AsyncWrite(asio::const_buffer buf, IoHandler handler) = 0;
  virtual void ShutdownSend() = 0;
  virtual void Close() = 0;
};

class TcpByteStream final : public ByteStream {
 public:
  explicit TcpByteStream(tcp::socket s) : socket_(std::move(s)) {}
  asio::any_io_executor executor() override { return socket_.get_executor(); }
  void AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) override;
  void AsyncWrite(asio::const_buffer buf, IoHandler handler) override;
  void ShutdownSend() override;
  void Close() override;
  tcp::socket& socket() { return socket_; }

 private:
  tcp::socket socket_;
};

// One HBONE tunnel: an HTTP/2 stream after a 2xx CONNECT response. Destroying it without
// Close() closes it (RST_STREAM unless both directions ended).
class TunnelStream final : public ByteStream {
 public:
  explicit TunnelStream(std::shared_ptr<h2::Stream> stream) : stream_(std::move(stream)) {}
  ~TunnelStream() override { Close(); }
  asio::any_io_executor executor() override { return stream_->session()->executor(); }
  void AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) override {
    stream_->AsyncReadSome(buf, std::move(handler));
  }
  void AsyncWrite(asio::const_buffer buf, IoHandler handler) override {
    stream_->AsyncWrite(buf, std::move(handler));
  }
  void ShutdownSend() override { stream_->ShutdownSend(); }
  void Close() override;
  h2::Stream& stream() { return *stream_; }

 private:
  std::shared_ptr<h2::Stream> stream_;
};

struct SpliceResult {
  uint64_t a_to_b = 0;  // bytes
  uint64_t b_to_a = 0;
  error_code error;  // first error other than EOF (then both were closed abortively)
};

struct SpliceOptions {
  size_t buffer_size = 64 * 1024;  // per direction
};

// Copies a -> b and b -> a until both directions reached EOF (each EOF is passed on as
// ShutdownSend) or one fails (both closed abortively), then closes both and calls `done`.
// Keeps both streams alive until then. Both must share one executor.
void Splice(std::shared_ptr<ByteStream> a, std::shared_ptr<ByteStream> b, SpliceOptions options,
            std::function<void(const SpliceResult&)> done);

}  // namespace weft::hbone
