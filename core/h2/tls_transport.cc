#include "core/h2/tls_transport.h"

#include <openssl/err.h>

#include <cstring>
#include <vector>

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

// ---------------------------------------------------------------------------------------------
// TlsTransport: OpenSSL on a BIO of our own (NetBio below). The network side is ours: OpenSSL
// reads ciphertext straight from the socket read buffer and appends what it writes to the
// next socket write (no memory BIO in between: that would zero-fill and copy every byte once
// more). One socket read and one socket write at most in flight; one handshake, one read and
// one write operation pending at most, all on the socket's executor.

namespace {

// Ciphertext taken from the socket per read: the buffer starts small (most connections carry
// little) and doubles each time a read fills it, up to many records per system call.
constexpr size_t kNetReadMin = 16 * 1024;
constexpr size_t kNetReadMax = 256 * 1024;

// Empties this thread's OpenSSL error queue before an SSL call (SSL_get_error needs it
// empty). ERR_clear_error walks all 16 slots of the queue on every call, ~800 instructions,
// once per record read; the queue is almost always empty already, which a peek sees at once.
void ClearSslErrors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

// The BIO method: read from Engine::net_in_[in_pos_, in_end_), write by appending to
// Engine::out_next_. Its data pointer is the Engine.
int NetBioRead(BIO* b, char* out, int len);
int NetBioWrite(BIO* b, const char* in, int len);
long NetBioCtrl(BIO* b, int cmd, long num, void* ptr);
int NetBioCreate(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* NetBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weft-net");
    BIO_meth_set_write(m, NetBioWrite);
    BIO_meth_set_read(m, NetBioRead);
    BIO_meth_set_ctrl(m, NetBioCtrl);
    BIO_meth_set_create(m, NetBioCreate);
    return m;
  }();
  return method;
}

error_code SslError(unsigned long err) {
  if (err == 0) return make_error_code(boost::system::errc::protocol_error);
  return error_code(static_cast<int>(err), asio::error::get_ssl_category());
}

}  // namespace

class TlsTransport::Engine : public std::enable_shared_from_this<Engine> {
 public:
  Engine(tcp::socket s, SSL_CTX* ctx) : socket_(std::move(s)), ssl_(SSL_new(ctx)) {
    if (ssl_ == nullptr) return;
    BIO* bio = BIO_new(NetBioMethod());
    if (bio == nullptr) {
      SSL_free(ssl_);
      ssl_ = nullptr;
      return;
    }
    BIO_set_data(bio, this);
    BIO_up_ref(bio);
    SSL_set_bio(ssl_, bio, bio);  // the SSL owns both references
  }
  ~Engine() { SSL_free(ssl_); }

  tcp::socket socket_;
  SSL* ssl_ = nullptr;

  void Handshake(Side side, std::chrono::milliseconds timeout,
                 std::function<void(error_code)> handler) {
    if (ssl_ == nullptr || closed_) {
      return Post([h = std::move(handler)] { h(asio::error::operation_aborted); });
    }
    side == kClient ? SSL_set_connect_state(ssl_) : SSL_set_accept_state(ssl_);
    handshake_handler_ = std::move(handler);
    timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor(), timeout);
    timer_->async_wait([self = shared_from_this()](error_code e) {
      if (e || !self->handshake_handler_) return;
      self->timed_out_ = true;
      self->Close();
    });
    Drive();
  }

  void ReadSome(asio::mutable_buffer buf, IoHandler handler) {
    if (read_handler_) {
      return Post([h = std::move(handler)] { h(asio::error::in_progress, 0); });
    }
    read_buf_ = buf;
    read_handler_ = std::move(handler);
    Drive();
  }

  void Write(asio::const_buffer buf, IoHandler handler) {
    if (write_handler_) {
      return Post([h = std::move(handler)] { h(asio::error::in_progress, 0); });
    }
    if (closed_ || write_error_) {
      error_code e = write_error_ ? write_error_ : asio::error::operation_aborted;
      return Post([h = std::move(handler), e] { h(e, 0); });
    }
    if (buf.size() == 0) {
      return Post([h = std::move(handler)] { h({}, 0); });
    }
    // NetBio takes everything: the whole buffer becomes records now, sent by Flush.
    ClearSslErrors();
    size_t written = 0;
    int rv = SSL_write_ex(ssl_, buf.data(), buf.size(), &written);
    if (rv != 1 || written != buf.size()) {
      error_code e = SslError(ERR_get_error());
      return Post([h = std::move(handler), e] { h(e, 0); });
    }
    write_handler_ = std::move(handler);
    write_size_ = buf.size();
    Flush();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    socket_.close(ignored);
    if (timer_) timer_->cancel();
    // Socket operations in flight complete with operation_aborted and fail what waits on
    // them; what waits on nothing in flight fails now.
    if (!net_reading_) Drive();
    if (!net_writing_ && write_handler_) CompleteWrite(asio::error::operation_aborted);
  }

 private:
  template <typename F>
  void Post(F&& f) {
    asio::post(socket_.get_executor(), std::forward<F>(f));
  }

  // Runs whatever waits on TLS state: the handshake, then a read. Called again after every
  // socket read.
  void Drive() {
    if (handshake_handler_) {
      ClearSslErrors();
      int rv = SSL_do_handshake(ssl_);
      Flush();  // our flight (ClientHello, the server's reply, the client's Finished)
      if (rv == 1) return CompleteHandshake({});
      int err = SSL_get_error(ssl_, rv);
      if (err != SSL_ERROR_WANT_READ || closed_ || net_error_) {
        return CompleteHandshake(HandshakeError(err));
      }
      return ReadNet();
    }
    if (!read_handler_) return;
    if (read_buf_.size() == 0) return CompleteRead({}, 0);
    // Every record already here, up to the caller's buffer, in one completion.
    auto* out = static_cast<uint8_t*>(read_buf_.data());
    size_t got = 0;
    int err = SSL_ERROR_NONE;
    while (got < read_buf_.size()) {
      ClearSslErrors();
      size_t n = 0;
      if (SSL_read_ex(ssl_, out + got, read_buf_.size() - got, &n) == 1) {
        got += n;
        continue;
      }
      err = SSL_get_error(ssl_, 0);
      break;
    }
    Flush();  // post-handshake messages OpenSSL may answer (KeyUpdate)
    if (got > 0) return CompleteRead({}, got);
    if (err == SSL_ERROR_ZERO_RETURN) return CompleteRead(asio::error::eof, 0);
    if (err == SSL_ERROR_WANT_READ) {
      if (closed_) return CompleteRead(asio::error::operation_aborted, 0);
      if (net_error_ == asio::error::eof) {
        return CompleteRead(asio::ssl::error::stream_truncated, 0);
      }
      if (net_error_) return CompleteRead(net_error_, 0);
      return ReadNet();
    }
    CompleteRead(SslError(ERR_get_error()), 0);
  }

  error_code HandshakeError(int err) {
    if (timed_out_) return asio::error::timed_out;
    if (closed_) return asio::error::operation_aborted;
    if (err == SSL_ERROR_WANT_READ && net_error_) {
      return net_error_ == asio::error::eof ? asio::ssl::error::stream_truncated : net_error_;
    }
    return SslError(ERR_get_error());
  }

  void ReadNet() {
    if (net_reading_ || closed_) return;
    // OpenSSL asks for more only once it took everything (it keeps partial records itself).
    if (in_pos_ < in_end_) return Drive();
    net_reading_ = true;
    if (net_in_.empty()) net_in_.resize(kNetReadMin);
    in_pos_ = in_end_ = 0;
    socket_.async_read_some(asio::buffer(net_in_),
                            [self = shared_from_this()](error_code e, size_t n) {
                              self->net_reading_ = false;
                              self->in_end_ = n;
                              if (n == self->net_in_.size() && n < kNetReadMax) {
                                // Grown for the next read; the bytes read stay where they are.
                                self->net_in_.resize(2 * n);
                              }
                              if (e) self->net_error_ = e;
                              self->Drive();
                            });
  }

  // Sends what OpenSSL wrote; completes the pending write once all of it is on the socket.
  void Flush() {
    if (net_writing_) return;  // its completion comes back here
    if (out_next_.empty() || closed_ || write_error_) {
      if (write_handler_)
        CompleteWrite(closed_ ? error_code(asio::error::operation_aborted) : write_error_);
      return;
    }
    out_sending_.swap(out_next_);  // both keep their capacity
    out_next_.clear();
    net_writing_ = true;
    asio::async_write(socket_, asio::buffer(out_sending_),
                      [self = shared_from_this()](error_code e, size_t) {
                        self->net_writing_ = false;
                        if (e) self->write_error_ = e;
                        self->Flush();
                      });
  }

  void CompleteHandshake(error_code e) {
    if (timer_) timer_->cancel();
    auto h = std::move(handshake_handler_);
    handshake_handler_ = nullptr;
    Post([h = std::move(h), e] { h(e); });
    if (!e && read_handler_) Drive();
  }

  void CompleteRead(error_code e, size_t n) {
    auto h = std::move(read_handler_);
    read_handler_ = nullptr;
    Post([h = std::move(h), e, n] { h(e, n); });
  }

  void CompleteWrite(error_code e) {
    auto h = std::move(write_handler_);
    write_handler_ = nullptr;
    size_t n = e ? 0 : write_size_;
    Post([h = std::move(h), e, n] { h(e, n); });
  }

  std::string out_sending_;  // the socket write in flight

 public:
  // What NetBio reads and writes.
  std::vector<uint8_t> net_in_;  // ciphertext read; OpenSSL has taken [0, in_pos_)
  size_t in_pos_ = 0;
  size_t in_end_ = 0;
  std::string out_next_;  // ciphertext OpenSSL wrote, for the next socket write
  bool net_reading_ = false;
  bool net_writing_ = false;
  error_code net_error_;    // the socket's read side ended (eof) or failed: sticky
  error_code write_error_;  // the socket's write side failed: sticky
  bool closed_ = false;
  bool timed_out_ = false;
  std::unique_ptr<asio::steady_timer> timer_;
  std::function<void(error_code)> handshake_handler_;
  asio::mutable_buffer read_buf_;
  IoHandler read_handler_;
  IoHandler write_handler_;
  size_t write_size_ = 0;
};

namespace {

int NetBioRead(BIO* b, char* out, int len) {
  BIO_clear_retry_flags(b);
  auto* e = static_cast<TlsTransport::Engine*>(BIO_get_data(b));
  size_t avail = e->in_end_ - e->in_pos_;
  if (avail == 0) {
    BIO_set_retry_read(b);  // SSL_ERROR_WANT_READ
    return -1;
  }
  size_t n = std::min(avail, static_cast<size_t>(len));
  std::memcpy(out, e->net_in_.data() + e->in_pos_, n);
  e->in_pos_ += n;
  return static_cast<int>(n);
}

int NetBioWrite(BIO* b, const char* in, int len) {
  BIO_clear_retry_flags(b);
  auto* e = static_cast<TlsTransport::Engine*>(BIO_get_data(b));
  e->out_next_.append(in, static_cast<size_t>(len));
  return len;
}

long NetBioCtrl(BIO*, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // written at the next Flush()
    default:
      return 0;
  }
}

}  // namespace

TlsTransport::TlsTransport(tcp::socket s, asio::ssl::context& ctx)
    : engine_(std::make_shared<Engine>(std::move(s), ctx.native_handle())) {}

TlsTransport::~TlsTransport() {
  engine_->Close();
}

asio::any_io_executor TlsTransport::executor() {
  return engine_->socket_.get_executor();
}

tcp::socket& TlsTransport::socket() {
  return engine_->socket_;
}

SSL* TlsTransport::ssl() {
  return engine_->ssl_;
}

void TlsTransport::OfferH2() {
  static const unsigned char kProtos[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl(), kProtos, sizeof(kProtos));
}

void TlsTransport::AsyncHandshake(Side side, std::chrono::milliseconds timeout,
                                  std::function<void(error_code)> handler) {
  engine_->Handshake(side, timeout, std::move(handler));
}

void TlsTransport::AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) {
  engine_->ReadSome(buf, std::move(handler));
}

void TlsTransport::AsyncWrite(asio::const_buffer buf, IoHandler handler) {
  engine_->Write(buf, std::move(handler));
}

void TlsTransport::Close() {
  engine_->Close();
}

std::string_view TlsTransport::alpn() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(engine_->ssl_, &p, &len);
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
