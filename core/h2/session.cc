#include "core/h2/session.h"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <cstring>

namespace weft::h2 {

namespace {

nghttp2_nv Nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{
      reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
      static_cast<uint8_t>(NeverIndexed(name) ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE)};
}

// The name-value list of one header block: nghttp2 copies it during the submit call, so up to
// 32 entries live on the stack (no allocation for the usual message).
class NvList {
 public:
  explicit NvList(size_t n) { nv_.reserve(n); }
  void Add(std::string_view name, std::string_view value) { nv_.push_back(Nv(name, value)); }
  const nghttp2_nv* data() const { return nv_.data(); }
  size_t size() const { return nv_.size(); }

 private:
  boost::container::small_vector<nghttp2_nv, 32> nv_;
};

error_code ProtocolError() {
  return make_error_code(boost::system::errc::protocol_error);
}

}  // namespace

bool NeverIndexed(std::string_view name) {
  // A value unique to one message only evicts the reusable entries of the HPACK table, on
  // both sides: nghttp2 hashes a dynamic entry by its name, so every request id indexed
  // would also lengthen the chain each later lookup of that name compares value by value.
  // Credentials: RFC 7541 section 7.1.3 (never indexed, so no intermediary indexes them).
  static constexpr std::string_view kNames[] = {
      "x-request-id",       "traceparent",         "b3",
      "x-b3-traceid",       "x-b3-spanid",         "x-b3-parentspanid",
      "uber-trace-id",      "x-amzn-trace-id",     "x-cloud-trace-context",
      "x-datadog-trace-id", "x-datadog-parent-id", "sentry-trace",
      "authorization",      "proxy-authorization",
  };
  // Every header of every message passes here: most names have none of these lengths.
  static constexpr uint64_t kLengths = [] {
    uint64_t bits = 0;
    for (std::string_view n : kNames) bits |= uint64_t{1} << n.size();
    return bits;
  }();
  if (name.size() >= 64 || (kLengths >> name.size() & 1) == 0) return false;
  for (std::string_view n : kNames) {
    if (n.size() == name.size() && std::memcmp(n.data(), name.data(), n.size()) == 0) return true;
  }
  return false;
}

std::string_view FindHeader(const Headers& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Stream

Stream::~Stream() {
  // Bytes received but never read still count against the connection window: give them back.
  size_t left = in_.size() - in_pos_;
  if (left > 0 && session_ && !session_->closed_) {
    auto s = session_;
    asio::post(s->executor(), [s, left] {
      if (s->closed_) return;
      nghttp2_session_consume_connection(s->ng_, left);
      s->Flush();
    });
  }
}

nghttp2_data_provider Stream::Provider() {
  nghttp2_data_provider p;
  p.source.ptr = this;
  p.read_callback = &Stream::ReadSource;
  return p;
}

ssize_t Stream::ReadSource(nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* data_flags,
                           nghttp2_data_source* source, void*) {
  auto* st = static_cast<Stream*>(source->ptr);
  if (st->out_left_ > 0) {
    // No copy here: Session::SendData copies the payload straight into the write batch, in
    // this same nghttp2_session_mem_send call (so before the write's completion can run).
    size_t n = std::min(length, st->out_left_);
    st->nocopy_src_ = st->out_;
    *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    st->out_ += n;
    st->out_left_ -= n;
    if (st->out_left_ == 0) {
      st->out_ = nullptr;
      asio::post(st->session_->executor(),
                 [h = std::move(st->write_handler_), total = st->out_total_] { h({}, total); });
      st->write_handler_ = nullptr;
      if (st->send_eof_) st->EndData(data_flags);
    }
    return static_cast<ssize_t>(n);
  }
  if (st->send_eof_) {
    st->EndData(data_flags);
    return 0;
  }
  st->deferred_ = true;
  return NGHTTP2_ERR_DEFERRED;
}

void Stream::EndData(uint32_t* data_flags) {
  *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  if (send_trailers_.empty()) return;
  // nghttp2 allows submitting the trailer from inside the data callback: the DATA frame then
  // goes without END_STREAM and the trailing HEADERS frame carries it.
  NvList nva(send_trailers_.size());
  for (const auto& h : send_trailers_) nva.Add(h.name, h.value);
  if (nghttp2_submit_trailer(session_->ng_, id_, nva.data(), nva.size()) == 0) {
    *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
  }
}

template <typename List>
bool Stream::RespondWith(int status, const List& extra, bool end_stream) {
  if (closed_ || reset_ || session_->closed_) return false;
  std::string code = std::to_string(status);
  NvList nva(extra.size() + 1);
  nva.Add(":status", code);
  for (const auto& h : extra) nva.Add(h.name, h.value);
  nghttp2_data_provider prd = Provider();
  int rv = nghttp2_submit_response(session_->ng_, id_, nva.data(), nva.size(),
                                   end_stream ? nullptr : &prd);
  if (rv != 0) return false;
  has_provider_ = !end_stream;
  if (end_stream) send_eof_ = true;
  session_->Flush();
  return true;
}

bool Stream::Respond(int status, const Headers& extra, bool end_stream) {
  return RespondWith(status, extra, end_stream);
}

bool Stream::RespondRefs(int status, std::span<const HeaderRef> extra, bool end_stream) {
  return RespondWith(status, extra, end_stream);
}

void Stream::AsyncReadSome(asio::mutable_buffer buf, IoHandler handler) {
  if (read_handler_) {
    asio::post(session_->executor(), [h = std::move(handler)] { h(asio::error::in_progress, 0); });
    return;
  }
  read_buf_ = buf;
  read_handler_ = std::move(handler);
  DeliverRead(false);
}

size_t Stream::TakeBuffered(void* dst, size_t max, bool flush) {
  size_t m = std::min(in_.size() - in_pos_, max);
  if (m == 0) return 0;
  std::memcpy(dst, in_.data() + in_pos_, m);
  in_pos_ += m;
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ >= 64 * 1024 && in_pos_ * 2 >= in_.size()) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  if (!session_->closed_) {
    // Only now may the peer send more: the window opens by what the application took.
    nghttp2_session_consume(session_->ng_, id_, m);
    if (flush) session_->Flush();
  }
  return m;
}

bool Stream::TryRead(std::string* out, size_t max, bool* eof) {
  if (read_handler_) return false;
  if (buffered() == 0 && !recv_eof_) return false;
  out->resize(std::min(buffered(), max));
  TakeBuffered(out->data(), out->size(), /*flush=*/true);
  *eof = recv_eof_ && buffered() == 0;
  return true;
}

void Stream::DeliverRead(bool from_callback, bool invoke_now) {
  if (!read_handler_) return;
  size_t avail = in_.size() - in_pos_;
  error_code e;
  size_t n = read_filled_;  // already copied in by OnDataChunk
  if (avail > 0 && read_buf_.size() > n) {
    n += TakeBuffered(static_cast<uint8_t*>(read_buf_.data()) + n, read_buf_.size() - n,
                      /*flush=*/!from_callback);
  } else if (n > 0 || avail > 0) {
    // Data copied in already, or a zero-sized read with data waiting: complete at once.
  } else if (recv_eof_) {
    e = asio::error::eof;
  } else if (closed_ || reset_ || session_->closed_) {
    e = asio::error::connection_reset;
  } else {
    return;  // wait for data
  }
  read_filled_ = 0;
  auto h = std::move(read_handler_);
  read_handler_ = nullptr;
  if (invoke_now) return h(e, n);
  asio::post(session_->executor(), [h = std::move(h), e, n] { h(e, n); });
}

void Stream::AsyncWrite(asio::const_buffer buf, IoHandler handler) {
  auto ex = session_->executor();
  if (write_handler_) {
    asio::post(ex, [h = std::move(handler)] { h(asio::error::in_progress, 0); });
    return;
  }
  if (closed_ || reset_ || send_eof_ || !has_provider_ || session_->closed_) {
    asio::post(ex, [h = std::move(handler)] { h(asio::error::broken_pipe, 0); });
    return;
  }
  if (buf.size() == 0) {
    asio::post(ex, [h = std::move(handler)] { h({}, 0); });
    return;
  }
  out_ = static_cast<const uint8_t*>(buf.data());
  out_left_ = out_total_ = buf.size();
  write_handler_ = std::move(handler);
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(session_->ng_, id_);
  }
  session_->Flush();
}

void Stream::ShutdownSend() {
  if (send_eof_ || closed_ || reset_) return;
  send_eof_ = true;
  if (!has_provider_ || session_->closed_) return;
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(session_->ng_, id_);
  }
  session_->Flush();
}

void Stream::ShutdownSendWithTrailers(Headers trailers) {
  if (send_eof_ || closed_ || reset_) return;
  send_trailers_ = std::move(trailers);
  ShutdownSend();
}

void Stream::Reset(uint32_t error_code) {
  if (closed_ || reset_) return;
  reset_ = true;
  if (session_->closed_) return;
  nghttp2_submit_rst_stream(session_->ng_, NGHTTP2_FLAG_NONE, id_, error_code);
  session_->Flush();
}

void Stream::FailPending(error_code e) {
  DeliverRead(true);
  if (write_handler_) {
    asio::post(session_->executor(), [h = std::move(write_handler_), e] { h(e, 0); });
    write_handler_ = nullptr;
    out_ = nullptr;
    out_left_ = 0;
  }
  if (on_response_) {
    asio::post(session_->executor(), [h = std::move(on_response_), s = shared_from_this()] {
      h(asio::error::connection_reset, s);
    });
    on_response_ = nullptr;
  }
}

// ---------------------------------------------------------------------------------------------
// Session

std::shared_ptr<Session> Session::Create(Role role, std::unique_ptr<Transport> transport,
                                         SessionSettings settings, Callbacks callbacks) {
  return std::shared_ptr<Session>(
      new Session(role, std::move(transport), settings, std::move(callbacks)));
}

Session::Session(Role role, std::unique_ptr<Transport> t, SessionSettings s, Callbacks c)
    : role_(role), transport_(std::move(t)), settings_(s), callbacks_(std::move(c)) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Session::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Session::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Session::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Session::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Session::OnStreamClose);
  nghttp2_session_callbacks_set_send_data_callback(cbs, &Session::SendData);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  if (s.stream_reset_burst != 0 && s.stream_reset_rate != 0) {
    nghttp2_option_set_stream_reset_rate_limit(opt, s.stream_reset_burst, s.stream_reset_rate);
  }
  if (role == kClient) {
    nghttp2_session_client_new2(&ng_, cbs, this, opt);
  } else {
    nghttp2_session_server_new2(&ng_, cbs, this, opt);
  }
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  rbuf_.resize(std::max<size_t>(settings_.read_buffer, 4096));
}

Session::~Session() {
  nghttp2_session_del(ng_);
}

void Session::Start() {
  if (started_) return;
  started_ = true;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.stream_window},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE,
       std::clamp<uint32_t>(settings_.max_frame_size, 16384, 16777215)},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings_.max_header_list_bytes},
  };
  std::vector<nghttp2_settings_entry> entries(iv, iv + 3);
  // ENABLE_PUSH is a client-only setting.
  if (role_ == kClient) entries.push_back(iv[3]);
  if (settings_.max_header_list_bytes != 0) entries.push_back(iv[4]);
  nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, entries.data(), entries.size());
  nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(settings_.connection_window));
  Flush();
  DoRead();
}

void Session::DoRead() {
  if (closed_ || reading_) return;
  reading_ = true;
  auto self = shared_from_this();
  transport_->AsyncReadSome(asio::buffer(rbuf_), [self, this](error_code e, size_t n) {
    reading_ = false;
    if (closed_) return;
    if (e) return Terminate(e);
    ssize_t rv = nghttp2_session_mem_recv(ng_, rbuf_.data(), n);
    // What the frames of this read completed runs now, after nghttp2 returned (its callbacks
    // must not re-enter it) and in this handler rather than one posted each: new requests,
    // responses, then every stream's data and ends.
    // Swapped with lists kept across reads (only nghttp2's callbacks fill the lists, and
    // nghttp2 is not running here), so that neither is reallocated on every read.
    completed_.swap(after_recv_);
    for (const auto& c : completed_) RunCompleted(c);
    completed_.clear();
    ready_.swap(data_ready_);
    for (auto& st : ready_) {
      st->data_ready_ = false;
      st->DeliverRead(true, /*invoke_now=*/true);
    }
    ready_.clear();
    if (closed_) return;  // a handler above closed the session
    if (rv < 0) return FailConnection(static_cast<int>(rv));
    Flush();
    DoRead();
  });
}

void Session::FailConnection(int rv) {
  // nghttp2 answers the connection errors it handles itself (a bad frame, a window overflow,
  // an HPACK error, rapid reset) with a GOAWAY and still returns success from
  // nghttp2_session_mem_recv. An error return is fatal and queues nothing: say why before
  // closing (RFC 9113 5.4.1). A flood (CONTINUATION: CVE-2024-28182; PING/SETTINGS ACKs the
  // peer does not read) is ENHANCE_YOUR_CALM, a bad client preface PROTOCOL_ERROR, our own
  // failure (out of memory, a callback) INTERNAL_ERROR.
  uint32_t code = NGHTTP2_INTERNAL_ERROR;
  if (rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS || rv == NGHTTP2_ERR_FLOODED) {
    code = NGHTTP2_ENHANCE_YOUR_CALM;
  } else if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
    code = NGHTTP2_PROTOCOL_ERROR;
  }
  if (nghttp2_session_terminate_session(ng_, code) != 0) return Terminate(ProtocolError());
  // Nothing more is read. The GOAWAY goes out after what is queued; once it is written nghttp2
  // wants neither to read nor to write and Flush closes. A peer that does not read cannot
  // hold the connection open: it is closed after kFailLinger regardless.
  fail_error_ = ProtocolError();
  fail_timer_ = std::make_unique<asio::steady_timer>(executor(), kFailLinger);
  fail_timer_->async_wait([self = shared_from_this()](error_code e) {
    if (!e) self->Terminate(self->fail_error_);
  });
  Flush();
}

void Session::Flush() {
  if (closed_ || writing_ || !started_ || flush_posted_) return;
  flush_posted_ = true;
  asio::post(executor(), [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->FlushNow();
  });
}

void Session::FlushNow() {
  if (closed_ || writing_ || !started_) return;
  wbuf_.clear();
  while (wbuf_.size() < settings_.write_batch) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(ng_, &data);
    if (n < 0) return Terminate(ProtocolError());
    if (n == 0) break;
    wbuf_.insert(wbuf_.end(), data, data + n);
  }
  if (wbuf_.empty()) {
    if (nghttp2_session_want_read(ng_) == 0 && nghttp2_session_want_write(ng_) == 0) {
      Terminate(fail_error_);
    }
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  transport_->AsyncWrite(asio::buffer(wbuf_), [self, this](error_code e, size_t) {
    writing_ = false;
    if (closed_) return;
    if (e) return Terminate(e);
    FlushNow();
  });
}

void Session::Terminate(error_code e) {
  if (closed_) return;
  closed_ = true;
  if (fail_timer_) fail_timer_->cancel();
  transport_->Close();
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& st : streams) {
    // Forgotten by nghttp2 too: Find (and so OnStreamClose) must not reach a freed stream.
    if (st->id_ >= 0) nghttp2_session_set_stream_user_data(ng_, st->id_, nullptr);
    st->closed_ = true;
    if (!st->recv_eof_) st->reset_ = true;
    st->FailPending(asio::error::connection_reset);
  }
  auto self = shared_from_this();
  if (!streams.empty()) StreamsChanged();
  if (callbacks_.on_close) {
    asio::post(executor(), [self, e] {
      if (self->callbacks_.on_close) self->callbacks_.on_close(e);
    });
  }
}

void Session::Close() {
  Terminate(asio::error::operation_aborted);
}

void Session::Shutdown() {
  if (closed_) return;
  shutdown_ = true;
  if (streams_.empty()) {
    nghttp2_session_terminate_session(ng_, NGHTTP2_NO_ERROR);
  } else {
    nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
  }
  Flush();
}

bool Session::accepting_streams() const {
  if (closed_ || shutdown_) return false;
  if (role_ == kClient) return nghttp2_session_check_request_allowed(ng_) != 0;
  return true;
}

size_t Session::encoder_table_size() const {
  return nghttp2_session_get_hd_deflate_dynamic_table_size(ng_);
}

uint32_t Session::remote_max_concurrent_streams() const {
  return nghttp2_session_get_remote_settings(ng_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

template <typename List>
std::shared_ptr<Stream> Session::SubmitRequestWith(
    const List& headers, bool end_stream,
    std::function<void(error_code, std::shared_ptr<Stream>)> on_response) {
  if (role_ != kClient || !accepting_streams()) return nullptr;
  auto st = std::shared_ptr<Stream>(new Stream(shared_from_this()));
  NvList nva(headers.size());
  for (const auto& h : headers) nva.Add(h.name, h.value);
  nghttp2_data_provider prd = st->Provider();
  int32_t id = nghttp2_submit_request(ng_, nullptr, nva.data(), nva.size(),
                                      end_stream ? nullptr : &prd, st.get());
  if (id < 0) return nullptr;
  st->id_ = id;
  st->has_provider_ = !end_stream;
  st->send_eof_ = end_stream;
  st->on_response_ = std::move(on_response);
  Track(st);
  ++stats_.streams_opened;
  StreamsChanged();
  Flush();
  return st;
}

std::shared_ptr<Stream> Session::SubmitRequest(
    const Headers& headers, bool end_stream,
    std::function<void(error_code, std::shared_ptr<Stream>)> on_response) {
  return SubmitRequestWith(headers, end_stream, std::move(on_response));
}

std::shared_ptr<Stream> Session::SubmitRequestRefs(
    std::span<const HeaderRef> headers, bool end_stream,
    std::function<void(error_code, std::shared_ptr<Stream>)> on_response) {
  return SubmitRequestWith(headers, end_stream, std::move(on_response));
}

void Session::RunCompleted(const Completed& c) {
  const std::shared_ptr<Stream>& p = c.stream;
  if (c.kind == Completed::kRequest) {
    // A stream the peer reset (or a connection that ended) before the request was handed
    // on, e.g. an RST_STREAM in the same read as its HEADERS (rapid reset): the request is
    // never started, so nothing of it goes upstream.
    if (p->closed_ || p->reset_ || !callbacks_.on_request) return;
    callbacks_.on_request(p);
    return;
  }
  auto handler = std::move(p->response_ready_);
  p->response_ready_ = nullptr;
  if (handler) handler({}, p);
}

void Session::StreamsChanged() {
  if (!callbacks_.on_streams_changed) return;
  auto self = shared_from_this();
  asio::post(executor(), [self] {
    if (self->callbacks_.on_streams_changed) {
      self->callbacks_.on_streams_changed(self->streams_.size());
    }
  });
}

Stream* Session::Find(int32_t id) {
  return static_cast<Stream*>(nghttp2_session_get_stream_user_data(ng_, id));
}

void Session::Track(const std::shared_ptr<Stream>& st) {
  st->slot_ = streams_.size();
  streams_.push_back(st);
}

bool Session::Tracked(const Stream* st) const {
  return st->slot_ < streams_.size() && streams_[st->slot_].get() == st;
}

void Session::Untrack(Stream* st) {
  if (!Tracked(st)) return;
  size_t i = st->slot_;
  if (i + 1 != streams_.size()) {
    streams_[i] = std::move(streams_.back());
    streams_[i]->slot_ = i;
  }
  streams_.pop_back();
}

int Session::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* s = static_cast<Session*>(user);
  if (s->role_ != kServer || frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  auto st = std::shared_ptr<Stream>(new Stream(s->shared_from_this()));
  st->id_ = frame->hd.stream_id;
  nghttp2_session_set_stream_user_data(s->ng_, st->id_, st.get());
  s->Track(st);
  ++s->stats_.streams_opened;
  s->StreamsChanged();
  return 0;
}

int Session::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* s = static_cast<Session*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  Stream* st = s->Find(frame->hd.stream_id);
  if (st == nullptr) return 0;
  Header h{std::string(reinterpret_cast<const char*>(name), namelen),
           std::string(reinterpret_cast<const char*>(value), valuelen)};
  if (st->headers_done_) {
    st->trailers_.push_back(std::move(h));
    return 0;
  }
  st->header_bytes_ += namelen + valuelen;
  if (s->settings_.max_header_list_bytes != 0 &&
      st->header_bytes_ > s->settings_.max_header_list_bytes) {
    st->headers_too_large_ = true;
    return 0;  // kept out; the application answers (431) when the block is complete
  }
  if (st->headers_.capacity() == 0) st->headers_.reserve(8);  // one allocation for most blocks
  st->headers_.push_back(std::move(h));
  return 0;
}

int Session::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* s = static_cast<Session*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  Stream* st = s->Find(frame->hd.stream_id);
  if (st == nullptr) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && !st->headers_done_) {
    if (s->role_ == kClient) {
      int status = std::atoi(std::string(FindHeader(st->headers_, ":status")).c_str());
      if (status >= 100 && status < 200) {
        st->headers_.clear();  // informational: wait for the final response
        st->header_bytes_ = 0;
      } else {
        st->headers_done_ = true;
        st->status_ = status;
        if (st->on_response_) {
          // Out of on_response_ now: a close later in this read must not fail it.
          st->response_ready_ = std::move(st->on_response_);
          st->on_response_ = nullptr;
          s->after_recv_.push_back({Completed::kResponse, st->shared_from_this()});
        }
      }
    } else if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      st->headers_done_ = true;
      if (s->callbacks_.on_request) {
        s->after_recv_.push_back({Completed::kRequest, st->shared_from_this()});
      }
    }
  }
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
    st->recv_eof_ = true;
    if (!st->data_ready_) {
      st->data_ready_ = true;
      s->data_ready_.push_back(st->shared_from_this());
    }
  }
  return 0;
}

int Session::OnDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user) {
  auto* s = static_cast<Session*>(user);
  Stream* st = s->Find(stream_id);
  if (st == nullptr || st->reset_) {
    // Nobody will read it: give the window back at once.
    nghttp2_session_consume(s->ng_, stream_id, len);
    return 0;
  }
  if (st->read_handler_ && st->buffered() == 0 && st->read_filled_ < st->read_buf_.size()) {
    // A reader waits and nothing is queued before these bytes: copy them into its buffer.
    size_t n = std::min(len, st->read_buf_.size() - st->read_filled_);
    std::memcpy(static_cast<uint8_t*>(st->read_buf_.data()) + st->read_filled_, data, n);
    st->read_filled_ += n;
    nghttp2_session_consume(s->ng_, stream_id, n);
    data += n;
    len -= n;
  }
  st->in_.append(reinterpret_cast<const char*>(data), len);
  s->stats_.peak_stream_buffered = std::max(s->stats_.peak_stream_buffered, st->buffered());
  // Delivered once the whole socket read is processed: one completion for all its frames.
  if (!st->data_ready_) {
    st->data_ready_ = true;
    s->data_ready_.push_back(st->shared_from_this());
  }
  return 0;
}

int Session::SendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                      nghttp2_data_source* source, void* user) {
  auto* s = static_cast<Session*>(user);
  auto* st = static_cast<Stream*>(source->ptr);
  // No padding is ever selected (no select_padding callback), so: header, then the payload.
  if (frame->data.padlen != 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
  s->wbuf_.insert(s->wbuf_.end(), framehd, framehd + 9);
  s->wbuf_.insert(s->wbuf_.end(), st->nocopy_src_, st->nocopy_src_ + length);
  st->nocopy_src_ = nullptr;
  return 0;
}

int Session::OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  auto* s = static_cast<Session*>(user);
  // nghttp2 calls this before it forgets the stream: its user data is still there.
  Stream* raw = s->Find(stream_id);
  if (raw == nullptr || !s->Tracked(raw)) return 0;  // not one of ours, or gone (Terminate)
  std::shared_ptr<Stream> st = s->streams_[raw->slot_];
  st->closed_ = true;
  st->close_error_code_ = error_code;
  if (error_code != NGHTTP2_NO_ERROR || !st->recv_eof_) st->reset_ = true;
  st->FailPending(error_code == NGHTTP2_NO_ERROR ? asio::error::broken_pipe
                                                 : asio::error::connection_reset);
  s->Untrack(st.get());
  s->StreamsChanged();
  return 0;
}

}  // namespace weft::h2
