#include "waypoint/http/connection.h"

#include <boost/asio/steady_timer.hpp>

namespace weft::waypoint {

namespace asio = boost::asio;

DetectedProtocol DetectProtocol(std::string_view prefix) {
  size_t n = std::min(prefix.size(), kH2Preface.size());
  if (prefix.substr(0, n) != kH2Preface.substr(0, n)) return DetectedProtocol::kHttp1;
  return n == kH2Preface.size() ? DetectedProtocol::kHttp2 : DetectedProtocol::kUnknown;
}

namespace {

struct Detector : std::enable_shared_from_this<Detector> {
  std::shared_ptr<hbone::ByteStream> stream;
  HttpConnectionSettings settings;
  RequestHandler handler;
  std::function<void(DetectedProtocol)> on_detected;
  std::function<void()> on_close;
  std::string prefix;
  std::string buf = std::string(4096, '\0');
  std::unique_ptr<asio::steady_timer> timer;
  bool done = false;

  void Start() {
    timer = std::make_unique<asio::steady_timer>(stream->executor(), settings.detect_timeout);
    auto self = shared_from_this();
    timer->async_wait([self](boost::system::error_code e) {
      if (!e && !self->done) {
        self->done = true;
        self->stream->Close();
        if (self->on_close) self->on_close();
      }
    });
    Read();
  }

  void Read() {
    auto self = shared_from_this();
    stream->AsyncReadSome(asio::buffer(buf), [self](boost::system::error_code e, size_t n) {
      if (self->done) return;
      if (e) {
        self->done = true;
        self->timer->cancel();
        self->stream->Close();
        if (self->on_close) self->on_close();
        return;
      }
      self->prefix.append(self->buf.data(), n);
      DetectedProtocol p = DetectProtocol(self->prefix);
      if (p == DetectedProtocol::kUnknown) return self->Read();
      self->done = true;
      self->timer->cancel();
      if (self->on_detected) self->on_detected(p);
      if (p == DetectedProtocol::kHttp2) {
        ServeH2(self->stream, std::move(self->prefix), self->settings.h2, self->handler,
                self->on_close);
      } else {
        auto conn = H1ServerConnection::Create(self->stream, std::move(self->prefix),
                                               self->settings.h1, self->handler, self->on_close);
        conn->Start();
      }
    });
  }
};

}  // namespace

void ServeHttp(std::shared_ptr<hbone::ByteStream> stream, HttpConnectionSettings settings,
               RequestHandler handler, std::function<void(DetectedProtocol)> on_detected,
               std::function<void()> on_close) {
  auto d = std::make_shared<Detector>();
  d->stream = std::move(stream);
  d->settings = settings;
  d->handler = std::move(handler);
  d->on_detected = std::move(on_detected);
  d->on_close = std::move(on_close);
  d->Start();
}

}  // namespace weft::waypoint
