#pragma once

// The byte transport under an HTTP/2 session: TLS 1.3 over a TCP socket (OpenSSL on memory
// BIOs, driven by Asio, on an SSL_CTX configured by core/identity), plain TCP (tests,
// same-node), or any byte stream (hbone::ByteStreamTransport: h2c inside an HBONE tunnel, as
// the waypoint speaks it).
//
// Why not asio::ssl::stream: it moves at most one TLS record (16 KiB) per socket read or
// write, so a bulk transfer costs a system call and a trip through the reactor per record.
// Here a write encrypts the whole buffer (several records) and sends it in one socket write,
// and a read takes up to 256 KiB from the socket and decrypts every record it holds into the
// caller's buffer. Same contract otherwise: errors in asio::error::get_ssl_category() (the
// OpenSSL error), asio::ssl::error::stream_truncated for a TCP end without close_notify.
//
//   SSL_CTX* ctx = ...;  // ConfigureMutualTls + SetIdentity, as docs/security.md says
//   auto asio_ctx = h2::WrapSslCtx(ctx);  // shares the SSL_CTX (reference counted)
//   auto t = std::make_unique<h2::TlsTransport>(std::move(socket), *asio_ctx);
//   identity::ExpectPeer(t->ssl(), {...});  // outbound
//   t->AsyncHandshake(h2::TlsTransport::kClient, timeout, [](error_code e) { ... });
//
// Single-threaded: every call on the socket's executor.

#include <openssl/ssl.h>

#include <utility>  // before Boost.Asio 1.74 (awaitable.hpp uses std::exchange)

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

namespace weft::h2 {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

using IoHandler = std::function<void(error_code, size_t)>;

// What an HTTP/2 session reads from and writes to.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual asio::any_io_executor executor() = 0;
  // Some bytes (at least one) or an error; asio::error::eof at the end.
  virtual void AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) = 0;
  // All of `buf` or an error. One write at a time.
  virtual void AsyncWrite(asio::const_buffer buf, IoHandler handler) = 0;
  // Closes the TCP socket (no TLS close_notify: HTTP/2 GOAWAY says goodbye). Pending
  // operations complete with operation_aborted.
  virtual void Close() = 0;
  // The TLS connection, or nullptr for plain TCP.
  virtual SSL* ssl() { return nullptr; }
};

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(tcp::socket s) : socket_(std::move(s)) {}
  asio::any_io_executor executor() override { return socket_.get_executor(); }
  void AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) override;
  void AsyncWrite(asio::const_buffer buf, IoHandler handler) override;
  void Close() override;
  tcp::socket& socket() { return socket_; }

 private:
  tcp::socket socket_;
};

class TlsTransport final : public Transport {
 public:
  enum Side { kClient, kServer };
  // The SSL object is created from `ctx` now; `ctx` need not outlive the transport (the SSL
  // holds a reference to the SSL_CTX).
  TlsTransport(tcp::socket s, asio::ssl::context& ctx);
  // Closes the socket. Operations still pending complete with operation_aborted (their
  // state outlives the transport until they do).
  ~TlsTransport() override;

  // Sets ALPN "h2" on a client connection (call before AsyncHandshake; ztunnel offers h2).
  void OfferH2();
  // Runs the TLS handshake, closing the socket when `timeout` passes first (the handler then
  // gets asio::error::timed_out).
  void AsyncHandshake(Side side, std::chrono::milliseconds timeout,
                      std::function<void(error_code)> handler);

  asio::any_io_executor executor() override;
  void AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) override;
  void AsyncWrite(asio::const_buffer buf, IoHandler handler) override;
  void Close() override;
  tcp::socket& socket();
  SSL* ssl() override;
  // The negotiated ALPN protocol ("" when none).
  std::string_view alpn() const;

  class Engine;  // the state socket operations keep alive (tls_transport.cc)

 private:
  std::shared_ptr<Engine> engine_;
};

// An asio::ssl::context sharing `ctx` (up-referenced; the caller keeps its own reference).
std::shared_ptr<asio::ssl::context> WrapSslCtx(SSL_CTX* ctx);

// Server side ALPN: selects "h2" when the client offers it; a client that offers only other
// protocols is refused (no_application_protocol); a client that offers none is accepted.
void SelectH2Alpn(SSL_CTX* ctx);

}  // namespace weft::h2
