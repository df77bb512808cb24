#pragma once

// The HTTP/1.1 side of a downstream connection: requests parsed with core/http/http1 from the
// client's HBONE tunnel, one at a time, answered in order.
//
// Pipelining: the parser pauses after each request; the next one is parsed only when the
// response to this one is complete, so responses go out in request order and pipelined bytes
// wait in the tunnel (its flow control pushes back on the client). Bodies both ways stream
// with one chunk in flight: the request body is read from the tunnel only as the exchange asks
// for it, and a response chunk is written before the next is taken.
//
// Responses: the framing is chosen for the client (Content-Length passed through when the
// upstream gave one; otherwise chunked for HTTP/1.1, close-delimited for HTTP/1.0); trailers
// only with chunked. "Expect: 100-continue" is answered here when the exchange first reads the
// body (Envoy's default; the upstream does not see the Expect header). A request the parser
// refuses gets its status (400, 413, 414, 431, 501, 505) and the connection is closed;
// nothing of it reaches an upstream.

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/hbone/byte_stream.h"
#include "core/http/http1/parser.h"
#include "waypoint/http/h2_server.h"
#include "waypoint/http/stream.h"

namespace weft::waypoint {

struct H1ServerSettings {
  http::http1::Limits limits;
  size_t read_chunk = 64 * 1024;
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
};

// Called for an Upgrade (WebSocket) request once its response is 101: the raw byte stream to
// the client and the bytes the client sent after its request head.
struct UpgradedDownstream {
  std::shared_ptr<hbone::ByteStream> stream;
  std::string pending;
};

class H1ServerConnection;

class H1DownstreamRequest : public DownstreamRequest,
                            public std::enable_shared_from_this<H1DownstreamRequest> {
 public:
  H1DownstreamRequest(std::shared_ptr<H1ServerConnection> conn, http::RequestHead head,
                      const http::http1::MessageInfo& info);

  boost::asio::any_io_executor executor() override;
  http::RequestHead& head() override { return head_; }
  bool has_body() const override;
  void ReadBody(BodyHandler handler) override;
  const http::HeaderMap& trailers() const override { return trailers_; }
  http::Version version() const override { return head_.version; }
  void SendHead(http::ResponseHead head, bool end_stream) override;
  void WriteBody(std::string_view data, DoneHandler handler) override;
  void Finish(http::HeaderMap trailers) override;
  void Abort() override;
  bool head_sent() const override { return head_sent_; }
  void Done() override;

  // An Upgrade request (Connection: upgrade + Upgrade): after a 101 answer, TakeUpgraded()
  // hands over the raw client stream (and the connection ends as HTTP).
  bool upgrade() const override { return info_.upgrade; }
  UpgradedDownstream TakeUpgraded();
  // Runs `handler` once everything written so far is on the wire.
  void WhenFlushed(DoneHandler handler);

 private:
  friend class H1ServerConnection;
  std::shared_ptr<H1ServerConnection> conn_;
  http::RequestHead head_;
  http::http1::MessageInfo info_;
  http::HeaderMap trailers_;
  bool head_sent_ = false;
  bool finished_ = false;
  bool body_complete_ = false;  // the parser delivered on_complete for this request
  bool continue_sent_ = false;
  http::http1::BodyFraming response_framing_;
  bool close_after_ = false;  // the connection ends after this response
  // Body handoff from the parser.
  std::string chunk_;
  std::string delivered_;  // the chunk last handed to the reader
  bool chunk_ready_ = false;
  BodyHandler body_handler_;
};

class H1ServerConnection : public std::enable_shared_from_this<H1ServerConnection> {
 public:
  // `prefix`: bytes already read (protocol detection).
  static std::shared_ptr<H1ServerConnection> Create(std::shared_ptr<hbone::ByteStream> stream,
                                                    std::string prefix, H1ServerSettings settings,
                                                    RequestHandler handler,
                                                    std::function<void()> on_close);
  void Start();
  // Closes the connection (abortively).
  void Close();
  boost::asio::any_io_executor executor() { return stream_->executor(); }

  uint64_t requests() const { return requests_; }

 private:
  friend class H1DownstreamRequest;
  H1ServerConnection(std::shared_ptr<hbone::ByteStream> stream, std::string prefix,
                     H1ServerSettings settings, RequestHandler handler,
                     std::function<void()> on_close);

  // Runs the parser over what is buffered; reads more when it needs more and someone waits.
  // from_read: called by a read's completion, which may start the request's exchange itself
  // (otherwise it is posted: Pump also runs inside an exchange finishing the previous one).
  void Pump(bool from_read = false);
  void PumpParser();  // feeds what is buffered to the parser; hands on body chunks
  void ReadMore();
  void OnParseError(const http::http1::ParseResult& r);
  void DeliverBody();
  void ResponseDone();
  // Writes are queued and go out in order: everything queued when the stream is free goes in
  // one stream write (a head and its body: one DATA frame, one TLS record). defer=true: do not
  // start writing yet, in case more follows in this pass of the event loop (a head whose body
  // is on its way); a posted kick starts it otherwise.
  void Write(std::string bytes, DoneHandler done, bool defer = false);
  void DoWrite();
  void WriteLocalError(int status);

  std::shared_ptr<hbone::ByteStream> stream_;
  H1ServerSettings settings_;
  RequestHandler handler_;
  std::function<void()> on_close_;
  std::unique_ptr<http::http1::RequestParser> parser_;
  std::string in_;  // read, not yet consumed by the parser
  // Read buffer: allocated, not zero-filled (only what a read writes is touched: an idle
  // connection costs one page, not read_chunk bytes).
  std::unique_ptr<char[]> rbuf_;
  size_t rbuf_size_;
  bool reading_ = false;
  bool peer_eof_ = false;
  bool closed_ = false;
  bool upgraded_ = false;
  bool stop_parsing_ = false;  // after an error, kDone or kUpgrade
  std::shared_ptr<H1DownstreamRequest> current_;
  uint64_t requests_ = 0;
  boost::asio::steady_timer idle_;
  struct PendingWrite {
    std::string bytes;
    DoneHandler done;
  };
  std::deque<PendingWrite> writes_;
  std::string batch_;                    // the stream write in flight
  std::vector<DoneHandler> batch_done_;  // and the handlers of the writes it holds
  bool writing_ = false;
  bool kick_posted_ = false;
  std::shared_ptr<H1DownstreamRequest> to_start_;  // parsed, its exchange not started yet
  bool shutdown_after_writes_ = false;
};

}  // namespace weft::waypoint
