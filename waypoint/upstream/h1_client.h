#pragma once

// HTTP/1.1 to an upstream: a keep-alive connection (on an HBONE tunnel or plain TCP) that
// carries one request at a time, and the UpstreamRequest of one exchange on it. A connection
// whose exchange finished cleanly (request sent, response complete, keep-alive) goes back to
// its UpstreamPool; while idle it keeps one read outstanding, so a server closing it is
// noticed and the connection dropped from the pool.

#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <string>

#include "core/hbone/byte_stream.h"
#include "core/http/http1/parser.h"
#include "waypoint/http/stream.h"
#include "waypoint/upstream/pool.h"

namespace weft::waypoint {

class H1UpstreamRequest;

class H1ClientConnection : public std::enable_shared_from_this<H1ClientConnection> {
 public:
  // `state`: the cluster's circuit breaker, which counted this connection (released when it
  // closes); null without limits.
  H1ClientConnection(std::shared_ptr<hbone::ByteStream> stream, std::weak_ptr<UpstreamPool> pool,
                     std::string key, const UpstreamSettings& settings,
                     std::shared_ptr<resilience::ClusterState> state = nullptr);
  ~H1ClientConnection();
  void Close();
  bool closed() const { return closed_; }
  boost::asio::any_io_executor executor() { return stream_->executor(); }

  // Pool bookkeeping: the connection waits for its next request / is taken for one.
  void BecomeIdle(std::chrono::milliseconds idle_timeout);
  // The cluster state that counts it (null without limits).
  const std::shared_ptr<resilience::ClusterState>& state() const { return state_; }
  void TakeFromIdle();

 private:
  friend class H1UpstreamRequest;
  // from_read / invoke_now: called by a read's completion, which may call the reader's
  // handler itself (otherwise it is posted: the reader may be the caller).
  void Pump(bool from_read = false);
  void ReadMore();
  void Deliver(bool invoke_now = false);
  void Fail(ResetReason reason);
  void Write(std::string bytes, DoneHandler done);
  void DoWrite();

  std::shared_ptr<hbone::ByteStream> stream_;
  std::weak_ptr<UpstreamPool> pool_;
  std::string key_;
  std::unique_ptr<http::http1::ResponseParser> parser_;
  std::string in_;
  // Read buffer: allocated, not zero-filled (only what a read writes is touched: an idle
  // connection costs one page, not read_chunk bytes).
  std::unique_ptr<char[]> rbuf_;
  size_t rbuf_size_;
  bool reading_ = false;
  bool closed_ = false;
  bool idle_ = false;
  boost::asio::steady_timer idle_timer_;
  H1UpstreamRequest* current_ = nullptr;
  std::shared_ptr<resilience::ClusterState> state_;
  uint64_t requests_ = 0;  // requests carried (maxRequestsPerConnection)
  void Uncount();
  // Body bytes parsed ahead of the reader, at most this many (then the parser waits).
  size_t chunk_limit_;
  struct PendingWrite {
    std::string bytes;
    DoneHandler done;
  };
  std::deque<PendingWrite> writes_;
  bool writing_ = false;
};

class H1UpstreamRequest : public UpstreamRequest,
                          public std::enable_shared_from_this<H1UpstreamRequest> {
 public:
  H1UpstreamRequest(std::shared_ptr<H1ClientConnection> conn, bool reused);
  ~H1UpstreamRequest() override;

  boost::asio::any_io_executor executor() override { return conn_->executor(); }
  void SendHead(const http::RequestHead& head, bool end_stream) override;
  void WriteBody(std::string_view data, DoneHandler handler) override;
  void Finish(const http::HeaderMap& trailers) override;
  void ReadHead(std::function<void(error_code, http::ResponseHead*)> handler) override;
  void ReadBody(BodyHandler handler) override;
  bool TryReadBody(std::string_view* data, bool* end) override;
  const http::HeaderMap& trailers() const override { return trailers_; }
  bool response_has_body() const override;
  ResetReason reset_reason() const override { return reason_; }
  void Release() override;

  bool reused() const { return reused_; }
  // Upgrade (WebSocket): after a 101 response, the raw stream and the bytes the server sent
  // after its head; the connection is no longer HTTP.
  std::shared_ptr<hbone::ByteStream> TakeUpgraded(std::string* pending);

 private:
  friend class H1ClientConnection;
  std::shared_ptr<H1ClientConnection> conn_;
  bool reused_ = false;
  http::http1::BodyFraming request_framing_;
  bool request_done_ = false;
  http::ResponseHead response_;
  http::http1::MessageInfo info_;
  bool have_head_ = false;
  bool response_complete_ = false;
  std::function<void(error_code, http::ResponseHead*)> head_handler_;
  std::string chunk_;
  std::string delivered_;  // the chunk last handed to the reader
  bool chunk_ready_ = false;
  BodyHandler body_handler_;
  http::HeaderMap trailers_;
  error_code error_;
  ResetReason reason_ = ResetReason::kNone;
  bool released_ = false;
  bool upgraded_ = false;
};

}  // namespace weft::waypoint
