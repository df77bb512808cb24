#pragma once

// The HTTP/2 side of a downstream connection: an h2c server session (prior knowledge) on the
// client's HBONE tunnel. Every request stream becomes a DownstreamRequest handed to the
// waypoint's request handler. nghttp2 enforces the protocol (malformed frames, forbidden
// connection headers, the CONTINUATION limit, rapid reset) and answers violations with
// RST_STREAM or GOAWAY and the matching error code; a header block over the limit gets 431.

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/container/small_vector.hpp>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/h2/session.h"
#include "core/hbone/byte_stream.h"
#include "waypoint/http/stream.h"

namespace weft::waypoint {

using RequestHandler = std::function<void(std::shared_ptr<DownstreamRequest>)>;

// The buffer an HTTP/2 stream's body is read into (H2DownstreamRequest, H2UpstreamRequest):
// allocated at the first read, not with the stream (most requests have no body, most
// responses a small one), kInitial bytes, and grown ×4 up to `limit` (the read chunk) each
// time a read fills it. Never zero-filled. Still one read at a time of at most `limit` bytes:
// the backpressure of the body pipe is unchanged.
class BodyReadBuffer {
 public:
  static constexpr size_t kInitial = 16 * 1024;
  explicit BodyReadBuffer(size_t limit) : limit_(limit > 0 ? limit : 1) {}
  // The buffer for the next read (what the last read returned is gone after this).
  boost::asio::mutable_buffer Next() {
    if (!data_ || grow_) {
      size_t n = data_ ? std::min(size_ * 4, limit_) : std::min(kInitial, limit_);
      data_.reset(new char[n]);  // default-initialized: not zero-filled
      size_ = n;
      grow_ = false;
    }
    return boost::asio::buffer(data_.get(), size_);
  }
  // After a read of `n` bytes into Next(): the bytes read.
  std::string_view Filled(size_t n) {
    if (n >= size_ && size_ < limit_) grow_ = true;
    return std::string_view(data_.get(), n);
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t limit_;
  bool grow_ = false;
};

// The waypoint's HTTP/2 server defaults: Envoy's 60 KiB header list limit (431 beyond),
// 100 concurrent streams per connection, windows of core/h2's defaults.
inline h2::SessionSettings DefaultH2ServerSession() {
  h2::SessionSettings s;
  s.max_header_list_bytes = 60 * 1024;
  return s;
}

struct H2ServerSettings {
  h2::SessionSettings session = DefaultH2ServerSession();
  size_t read_chunk = 64 * 1024;
};

// Starts serving HTTP/2 on `stream`; `prefix`: bytes already read (the preface). `on_close`
// runs once when the connection ends.
std::shared_ptr<h2::Session> ServeH2(std::shared_ptr<hbone::ByteStream> stream, std::string prefix,
                                     H2ServerSettings settings, RequestHandler handler,
                                     std::function<void()> on_close);

// The DownstreamRequest of one HTTP/2 stream (also used by tests).
class H2DownstreamRequest : public DownstreamRequest,
                            public std::enable_shared_from_this<H2DownstreamRequest> {
 public:
  H2DownstreamRequest(std::shared_ptr<h2::Stream> stream, size_t read_chunk);

  boost::asio::any_io_executor executor() override;
  http::RequestHead& head() override { return head_; }
  bool has_body() const override { return has_body_; }
  void ReadBody(BodyHandler handler) override;
  const http::HeaderMap& trailers() const override { return trailers_; }
  http::Version version() const override { return http::Version::kHttp2; }
  void SendHead(http::ResponseHead head, bool end_stream) override;
  void WriteBody(std::string_view data, DoneHandler handler) override;
  void Finish(http::HeaderMap trailers) override;
  void Abort() override;
  bool head_sent() const override { return head_sent_; }
  void Done() override {}

  // Whether the request's pseudo-headers were valid (else a 400 is due).
  bool valid() const { return valid_; }
  bool headers_too_large() const { return stream_->headers_too_large(); }
  int early_reject_status() const override {
    return headers_too_large() ? 431 : !valid() ? 400 : 0;
  }

 private:
  std::shared_ptr<h2::Stream> stream_;
  http::RequestHead head_;
  http::HeaderMap trailers_;
  BodyReadBuffer buf_;
  bool has_body_ = false;
  bool head_request_ = false;  // HEAD: the response ends with its headers
  bool head_sent_ = false;
  bool valid_ = true;
  bool finished_ = false;
};

// The HTTP/2 header block of a message head as views into the head (h2::HeaderRef), for
// Stream::RespondRefs / Session::SubmitRequestRefs: names lowercase, hop-by-hop headers
// removed, nothing copied unless there was a hop-by-hop header to strip. Valid while the head
// lives; neither copied nor moved (the views may point into the object itself).
class H2HeaderBlock {
 public:
  // ":method", ":scheme", ":authority", ":path" first; no Host (it is :authority).
  explicit H2HeaderBlock(const http::RequestHead& head);
  // The response fields, without ":status" (RespondRefs adds it).
  explicit H2HeaderBlock(const http::ResponseHead& head);
  H2HeaderBlock(const H2HeaderBlock&) = delete;
  H2HeaderBlock& operator=(const H2HeaderBlock&) = delete;

  std::span<const h2::HeaderRef> refs() const { return {refs_.data(), refs_.size()}; }

 private:
  void AppendFields(const http::HeaderMap& fields, bool request);

  http::HeaderMap stripped_;  // the head's fields without hop-by-hop ones, when it had some
  boost::container::small_vector<h2::HeaderRef, 24> refs_;
};

// The fields of an HTTP/2 header list, without its pseudo-headers: copied, or taken (the
// response head, from Stream::TakeHeaders()).
http::HeaderMap FromH2(const h2::Headers& headers);
http::HeaderMap FromH2(h2::Headers&& headers);

}  // namespace weft::waypoint
