#pragma once

// An HTTP/2 connection (client or server) on nghttp2, driven by a Transport on one Asio
// executor. No locks: every call on the transport's executor; completion handlers are posted
// to it (never run inside an nghttp2 callback).
//
// Streams are byte pipes with flow control end to end:
//   - receiving: nghttp2's automatic WINDOW_UPDATE is off; a stream's window is given back
//     only as the application reads (Stream::AsyncReadSome), so a slow reader stops the
//     sender after one window, per stream and per connection;
//   - sending: a write is handed to nghttp2 through a data provider that answers
//     NGHTTP2_ERR_DEFERRED when nothing is queued and is resumed by the next write; the
//     write completes when all its bytes went into DATA frames, which nghttp2 produces only
//     as the peer's window allows, and the session writes to the socket one batch at a time.
//     DATA payloads are copied once, from the writer's buffer into the batch
//     (NGHTTP2_DATA_FLAG_NO_COPY + send_data_callback); received DATA goes straight into a
//     waiting reader's buffer, and is queued on the stream otherwise.
//
// Client:
//   auto s = Session::Create(Session::kClient, std::move(transport), settings, {});
//   s->Start();
//   s->SubmitRequest({{":method", "CONNECT"}, {":authority", "10.0.0.2:80"}},
//                    [](error_code e, std::shared_ptr<Stream> st) { st->status() ... });
// Server:
//   Session::Create(Session::kServer, ..., {.on_request = [](std::shared_ptr<Stream> st) {
//     st->Respond(200, {}, /*end_stream=*/false); st->AsyncReadSome(...); }});

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/h2/tls_transport.h"

namespace weft::h2 {

struct Header {
  std::string name;  // lowercase; pseudo-headers start with ':'
  std::string value;
};
using Headers = std::vector<Header>;
// A header to send, as views: the submit call copies it (nghttp2 copies the whole block), so
// the viewed strings need only outlive the call. Lets a proxy send a message's headers
// without building a Headers copy of them.
struct HeaderRef {
  std::string_view name;  // lowercase
  std::string_view value;
};

// The value of the first header called `name` ("" when absent).
std::string_view FindHeader(const Headers& headers, std::string_view name);

// Headers sent as "never indexed" (HPACK, RFC 7541 section 6.2.3): values unique to one
// message (request and trace ids) and credentials. `name` lowercase.
bool NeverIndexed(std::string_view name);

struct SessionSettings {
  // SETTINGS_MAX_CONCURRENT_STREAMS we advertise (streams the peer may open to us).
  uint32_t max_concurrent_streams = 100;
  // SETTINGS_INITIAL_WINDOW_SIZE we advertise: bytes the peer may send on one stream before
  // we read them.
  uint32_t stream_window = 4 * 1024 * 1024;
  // Our connection-level receive window (all streams together).
  uint32_t connection_window = 16 * 1024 * 1024;
  // SETTINGS_MAX_FRAME_SIZE we advertise (16 KiB .. 16 MiB - 1).
  uint32_t max_frame_size = 16 * 1024;
  // Socket read buffer, and the most bytes gathered into one socket write.
  size_t read_buffer = 128 * 1024;
  size_t write_batch = 128 * 1024;
  // Most bytes (names + values) of one received header block; 0 = no limit. Advertised as
  // SETTINGS_MAX_HEADER_LIST_SIZE; a block over it is not stored: the stream is marked
  // headers_too_large() and delivered with the headers that fit (the waypoint answers 431,
  // as Envoy does with max_request_headers_kb). Trailers count separately.
  uint32_t max_header_list_bytes = 0;
  // RST_STREAM flood protection (CVE-2023-44487, "rapid reset"): nghttp2's token bucket of
  // `burst` resets refilled at `rate` per second; a peer that empties it gets GOAWAY with
  // INTERNAL_ERROR (nghttp2's choice; Envoy's own limiter says ENHANCE_YOUR_CALM) and the
  // connection closes. A stream reset before its request was handed on never reaches
  // Callbacks::on_request. 0 keeps nghttp2's default (1000 burst, 33/s).
  uint64_t stream_reset_burst = 0;
  uint64_t stream_reset_rate = 0;
};

class Session;

class Stream : public std::enable_shared_from_this<Stream> {
 public:
  ~Stream();
  int32_t id() const { return id_; }
  // The peer's header block: request headers (server) or final response headers (client).
  const Headers& headers() const { return headers_; }
  // Moves the header block out (headers() and header() are empty after): for a proxy that
  // keeps the strings instead of copying them.
  Headers TakeHeaders() { return std::move(headers_); }
  std::string_view header(std::string_view name) const { return FindHeader(headers_, name); }
  // Client: the final response status (0 before).
  int status() const { return status_; }
  // The peer's trailers (a HEADERS frame after the data), once recv_eof().
  const Headers& trailers() const { return trailers_; }
  // The header block was larger than SessionSettings::max_header_list_bytes (only part of it
  // is in headers()).
  bool headers_too_large() const { return headers_too_large_; }
  // The RST_STREAM / GOAWAY error code the stream closed with (NGHTTP2_NO_ERROR when it
  // closed cleanly or is still open).
  uint32_t close_error_code() const { return close_error_code_; }

  // Server: the response. end_stream=false keeps the stream open for data (a CONNECT tunnel).
  // Returns false when the stream or session is gone.
  bool Respond(int status, const Headers& extra, bool end_stream);
  // The same from views (HeaderRef): no Headers copy of a proxied message.
  bool RespondRefs(int status, std::span<const HeaderRef> extra, bool end_stream);

  // Asio-style byte pipe. Reads return buffered data first, then asio::error::eof after the
  // peer's END_STREAM or asio::error::connection_reset after RST_STREAM / connection loss.
  void AsyncReadSome(asio::mutable_buffer buf, IoHandler handler);
  // What AsyncReadSome would complete with at once, without waiting: up to `max` buffered
  // bytes replace *out and *eof tells whether the stream's data ended there. False (nothing
  // taken) when no data is buffered and the end has not come, or while a read is pending.
  bool TryRead(std::string* out, size_t max, bool* eof);
  // Completes when every byte is in a DATA frame; one write at a time.
  void AsyncWrite(asio::const_buffer buf, IoHandler handler);
  // END_STREAM after the queued data.
  void ShutdownSend();
  // Trailers after the queued data, ending the stream (an empty list: plain END_STREAM).
  void ShutdownSendWithTrailers(Headers trailers);
  // RST_STREAM (default CANCEL) unless the stream already closed; pending operations fail.
  void Reset(uint32_t error_code = NGHTTP2_CANCEL);

  bool closed() const { return closed_; }                   // nghttp2 closed it (either way)
  bool reset() const { return reset_; }                     // closed with an error
  bool send_shut() const { return send_eof_; }              // ShutdownSend called
  bool recv_eof() const { return recv_eof_; }               // the peer's END_STREAM arrived
  size_t buffered() const { return in_.size() - in_pos_; }  // received, not yet read
  std::shared_ptr<Session> session() const { return session_; }

 private:
  friend class Session;
  Stream(std::shared_ptr<Session> session) : session_(std::move(session)) {}
  // Completes a pending read if data, the end or an error is there. invoke_now: call the
  // handler here (the caller is a completion handler itself, outside nghttp2); otherwise post.
  void DeliverRead(bool from_callback, bool invoke_now = false);
  // Moves up to `max` buffered bytes to `dst` and gives their window back to the peer
  // (flush: send the WINDOW_UPDATE soon). Returns how many.
  size_t TakeBuffered(void* dst, size_t max, bool flush);
  void FailPending(error_code e);
  static ssize_t ReadSource(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                            uint32_t* data_flags, nghttp2_data_source* source, void*);
  // At the end of the data: END_STREAM, or trailers that carry it.
  void EndData(uint32_t* data_flags);
  nghttp2_data_provider Provider();
  template <typename List>
  bool RespondWith(int status, const List& extra, bool end_stream);  // session.cc only

  std::shared_ptr<Session> session_;
  int32_t id_ = -1;
  Headers headers_;
  Headers trailers_;
  size_t header_bytes_ = 0;
  bool headers_too_large_ = false;
  uint32_t close_error_code_ = 0;
  int status_ = 0;
  bool headers_done_ = false;
  std::function<void(error_code, std::shared_ptr<Stream>)> on_response_;  // client
  // Client: on_response_ once the final response arrived, run after the read that brought it.
  std::function<void(error_code, std::shared_ptr<Stream>)> response_ready_;

  // Receive side.
  std::string in_;
  size_t in_pos_ = 0;
  bool recv_eof_ = false;
  asio::mutable_buffer read_buf_;
  size_t read_filled_ = 0;  // bytes OnDataChunk copied straight into read_buf_
  IoHandler read_handler_;

  // Send side.
  const uint8_t* out_ = nullptr;
  const uint8_t* nocopy_src_ = nullptr;  // the DATA payload Session::SendData copies next
  size_t out_left_ = 0;
  size_t out_total_ = 0;
  IoHandler write_handler_;
  bool send_eof_ = false;
  Headers send_trailers_;
  bool deferred_ = false;  // the data provider answered DEFERRED: resume on new data
  bool has_provider_ = false;

  bool closed_ = false;
  bool reset_ = false;
  bool data_ready_ = false;  // in the session's data_ready_ list
  size_t slot_ = 0;          // its index in the session's streams_
};

struct SessionStats {
  uint64_t streams_opened = 0;
  size_t peak_stream_buffered = 0;  // most bytes one stream held unread (bounded by its window)
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  enum Role { kClient, kServer };
  struct Callbacks {
    // Server: a new stream's complete request header block (not called for a stream that
    // was reset, or a connection that ended, before the call could run).
    std::function<void(std::shared_ptr<Stream>)> on_request;
    // The number of open streams changed (e.g. to arm an idle timer at 0).
    std::function<void(size_t open_streams)> on_streams_changed;
    // The connection is gone (error, or both sides done after GOAWAY, or Close()).
    std::function<void(error_code)> on_close;
  };

  static std::shared_ptr<Session> Create(Role role, std::unique_ptr<Transport> transport,
                                         SessionSettings settings, Callbacks callbacks);
  ~Session();

  // Sends the preface and SETTINGS, starts reading.
  void Start();
  // Client: a new stream. `headers`: pseudo-headers first. With end_stream=false the stream
  // stays open for data (a data provider is attached). The handler gets the final response
  // (or an error when the stream or connection dies first). nullptr when the session cannot
  // open a stream (closed, GOAWAY, stream IDs exhausted).
  std::shared_ptr<Stream> SubmitRequest(
      const Headers& headers, bool end_stream,
      std::function<void(error_code, std::shared_ptr<Stream>)> on_response);
  std::shared_ptr<Stream> SubmitRequestRefs(
      std::span<const HeaderRef> headers, bool end_stream,
      std::function<void(error_code, std::shared_ptr<Stream>)> on_response);
  // GOAWAY(NO_ERROR): no new streams; the connection closes once the open ones finish.
  void Shutdown();
  // Abrupt: closes the transport; every stream fails with connection_reset.
  void Close();

  bool closed() const { return closed_; }
  // False after a GOAWAY either way or once closed: do not open streams on it.
  bool accepting_streams() const;
  size_t open_streams() const { return streams_.size(); }
  // The peer's SETTINGS_MAX_CONCURRENT_STREAMS (2^32-1 until its SETTINGS arrive).
  uint32_t remote_max_concurrent_streams() const;
  Transport& transport() { return *transport_; }
  asio::any_io_executor executor() { return transport_->executor(); }
  const SessionStats& stats() const { return stats_; }
  const SessionSettings& settings() const { return settings_; }
  // Bytes in the HPACK dynamic table of the header blocks this side sends.
  size_t encoder_table_size() const;

 private:
  friend class Stream;
  Session(Role role, std::unique_ptr<Transport> t, SessionSettings s, Callbacks c);
  void DoRead();
  // A fatal nghttp2_session_mem_recv error `rv`: GOAWAY with the matching code, then close.
  void FailConnection(int rv);
  // Schedules a write of what nghttp2 has queued, once per pass of the event loop: the
  // frames every stream queued in the handlers that run before it share one transport write
  // (one TLS record, one system call, one packet) instead of one each.
  void Flush();
  // Writes what nghttp2 has queued now (unless a write is in flight: its completion does).
  void FlushNow();
  void Terminate(error_code e);
  void StreamsChanged();
  template <typename List>
  std::shared_ptr<Stream> SubmitRequestWith(  // session.cc only
      const List& headers, bool end_stream,
      std::function<void(error_code, std::shared_ptr<Stream>)> on_response);
  Stream* Find(int32_t id);
  void Track(const std::shared_ptr<Stream>& st);  // into streams_
  void Untrack(Stream* st);                       // out of streams_, if there
  bool Tracked(const Stream* st) const;           // in streams_ (at its slot)

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t,
                      const uint8_t*, size_t, uint8_t, void*);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int OnStreamClose(nghttp2_session*, int32_t, uint32_t, void*);
  static int SendData(nghttp2_session*, nghttp2_frame*, const uint8_t* framehd, size_t length,
                      nghttp2_data_source*, void*);

  Role role_;
  std::unique_ptr<Transport> transport_;
  SessionSettings settings_;
  Callbacks callbacks_;
  nghttp2_session* ng_ = nullptr;
  // The open streams, unordered (a stream knows its slot; nghttp2's stream user data finds
  // one by id): adding and removing one is a push_back and a swap, no allocation per stream.
  std::vector<std::shared_ptr<Stream>> streams_;
  // Streams that received DATA during the current nghttp2_session_mem_recv.
  std::vector<std::shared_ptr<Stream>> data_ready_;
  // What the frames of a read completed, run in order once nghttp2_session_mem_recv returns
  // (its callbacks must not re-enter it): a server's new requests, a client's responses.
  struct Completed {
    enum Kind : uint8_t { kRequest, kResponse } kind;
    std::shared_ptr<Stream> stream;
  };
  void RunCompleted(const Completed& c);
  std::vector<Completed> after_recv_;
  // after_recv_ and data_ready_ of the read being run (kept for their capacity).
  std::vector<Completed> completed_;
  std::vector<std::shared_ptr<Stream>> ready_;
  std::vector<uint8_t> rbuf_;
  std::vector<uint8_t> wbuf_;
  bool writing_ = false;
  bool flush_posted_ = false;  // a FlushNow is posted
  bool reading_ = false;
  bool started_ = false;
  bool closed_ = false;
  bool shutdown_ = false;  // we sent GOAWAY
  // After FailConnection: the error on_close gets, and the bound on the wait for the GOAWAY
  // to be written.
  static constexpr std::chrono::milliseconds kFailLinger{1000};
  error_code fail_error_;
  std::unique_ptr<asio::steady_timer> fail_timer_;
  SessionStats stats_;
};

}  // namespace weft::h2
