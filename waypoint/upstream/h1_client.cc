#include "waypoint/upstream/h1_client.h"

#include <charconv>

#include "core/http/http1/serializer.h"
#include "waypoint/http/hop_by_hop.h"

namespace weft::waypoint {

namespace asio = boost::asio;
namespace http1 = http::http1;

namespace {

std::optional<uint64_t> ParseLength(std::string_view v) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) return std::nullopt;
  return n;
}

bool MethodExpectsBody(std::string_view m) {
  return m == "POST" || m == "PUT" || m == "PATCH";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// H1ClientConnection

H1ClientConnection::H1ClientConnection(std::shared_ptr<hbone::ByteStream> stream,
                                       std::weak_ptr<UpstreamPool> pool, std::string key,
                                       const UpstreamSettings& settings,
                                       std::shared_ptr<resilience::ClusterState> state)
    : stream_(std::move(stream)),
      pool_(std::move(pool)),
      key_(std::move(key)),
      rbuf_(std::make_unique_for_overwrite<char[]>(settings.read_chunk)),
      rbuf_size_(settings.read_chunk),
      idle_timer_(stream_->executor()),
      chunk_limit_(settings.read_chunk) {
  state_ = std::move(state);
  http1::Limits limits;
  limits.max_head_bytes = settings.max_response_head_bytes;
  http1::ResponseParser::Callbacks cbs;
  cbs.on_head = [this](http::ResponseHead&& head, const http1::MessageInfo& info) {
    if (!current_) return;
    current_->response_ = std::move(head);
    current_->info_ = info;
    current_->have_head_ = true;
    // The parser goes on into the body (bounded below): a small response is read whole, its
    // body handed over with its end in one chunk.
  };
  cbs.on_body = [this](std::string_view data) {
    if (!current_) return;
    current_->chunk_.append(data);
    current_->chunk_ready_ = true;
    if (current_->chunk_.size() >= chunk_limit_) parser_->Pause();  // until the reader asks
  };
  cbs.on_trailers = [this](http::HeaderMap&& t) {
    if (current_) current_->trailers_ = std::move(t);
  };
  cbs.on_complete = [this] {
    if (current_) current_->response_complete_ = true;
    parser_->Pause();
  };
  parser_ = std::make_unique<http1::ResponseParser>(std::move(cbs), limits);
}

H1ClientConnection::~H1ClientConnection() {
  if (!closed_) {
    stream_->Close();
    Uncount();
  }
}

// The connection no longer counts toward its pool's and cluster's connections.
void H1ClientConnection::Uncount() {
  if (state_) {
    state_->breaker.ConnectionClosed();
    state_.reset();
  }
  if (auto pool = pool_.lock()) pool->ConnectionClosed(key_);
}

void H1ClientConnection::Close() {
  if (closed_) return;
  closed_ = true;
  Uncount();
  idle_timer_.cancel();
  stream_->Close();
  auto writes = std::move(writes_);
  writes_.clear();
  for (auto& w : writes) {
    if (w.done) {
      asio::post(stream_->executor(), [d = std::move(w.done)] { d(asio::error::broken_pipe); });
    }
  }
  if (idle_) {
    idle_ = false;
    if (auto pool = pool_.lock()) pool->ForgetIdle(key_, this);
  }
  if (current_) Fail(ResetReason::kRemoteReset);
}

void H1ClientConnection::BecomeIdle(std::chrono::milliseconds idle_timeout) {
  idle_ = true;
  current_ = nullptr;
  auto self = shared_from_this();
  idle_timer_.expires_after(idle_timeout);
  idle_timer_.async_wait([self](error_code e) {
    if (!e && self->idle_) self->Close();
  });
  ReadMore();  // notices the server closing the idle connection
}

void H1ClientConnection::TakeFromIdle() {
  idle_ = false;
  idle_timer_.cancel();
}

void H1ClientConnection::Pump(bool from_read) {
  if (closed_ || !current_ || current_->upgraded_) return;
  if (parser_->paused()) return;
  http1::ParseResult r = parser_->Feed(in_);
  in_.erase(0, r.consumed);
  switch (r.status) {
    case http1::ParseStatus::kError:
      return Fail(ResetReason::kProtocolError);
    case http1::ParseStatus::kOk:
      if ((current_->head_handler_ && !current_->have_head_) ||
          (current_->body_handler_ && !current_->response_complete_)) {
        ReadMore();
      }
      break;
    default:
      break;
  }
  Deliver(from_read);
}

void H1ClientConnection::Deliver(bool invoke_now) {
  H1UpstreamRequest* req = current_;
  if (!req) return;
  auto ex = stream_->executor();
  if (req->head_handler_ && req->have_head_) {
    auto h = std::move(req->head_handler_);
    req->head_handler_ = nullptr;
    auto self = req->shared_from_this();
    if (invoke_now) {
      // Last thing here: the handler may finish the exchange and release the request.
      h({}, &self->response_);
      return;
    }
    asio::post(ex, [h = std::move(h), self] { h({}, &self->response_); });
  }
  if (req->body_handler_ && (req->chunk_ready_ || req->response_complete_)) {
    auto h = std::move(req->body_handler_);
    req->body_handler_ = nullptr;
    if (req->chunk_ready_) {
      // Kept in the request until the next ReadBody (the reader's write may still use it).
      req->delivered_.swap(req->chunk_);
      req->chunk_.clear();
      req->chunk_ready_ = false;
      auto self = req->shared_from_this();
      bool end = req->response_complete_;
      if (invoke_now) return h({}, std::string_view(self->delivered_), end);
      asio::post(ex,
                 [h = std::move(h), self, end] { h({}, std::string_view(self->delivered_), end); });
    } else {
      asio::post(ex, [h = std::move(h)] { h({}, std::string_view(), true); });
    }
  }
}

void H1ClientConnection::ReadMore() {
  if (reading_ || closed_) return;
  reading_ = true;
  auto self = shared_from_this();
  stream_->AsyncReadSome(asio::buffer(rbuf_.get(), rbuf_size_), [self](error_code e, size_t n) {
    self->reading_ = false;
    if (self->closed_) return;
    if (self->idle_ || !self->current_) {
      // Anything on an idle connection (bytes or its end) makes it unusable.
      self->Close();
      return;
    }
    if (e) {
      if (e == asio::error::eof) {
        // A body delimited by close ends here; anything else is a reset.
        http1::ParseResult r = self->parser_->Finish();
        if (r.ok()) {
          self->Deliver();
          if (self->current_ && self->current_->response_complete_) {
            self->current_->info_.keep_alive = false;
            return;
          }
        }
      }
      return self->Fail(ResetReason::kRemoteReset);
    }
    self->in_.append(self->rbuf_.get(), n);
    self->Pump(/*from_read=*/true);
  });
}

void H1ClientConnection::Fail(ResetReason reason) {
  H1UpstreamRequest* req = current_;
  if (!req) return;
  if (req->reason_ == ResetReason::kNone) req->reason_ = reason;
  req->error_ = make_error_code(boost::system::errc::connection_reset);
  auto ex = stream_->executor();
  if (req->head_handler_) {
    auto h = std::move(req->head_handler_);
    req->head_handler_ = nullptr;
    asio::post(ex, [h = std::move(h), e = req->error_] { h(e, nullptr); });
  }
  if (req->body_handler_) {
    auto h = std::move(req->body_handler_);
    req->body_handler_ = nullptr;
    asio::post(ex, [h = std::move(h), e = req->error_] { h(e, std::string_view(), false); });
  }
  if (!closed_) Close();
}

void H1ClientConnection::Write(std::string bytes, DoneHandler done) {
  writes_.push_back({std::move(bytes), std::move(done)});
  DoWrite();
}

void H1ClientConnection::DoWrite() {
  if (closed_ || writing_ || writes_.empty()) return;
  writing_ = true;
  auto self = shared_from_this();
  stream_->AsyncWrite(asio::buffer(writes_.front().bytes), [self](error_code e, size_t) {
    self->writing_ = false;
    if (self->writes_.empty()) return;
    PendingWrite w = std::move(self->writes_.front());
    self->writes_.pop_front();
    if (w.done) w.done(e);
    if (e) return self->Fail(ResetReason::kRemoteReset);
    self->DoWrite();
  });
}

// ---------------------------------------------------------------------------------------------
// H1UpstreamRequest

H1UpstreamRequest::H1UpstreamRequest(std::shared_ptr<H1ClientConnection> conn, bool reused)
    : conn_(std::move(conn)), reused_(reused) {
  conn_->current_ = this;
}

H1UpstreamRequest::~H1UpstreamRequest() {
  Release();
}

void H1UpstreamRequest::SendHead(const http::RequestHead& in, bool end_stream) {
  http::RequestHead head = in;
  std::optional<uint64_t> length;
  if (auto cl = head.headers.Get("content-length")) length = ParseLength(*cl);
  std::string upgrade;
  if (auto u = head.headers.Get("upgrade")) upgrade = std::string(*u);
  bool wants_upgrade = false;
  for (auto c : head.headers.GetAll("connection")) {
    if (http::ToLower(c).find("upgrade") != std::string::npos) wants_upgrade = true;
  }
  StripHopByHop(head.headers, false);
  head.headers.Remove("content-length");
  if (wants_upgrade && !upgrade.empty()) {
    head.headers.Set("connection", "upgrade");
    head.headers.Set("upgrade", upgrade);
  }
  if (length) {
    request_framing_ = http1::BodyFraming::ContentLength(*length);
  } else if (end_stream) {
    request_framing_ = MethodExpectsBody(head.method) ? http1::BodyFraming::ContentLength(0)
                                                      : http1::BodyFraming::None();
  } else {
    request_framing_ = http1::BodyFraming::Chunked();
  }
  head.version = http::Version::kHttp11;
  if (head.method == "CONNECT") head.path = head.authority;
  conn_->parser_->PushRequestMethod(head.method);
  conn_->Write(http1::SerializeRequestHead(head, request_framing_), nullptr);
  if (end_stream) request_done_ = true;
}

void H1UpstreamRequest::WriteBody(std::string_view data, DoneHandler handler) {
  if (conn_->closed_) {
    asio::post(conn_->executor(), [h = std::move(handler)] { h(asio::error::broken_pipe); });
    return;
  }
  if (data.empty()) {
    asio::post(conn_->executor(), [h = std::move(handler)] { h({}); });
    return;
  }
  std::string bytes;
  if (request_framing_.kind == http1::BodyFraming::Kind::kChunked) {
    bytes = http1::ChunkHeader(data.size());
    bytes.append(data);
    bytes.append("\r\n");
  } else {
    bytes.assign(data);
  }
  conn_->Write(std::move(bytes), std::move(handler));
}

void H1UpstreamRequest::Finish(const http::HeaderMap& trailers) {
  if (request_done_) return;
  request_done_ = true;
  if (request_framing_.kind == http1::BodyFraming::Kind::kChunked) {
    conn_->Write(http1::LastChunk(trailers), nullptr);
  }
}

void H1UpstreamRequest::ReadHead(std::function<void(error_code, http::ResponseHead*)> handler) {
  if (error_) {
    asio::post(conn_->executor(), [h = std::move(handler), e = error_] { h(e, nullptr); });
    return;
  }
  head_handler_ = std::move(handler);
  conn_->Deliver();
  if (head_handler_) {
    conn_->parser_->Resume();
    conn_->Pump();
  }
}

void H1UpstreamRequest::ReadBody(BodyHandler handler) {
  if (error_) {
    asio::post(conn_->executor(),
               [h = std::move(handler), e = error_] { h(e, std::string_view(), false); });
    return;
  }
  body_handler_ = std::move(handler);
  conn_->Deliver();
  if (body_handler_) {
    conn_->parser_->Resume();
    conn_->Pump();
  }
}

bool H1UpstreamRequest::TryReadBody(std::string_view* data, bool* end) {
  if (error_ || body_handler_ || !have_head_) return false;
  if (chunk_ready_) {
    delivered_.swap(chunk_);
    chunk_.clear();
    chunk_ready_ = false;
    *data = delivered_;
    *end = response_complete_;
    return true;
  }
  if (response_complete_) {
    *data = {};
    *end = true;
    return true;
  }
  return false;
}

bool H1UpstreamRequest::response_has_body() const {
  return info_.framing.kind != http1::BodyFraming::Kind::kNone;
}

std::shared_ptr<hbone::ByteStream> H1UpstreamRequest::TakeUpgraded(std::string* pending) {
  upgraded_ = true;
  *pending = std::move(conn_->in_);
  conn_->in_.clear();
  conn_->current_ = nullptr;
  conn_->closed_ = true;  // no longer HTTP; the stream belongs to the caller now
  return conn_->stream_;
}

void H1UpstreamRequest::Release() {
  if (released_) return;
  released_ = true;
  if (upgraded_) return;
  if (conn_->current_ == this) conn_->current_ = nullptr;
  ++conn_->requests_;
  const uint32_t per_connection =
      conn_->state_ ? conn_->state_->breaker.limits().max_requests_per_connection : 0;
  bool reusable = !conn_->closed_ && request_done_ && response_complete_ && info_.keep_alive &&
                  !error_ && conn_->writes_.empty() &&
                  (per_connection == 0 || conn_->requests_ < per_connection);
  if (!reusable) {
    conn_->Close();
    return;
  }
  // The parser stopped after on_complete; the next response starts from a clean state.
  conn_->parser_->Resume();
  if (auto pool = conn_->pool_.lock()) {
    pool->ReturnIdle(conn_->key_, conn_);
  } else {
    conn_->Close();
  }
}

}  // namespace weft::waypoint
