#include "core/hbone/byte_stream.h"

#include <vector>

namespace weft::hbone {

void TcpByteStream::AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) {
  socket_.async_read_some(buf, std::move(handler));
}

void TcpByteStream::AsyncWrite(asio::const_buffer buf, IoHandler handler) {
  asio::async_write(socket_, buf, std::move(handler));
}

void TcpByteStream::ShutdownSend() {
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
}

void TcpByteStream::Close() {
  error_code ignored;
  socket_.close(ignored);
}

void TunnelStream::Close() {
  if (!stream_ || stream_->closed()) return;
  // Both directions ended: END_STREAM is queued or sent, nghttp2 closes the stream itself.
  if (stream_->send_shut() && stream_->recv_eof()) return;
  stream_->Reset(NGHTTP2_CANCEL);
}

namespace {

struct SpliceState : std::enable_shared_from_this<SpliceState> {
  std::shared_ptr<ByteStream> a, b;
  std::vector<char> ab, ba;
  SpliceResult result;
  int open = 2;
  bool finished = false;
  std::function<void(const SpliceResult&)> done;

  void Pump(ByteStream* from, ByteStream* to, std::vector<char>* buf, uint64_t* count) {
    auto self = shared_from_this();
    from->AsyncReadSome(asio::buffer(*buf), [self, from, to, buf, count](error_code e, size_t n) {
      if (self->finished) return;
      if (e == asio::error::eof) {
        to->ShutdownSend();
        if (--self->open == 0) self->Finish({});
        return;
      }
      if (e) return self->Finish(e);
      to->AsyncWrite(asio::buffer(buf->data(), n),
                     [self, from, to, buf, count](error_code we, size_t w) {
                       if (self->finished) return;
                       if (we) return self->Finish(we);
                       *count += w;
                       self->Pump(from, to, buf, count);
                     });
    });
  }

  void Finish(error_code e) {
    if (finished) return;
    finished = true;
    result.error = e;
    a->Close();
    b->Close();
    auto d = std::move(done);
    if (d) d(result);
  }
};

}  // namespace

void Splice(std::shared_ptr<ByteStream> a, std::shared_ptr<ByteStream> b, SpliceOptions options,
            std::function<void(const SpliceResult&)> done) {
  auto st = std::make_shared<SpliceState>();
  st->a = std::move(a);
  st->b = std::move(b);
  st->ab.resize(options.buffer_size);
  st->ba.resize(options.buffer_size);
  st->done = std::move(done);
  st->Pump(st->a.get(), st->b.get(), &st->ab, &st->result.a_to_b);
  st->Pump(st->b.get(), st->a.get(), &st->ba, &st->result.b_to_a);
}

}  // namespace weft::hbone
