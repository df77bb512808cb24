#include "tests/core/hbone/testing.h"

namespace weft::hbone::testing {

std::shared_ptr<asio::ssl::context> MakeTls(std::shared_ptr<const identity::TrustBundle> bundle,
                                            const identity::testing::Svid* svid) {
  identity::ossl::SslCtx ctx(SSL_CTX_new(TLS_method()));
  EXPECT_TRUE(identity::ConfigureMutualTls(ctx.get(), std::move(bundle)).ok());
  if (svid != nullptr) {
    EXPECT_TRUE(identity::SetIdentity(ctx.get(), svid->cert, svid->key).ok());
  }
  return h2::WrapSslCtx(ctx.get());
}

bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.run_one_for(10ms);
    if (io.stopped()) io.restart();
  }
  return true;
}

void RunFor(asio::io_context& io, std::chrono::milliseconds d) {
  auto deadline = std::chrono::steady_clock::now() + d;
  RunUntil(
      io, [&] { return std::chrono::steady_clock::now() >= deadline; }, d + 1s);
}

struct App::Conn : std::enable_shared_from_this<Conn> {
  explicit Conn(tcp::socket s) : socket(std::move(s)), buf(64 * 1024) {}
  tcp::socket socket;
  std::vector<char> buf;
  uint64_t n = 0;
  std::string got;
};

App::App(asio::io_context& io, Mode mode)
    : io_(io), mode_(mode), acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  Accept();
}

void App::Accept() {
  acceptor_.async_accept([this](error_code e, tcp::socket s) {
    if (e) return;
    ++accepted_;
    auto c = std::make_shared<Conn>(std::move(s));
    if (mode_ == kGreeter) {
      asio::async_write(c->socket, asio::buffer("hello", 5), [this, c](error_code, size_t) {
        error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_send, ignored);
        Read(c);
      });
    } else if (mode_ == kSink && !reading_) {
      sinks_.push_back(c);
    } else {
      Read(c);
    }
    Accept();
  });
}

void App::StartReading() {
  reading_ = true;
  for (auto& c : sinks_) Read(c);
  sinks_.clear();
}

void App::Read(std::shared_ptr<Conn> c) {
  c->socket.async_read_some(asio::buffer(c->buf), [this, c](error_code e, size_t n) {
    if (e) {
      ++ends_;
      if (e == asio::error::eof) ++eofs_;
      error_code ignored;
      if (mode_ == kEcho) {
        c->socket.shutdown(tcp::socket::shutdown_send, ignored);
      } else if (mode_ == kReplyAtEof && e == asio::error::eof) {
        auto msg = std::make_shared<std::string>("got:" + std::to_string(c->n));
        asio::async_write(c->socket, asio::buffer(*msg), [c, msg](error_code, size_t) {
          error_code ignored;
          c->socket.close(ignored);
        });
        return;
      } else if (mode_ == kGreeter) {
        received_ += c->got;
        c->socket.close(ignored);
      }
      return;
    }
    c->n += n;
    bytes_ += n;
    if (mode_ == kGreeter) c->got.append(c->buf.data(), n);
    if (mode_ == kEcho) {
      asio::async_write(c->socket, asio::buffer(c->buf.data(), n),
                        [this, c](error_code we, size_t) {
                          if (!we) Read(c);
                        });
      return;
    }
    Read(c);
  });
}

namespace {

struct Reader : std::enable_shared_from_this<Reader> {
  std::shared_ptr<ByteStream> s;
  std::string* out;
  bool* done;
  error_code* error;
  std::vector<char> buf = std::vector<char>(64 * 1024);
  void Next() {
    auto self = shared_from_this();
    s->AsyncReadSome(asio::buffer(buf), [self](error_code e, size_t n) {
      if (e) {
        if (self->error != nullptr && e != asio::error::eof) *self->error = e;
        *self->done = true;
        return;
      }
      self->out->append(self->buf.data(), n);
      self->Next();
    });
  }
};

}  // namespace

void ReadAll(std::shared_ptr<ByteStream> s, std::string* out, bool* done, error_code* error) {
  auto r = std::make_shared<Reader>();
  r->s = std::move(s);
  r->out = out;
  r->done = done;
  r->error = error;
  r->Next();
}

void WriteAll(std::shared_ptr<ByteStream> s, std::shared_ptr<std::string> data, bool shutdown,
              bool* done, error_code* error) {
  s->AsyncWrite(asio::buffer(*data), [s, data, shutdown, done, error](error_code e, size_t) {
    if (e && error != nullptr) *error = e;
    if (!e && shutdown) s->ShutdownSend();
    *done = true;
  });
}

void ConnectTcp(asio::io_context& io, uint16_t port,
                std::function<void(std::shared_ptr<ByteStream>)> done) {
  auto sock = std::make_shared<tcp::socket>(io);
  sock->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                      [sock, done](error_code e) {
                        if (e) return done(nullptr);
                        done(std::make_shared<TcpByteStream>(std::move(*sock)));
                      });
}

}  // namespace weft::hbone::testing
