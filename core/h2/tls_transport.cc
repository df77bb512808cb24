#include "core/h2/tls_transport.h"

#include <cstring>

namespace weft::h2 {

void TcpTransport::AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) {
  socket_.async_read_some(buf, std::move(handler));
}

void TcpTransport::AsyncWrite(asio::const_buffer buf, IoHandler handler) {
  asio::async_write(socket_, buf, std::move(handler));
}

void TcpTransport::Close() {
  error_code ignored;
  socket_.close(ignored);
}

TlsTransport::TlsTransport(tcp::socket s, asio::ssl::context& ctx) : stream_(std::move(s), ctx) {}

void TlsTransport::OfferH2() {
  static const unsigned char kProtos[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl(), kProtos, sizeof(kProtos));
}

void TlsTransport::AsyncHandshake(Side side, std::chrono::milliseconds timeout,
                                  std::function<void(error_code)> handler) {
  auto timer = std::make_shared<asio::steady_timer>(stream_.get_executor(), timeout);
  auto fired = std::make_shared<bool>(false);
  timer->async_wait([this, fired](error_code e) {
    if (e) return;
    *fired = true;
    error_code ignored;
    stream_.next_layer().close(ignored);
  });
  stream_.async_handshake(
      side == kClient ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
      [timer, fired, handler = std::move(handler)](error_code e) {
        timer->cancel();
        if (e && *fired) e = asio::error::timed_out;
        handler(e);
      });
}

void TlsTransport::AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) {
  stream_.async_read_some(buf, std::move(handler));
}

void TlsTransport::AsyncWrite(asio::const_buffer buf, IoHandler handler) {
  asio::async_write(stream_, buf, std::move(handler));
}

void TlsTransport::Close() {
  error_code ignored;
  stream_.next_layer().close(ignored);
}

std::string_view TlsTransport::alpn() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(const_cast<asio::ssl::stream<tcp::socket>&>(stream_).native_handle(), &p,
                         &len);
  return p == nullptr ? std::string_view()
                      : std::string_view(reinterpret_cast<const char*>(p), len);
}

std::shared_ptr<asio::ssl::context> WrapSslCtx(SSL_CTX* ctx) {
  SSL_CTX_up_ref(ctx);
  return std::make_shared<asio::ssl::context>(ctx);
}

namespace {

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  for (unsigned i = 0; i < inlen;) {
    unsigned len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == 2 && std::memcmp(in + i + 1, "h2", 2) == 0) {
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

void SelectH2Alpn(SSL_CTX* ctx) {
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
}

}  // namespace weft::h2
