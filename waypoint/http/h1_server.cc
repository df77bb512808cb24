#include "waypoint/http/h1_server.h"

#include <charconv>

#include "core/http/http1/serializer.h"
#include "waypoint/http/hop_by_hop.h"

namespace weft::waypoint {

namespace asio = boost::asio;
namespace http1 = http::http1;

namespace {

constexpr std::chrono::seconds kLingerTimeout{5};

std::optional<uint64_t> ParseLength(std::string_view v) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) return std::nullopt;
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// H1DownstreamRequest

H1DownstreamRequest::H1DownstreamRequest(std::shared_ptr<H1ServerConnection> conn,
                                         http::RequestHead head, const http1::MessageInfo& info)
    : conn_(std::move(conn)), head_(std::move(head)), info_(info) {
  // 100-continue is answered here (when the body is first read); the upstream never sees it.
  if (info_.expect_continue) head_.headers.Remove("expect");
}

asio::any_io_executor H1DownstreamRequest::executor() {
  return conn_->executor();
}

bool H1DownstreamRequest::has_body() const {
  return info_.framing.kind == http1::BodyFraming::Kind::kChunked ||
         (info_.framing.kind == http1::BodyFraming::Kind::kContentLength &&
          info_.framing.length > 0);
}

void H1DownstreamRequest::ReadBody(BodyHandler handler) {
  if (info_.expect_continue && !continue_sent_ && !head_sent_) {
    continue_sent_ = true;
    conn_->Write("HTTP/1.1 100 Continue\r\n\r\n", nullptr);
  }
  body_handler_ = std::move(handler);
  conn_->DeliverBody();
  if (body_handler_ && conn_->current_.get() == this) {
    conn_->parser_->Resume();
    conn_->Pump();
  }
}

void H1DownstreamRequest::SendHead(http::ResponseHead head, bool end_stream) {
  if (head_sent_ || conn_->closed_) return;
  head_sent_ = true;
  bool head_request = head_.method == "HEAD";
  bool no_body_status = head.status < 200 || head.status == 204 || head.status == 304;
  std::optional<uint64_t> length;
  if (auto cl = head.headers.Get("content-length")) length = ParseLength(*cl);
  std::string upgrade;
  if (head.status == 101) {
    if (auto u = head.headers.Get("upgrade")) upgrade = std::string(*u);
  }
  StripHopByHop(head.headers, false);
  head.headers.Remove("content-length");

  http1::BodyFraming written;  // what the head announces
  if (no_body_status) {
    response_framing_ = http1::BodyFraming::None();
    written = response_framing_;
  } else if (length) {
    written = http1::BodyFraming::ContentLength(*length);
    response_framing_ = head_request ? http1::BodyFraming::None() : written;
  } else if (end_stream) {
    written = http1::BodyFraming::ContentLength(0);
    response_framing_ = head_request ? http1::BodyFraming::None() : written;
  } else if (head_request) {
    written = http1::BodyFraming::None();
    response_framing_ = written;
  } else if (head_.version == http::Version::kHttp11) {
    written = http1::BodyFraming::Chunked();
    response_framing_ = written;
  } else {
    written = http1::BodyFraming::UntilClose();
    response_framing_ = written;
    close_after_ = true;
  }
  if (!info_.keep_alive || conn_->stop_parsing_ || conn_->peer_eof_) close_after_ = true;
  if (head.status == 101) {
    close_after_ = false;
    head.headers.Set("connection", "upgrade");
    if (!upgrade.empty()) head.headers.Set("upgrade", upgrade);
  } else if (close_after_) {
    head.headers.Set("connection", "close");
  } else if (head_.version == http::Version::kHttp10) {
    head.headers.Set("connection", "keep-alive");
  }
  head.version =
      head_.version == http::Version::kHttp10 ? http::Version::kHttp10 : http::Version::kHttp11;
  // A body follows: its first bytes usually come in this same pass (see Write).
  conn_->Write(http1::SerializeResponseHead(head, written), nullptr,
               /*defer=*/!end_stream && head.status != 101);
  if (end_stream) finished_ = true;
}

void H1DownstreamRequest::WriteBody(std::string_view data, DoneHandler handler) {
  using Kind = http1::BodyFraming::Kind;
  if (conn_->closed_) {
    asio::post(conn_->executor(), [h = std::move(handler)] { h(asio::error::broken_pipe); });
    return;
  }
  if (data.empty() || response_framing_.kind == Kind::kNone) {
    asio::post(conn_->executor(), [h = std::move(handler)] { h({}); });
    return;
  }
  std::string bytes;
  if (response_framing_.kind == Kind::kChunked) {
    bytes = http1::ChunkHeader(data.size());
    bytes.append(data);
    bytes.append("\r\n");
  } else {
    bytes.assign(data);
  }
  conn_->Write(std::move(bytes), std::move(handler));
}

void H1DownstreamRequest::Finish(http::HeaderMap trailers) {
  if (finished_ || conn_->closed_) return;
  finished_ = true;
  if (response_framing_.kind == http1::BodyFraming::Kind::kChunked) {
    conn_->Write(http1::LastChunk(trailers), nullptr);
  }
}

void H1DownstreamRequest::Abort() {
  finished_ = true;
  conn_->Close();
}

void H1DownstreamRequest::Done() {
  if (conn_->current_.get() != this) return;
  conn_->ResponseDone();
}

void H1DownstreamRequest::WhenFlushed(DoneHandler handler) {
  conn_->Write(std::string(), std::move(handler));
}

UpgradedDownstream H1DownstreamRequest::TakeUpgraded() {
  UpgradedDownstream u;
  u.stream = conn_->stream_;
  u.pending = std::move(conn_->in_);
  conn_->in_.clear();
  conn_->upgraded_ = true;
  conn_->idle_.cancel();
  return u;
}

// ---------------------------------------------------------------------------------------------
// H1ServerConnection

std::shared_ptr<H1ServerConnection> H1ServerConnection::Create(
    std::shared_ptr<hbone::ByteStream> stream, std::string prefix, H1ServerSettings settings,
    RequestHandler handler, std::function<void()> on_close) {
  return std::shared_ptr<H1ServerConnection>(new H1ServerConnection(
      std::move(stream), std::move(prefix), settings, std::move(handler), std::move(on_close)));
}

H1ServerConnection::H1ServerConnection(std::shared_ptr<hbone::ByteStream> stream,
                                       std::string prefix, H1ServerSettings settings,
                                       RequestHandler handler, std::function<void()> on_close)
    : stream_(std::move(stream)),
      settings_(settings),
      handler_(std::move(handler)),
      on_close_(std::move(on_close)),
      in_(std::move(prefix)),
      rbuf_(std::make_unique_for_overwrite<char[]>(settings.read_chunk)),
      rbuf_size_(settings.read_chunk),
      idle_(stream_->executor()) {
  http1::RequestParser::Callbacks cbs;
  cbs.on_head = [this](http::RequestHead&& head, const http1::MessageInfo& info) {
    ++requests_;
    idle_.cancel();
    current_ = std::make_shared<H1DownstreamRequest>(shared_from_this(), std::move(head), info);
    // A request without a body runs on to on_complete (which pauses); one with a body waits
    // here until the exchange reads it.
    if (info.framing.kind != http1::BodyFraming::Kind::kNone) parser_->Pause();
    to_start_ = current_;  // started by Pump once the parser returned
  };
  cbs.on_body = [this](std::string_view data) {
    if (!current_) return;
    current_->chunk_.append(data);
    current_->chunk_ready_ = true;
    parser_->Pause();
  };
  cbs.on_trailers = [this](http::HeaderMap&& t) {
    if (current_) current_->trailers_ = std::move(t);
  };
  cbs.on_complete = [this] {
    if (current_) current_->body_complete_ = true;
    parser_->Pause();  // the next pipelined request waits for this response
  };
  parser_ = std::make_unique<http1::RequestParser>(std::move(cbs), settings_.limits);
}

void H1ServerConnection::Start() {
  auto self = shared_from_this();
  idle_.expires_after(settings_.idle_timeout);
  idle_.async_wait([self](error_code e) {
    if (!e && !self->current_ && !self->closed_) self->Close();
  });
  Pump();
}

void H1ServerConnection::Pump(bool from_read) {
  if (closed_ || upgraded_ || stop_parsing_) return;
  if (parser_->paused()) return;
  PumpParser();
  if (!to_start_) return;
  auto req = std::move(to_start_);
  to_start_ = nullptr;
  if (from_read) {
    // Last thing here: the exchange may read the body, answer, even close the connection.
    if (!closed_ && current_ == req) handler_(req);
    return;
  }
  asio::post(stream_->executor(), [self = shared_from_this(), req] {
    if (!self->closed_ && self->current_ == req) self->handler_(req);
  });
}

void H1ServerConnection::PumpParser() {
  http1::ParseResult r = parser_->Feed(in_);
  in_.erase(0, r.consumed);
  switch (r.status) {
    case http1::ParseStatus::kError:
      OnParseError(r);
      return;
    case http1::ParseStatus::kUpgrade:
    case http1::ParseStatus::kDone:
      stop_parsing_ = true;
      break;
    case http1::ParseStatus::kPaused:
      break;
    case http1::ParseStatus::kOk:
      // Everything buffered is parsed: read more if a head or body bytes are awaited.
      if (!current_ || (current_->body_handler_ && !current_->body_complete_)) ReadMore();
      break;
  }
  DeliverBody();
}

void H1ServerConnection::DeliverBody() {
  if (!current_ || !current_->body_handler_) return;
  auto& req = *current_;
  if (!req.chunk_ready_ && !req.body_complete_) return;
  auto h = std::move(req.body_handler_);
  req.body_handler_ = nullptr;
  if (req.chunk_ready_) {
    // The chunk stays in req.delivered_ until the next ReadBody: the reader may hand the view
    // to a write that completes later.
    req.delivered_.swap(req.chunk_);
    req.chunk_.clear();
    req.chunk_ready_ = false;
    auto self = current_;
    asio::post(stream_->executor(),
               [h = std::move(h), self] { h({}, std::string_view(self->delivered_), false); });
    return;
  }
  asio::post(stream_->executor(), [h = std::move(h)] { h({}, std::string_view(), true); });
}

void H1ServerConnection::ReadMore() {
  if (reading_ || peer_eof_ || closed_ || upgraded_) return;
  reading_ = true;
  auto self = shared_from_this();
  stream_->AsyncReadSome(asio::buffer(rbuf_.get(), rbuf_size_), [self](error_code e, size_t n) {
    self->reading_ = false;
    if (self->closed_ || self->upgraded_) return;
    if (e) {
      self->peer_eof_ = true;
      if (e != asio::error::eof) return self->Close();
      if (self->shutdown_after_writes_) return self->Close();  // lingering close: done
      http1::ParseResult r = self->parser_->Finish();
      if (!r.ok()) return self->OnParseError(r);
      // Between requests: done. Inside one (request complete, response pending): finish the
      // response first (ResponseDone closes).
      if (!self->current_) self->Close();
      return;
    }
    if (self->shutdown_after_writes_) {
      self->ReadMore();  // lingering close: discard until the client's end
      return;
    }
    self->in_.append(self->rbuf_.get(), n);
    self->Pump(/*from_read=*/true);
  });
}

void H1ServerConnection::OnParseError(const http1::ParseResult& r) {
  stop_parsing_ = true;
  if (current_ && !current_->body_complete_) {
    // Malformed body of a request already handed on: the exchange sees an error and gives up
    // (a response not yet started gets the parser's status).
    auto req = current_;
    if (!req->head_sent_) {
      req->head_sent_ = true;
      req->close_after_ = true;
      WriteLocalError(r.error_status ? r.error_status : 400);
    }
    if (req->body_handler_) {
      auto h = std::move(req->body_handler_);
      req->body_handler_ = nullptr;
      asio::post(stream_->executor(), [h = std::move(h)] {
        h(make_error_code(boost::system::errc::protocol_error), std::string_view(), false);
      });
    }
    return;
  }
  if (current_ && current_->head_sent_) return Close();
  WriteLocalError(r.error_status ? r.error_status : 400);
}

void H1ServerConnection::WriteLocalError(int status) {
  std::string body(http::StatusText(status));
  std::string bytes = "HTTP/1.1 " + std::to_string(status) + " " + body +
                      "\r\ncontent-length: " + std::to_string(body.size()) +
                      "\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n" + body;
  Write(std::move(bytes), nullptr);
  shutdown_after_writes_ = true;
  DoWrite();
}

void H1ServerConnection::ResponseDone() {
  auto req = current_;
  if (!req) return;
  bool close =
      req->close_after_ || stop_parsing_ || peer_eof_ || !req->body_complete_ || !req->finished_;
  if (upgraded_) return;
  current_.reset();
  if (close) {
    shutdown_after_writes_ = true;
    DoWrite();
    return;
  }
  auto self = shared_from_this();
  idle_.expires_after(settings_.idle_timeout);
  idle_.async_wait([self](error_code e) {
    if (!e && !self->current_ && !self->closed_) self->Close();
  });
  parser_->Resume();
  Pump();
}

void H1ServerConnection::Write(std::string bytes, DoneHandler done, bool defer) {
  writes_.push_back({std::move(bytes), std::move(done)});
  if (!defer) return DoWrite();
  if (kick_posted_ || writing_) return;
  kick_posted_ = true;
  asio::post(stream_->executor(), [self = shared_from_this()] {
    self->kick_posted_ = false;
    self->DoWrite();
  });
}

void H1ServerConnection::DoWrite() {
  if (closed_ || writing_) return;
  if (writes_.empty()) {
    if (shutdown_after_writes_) {
      // Lingering close: our side ends; read (and drop) until the client ends its side, so
      // that the response is not lost to a reset, for at most kLingerTimeout.
      stream_->ShutdownSend();
      auto self = shared_from_this();
      idle_.expires_after(kLingerTimeout);
      idle_.async_wait([self](error_code e) {
        if (!e) self->Close();
      });
      if (peer_eof_) return Close();
      ReadMore();
    }
    return;
  }
  writing_ = true;
  batch_.clear();
  batch_done_.clear();
  if (writes_.size() == 1) {
    batch_.swap(writes_.front().bytes);
  } else {
    for (auto& w : writes_) batch_.append(w.bytes);
  }
  for (auto& w : writes_) {
    if (w.done) batch_done_.push_back(std::move(w.done));
  }
  writes_.clear();
  auto self = shared_from_this();
  auto done = [self](error_code e, size_t) {
    self->writing_ = false;
    if (self->closed_) return;  // Close() completed the handlers
    auto handlers = std::move(self->batch_done_);
    self->batch_done_.clear();
    for (auto& h : handlers) h(e);
    if (e) return self->Close();
    self->DoWrite();
  };
  if (batch_.empty()) {
    // Only WhenFlushed markers: everything before them is written.
    asio::post(stream_->executor(), [done] { done({}, 0); });
    return;
  }
  stream_->AsyncWrite(asio::buffer(batch_), std::move(done));
}

void H1ServerConnection::Close() {
  if (closed_) return;
  closed_ = true;
  idle_.cancel();
  if (!upgraded_) stream_->Close();
  auto writes = std::move(writes_);
  writes_.clear();
  auto in_flight = std::move(batch_done_);
  batch_done_.clear();
  for (auto& h : in_flight) h(asio::error::broken_pipe);
  for (auto& w : writes) {
    if (w.done) w.done(asio::error::broken_pipe);
  }
  if (current_ && current_->body_handler_) {
    auto h = std::move(current_->body_handler_);
    current_->body_handler_ = nullptr;
    asio::post(stream_->executor(),
               [h = std::move(h)] { h(asio::error::connection_reset, std::string_view(), false); });
  }
  current_.reset();
  if (on_close_) {
    auto cb = std::move(on_close_);
    on_close_ = nullptr;
    cb();
  }
}

}  // namespace weft::waypoint
