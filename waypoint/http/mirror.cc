#include "waypoint/http/mirror.h"

#include "waypoint/http/exchange.h"

namespace weft::waypoint {

std::string ShadowAuthority(std::string_view authority) {
  // A port follows the last ':' unless it is inside an IPv6 literal's brackets.
  size_t colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket)) {
    return std::string(authority) + "-shadow";
  }
  return std::string(authority.substr(0, colon)) + "-shadow" + std::string(authority.substr(colon));
}

namespace {

class MirrorRequest : public std::enable_shared_from_this<MirrorRequest> {
 public:
  MirrorRequest(std::shared_ptr<Cluster> cluster, http::RequestHead head,
                std::shared_ptr<const std::vector<std::string>> body, http::HeaderMap trailers,
                HttpStats* stats)
      : cluster_(std::move(cluster)),
        head_(std::move(head)),
        body_(std::move(body)),
        trailers_(std::move(trailers)),
        stats_(stats) {}

  void Start(const std::shared_ptr<UpstreamPool>& pool) {
    stats_->mirror_requests.fetch_add(1, std::memory_order_relaxed);
    endpoint_ =
        cluster_->Pick(lb::StableHash(head_.path) ^ reinterpret_cast<uintptr_t>(this), nullptr);
    if (!endpoint_) return Fail();
    cluster_->Started(*endpoint_);
    auto self = shared_from_this();
    UpstreamProtocol protocol =
        cluster_->ProtocolFor(head_.version == http::Version::kHttp2, false);
    if (protocol == UpstreamProtocol::kTcp) protocol = UpstreamProtocol::kHttp1;
    pool->Open(
        cluster_->endpoint(*endpoint_), protocol,
        std::chrono::milliseconds(cluster_->connect_timeout_ms()),
        [self](ResetReason, std::shared_ptr<UpstreamRequest> up) {
          self->OnUpstream(std::move(up));
        },
        cluster_->shared_state());
  }

 private:
  void OnUpstream(std::shared_ptr<UpstreamRequest> up) {
    if (!up) return Fail();
    up_ = std::move(up);
    bool has_body = body_ && !body_->empty();
    up_->SendHead(head_, !has_body && trailers_.empty());
    if (has_body || !trailers_.empty()) WriteNext(0);
    auto self = shared_from_this();
    up_->ReadHead([self](error_code e, http::ResponseHead* head) {
      if (e || !head) return self->Fail();
      if (head->status >= 500)
        self->stats_->mirror_failures.fetch_add(1, std::memory_order_relaxed);
      if (!self->up_->response_has_body()) return self->Done();
      self->Drain();
    });
  }

  void WriteNext(size_t i) {
    if (!body_ || i >= body_->size()) {
      up_->Finish(trailers_);
      return;
    }
    auto self = shared_from_this();
    up_->WriteBody((*body_)[i], [self, i](error_code e) {
      if (!e) self->WriteNext(i + 1);
    });
  }

  void Drain() {
    auto self = shared_from_this();
    up_->ReadBody([self](error_code e, std::string_view, bool end) {
      if (e) return self->Fail();
      if (end) return self->Done();
      self->Drain();
    });
  }

  void Fail() {
    stats_->mirror_failures.fetch_add(1, std::memory_order_relaxed);
    Done();
  }

  void Done() {
    if (done_) return;
    done_ = true;
    if (endpoint_) cluster_->Finished(*endpoint_);
    if (up_) up_->Release();
  }

  std::shared_ptr<Cluster> cluster_;
  http::RequestHead head_;
  std::shared_ptr<const std::vector<std::string>> body_;
  http::HeaderMap trailers_;
  HttpStats* stats_;
  std::optional<size_t> endpoint_;
  std::shared_ptr<UpstreamRequest> up_;
  bool done_ = false;
};

}  // namespace

void SendMirror(std::shared_ptr<UpstreamPool> pool, std::shared_ptr<Cluster> cluster,
                http::RequestHead head, std::shared_ptr<const std::vector<std::string>> body,
                http::HeaderMap trailers, HttpStats* stats) {
  head.authority = ShadowAuthority(head.authority);
  if (head.headers.Has("host")) head.headers.Set("host", head.authority);
  auto m = std::make_shared<MirrorRequest>(std::move(cluster), std::move(head), std::move(body),
                                           std::move(trailers), stats);
  m->Start(pool);
}

}  // namespace weft::waypoint
