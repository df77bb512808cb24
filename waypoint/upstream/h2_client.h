#pragma once

// One request on a pooled HTTP/2 upstream session (h2c inside an HBONE tunnel, or over
// plain TCP to an endpoint outside the mesh).

#include <memory>
#include <string>

#include "core/h2/session.h"
#include "waypoint/http/h2_server.h"  // BodyReadBuffer
#include "waypoint/http/stream.h"

namespace weft::waypoint {

class H2UpstreamRequest : public UpstreamRequest,
                          public std::enable_shared_from_this<H2UpstreamRequest> {
 public:
  H2UpstreamRequest(std::shared_ptr<h2::Session> session, size_t read_chunk);
  ~H2UpstreamRequest() override;

  boost::asio::any_io_executor executor() override { return session_->executor(); }
  void SendHead(const http::RequestHead& head, bool end_stream) override;
  void WriteBody(std::string_view data, DoneHandler handler) override;
  void Finish(const http::HeaderMap& trailers) override;
  void ReadHead(std::function<void(error_code, http::ResponseHead*)> handler) override;
  void ReadBody(BodyHandler handler) override;
  bool TryReadBody(std::string_view* data, bool* end) override;
  const http::HeaderMap& trailers() const override { return trailers_; }
  ResetReason reset_reason() const override { return reason_; }
  bool response_has_body() const override;
  void Release() override;

 private:
  void OnResponse(error_code e, std::shared_ptr<h2::Stream> st);
  void Deliver();

  std::shared_ptr<h2::Session> session_;
  std::shared_ptr<h2::Stream> stream_;
  BodyReadBuffer buf_;
  std::string taken_;  // what TryReadBody took
  http::ResponseHead response_;
  bool have_response_ = false;
  error_code response_error_;
  std::function<void(error_code, http::ResponseHead*)> head_handler_;
  http::HeaderMap trailers_;
  ResetReason reason_ = ResetReason::kNone;
  bool released_ = false;
};

}  // namespace weft::waypoint
