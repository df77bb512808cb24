#include "waypoint/http/exchange.h"

#include <iostream>
#include <random>

#include "core/hbone/byte_stream.h"
#include "waypoint/http/h1_server.h"
#include "waypoint/http/h2_server.h"
#include "waypoint/upstream/h1_client.h"

namespace weft::waypoint {

namespace asio = boost::asio;

void HttpStats::CountStatus(int status) {
  if (status < 300) {
    responses_2xx.fetch_add(1, std::memory_order_relaxed);
  } else if (status < 400) {
    responses_3xx.fetch_add(1, std::memory_order_relaxed);
  } else if (status < 500) {
    responses_4xx.fetch_add(1, std::memory_order_relaxed);
  } else {
    responses_5xx.fetch_add(1, std::memory_order_relaxed);
  }
}

void HttpStats::CountFlag(const std::string& flag) {
  if (flag.empty() || flag == "-") return;
  std::lock_guard<std::mutex> lock(mu);
  ++by_flag[flag];
}

namespace {

// Envoy's default retry policy for connection failures as Istio configures it (2 attempts,
// another endpoint each time); the full retry policy is the next issue's.
constexpr size_t kConnectAttempts = 3;

uint64_t NextRandom() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<DownstreamRequest> down, ExchangeContext ctx)
      : down_(std::move(down)), ctx_(std::move(ctx)) {}

  void Run() {
    ctx_.stats->requests.fetch_add(1, std::memory_order_relaxed);
    state_.view = ctx_.view;
    state_.conn = ctx_.conn.get();
    state_.target = ctx_.target;
    state_.head = &down_->head();
    state_.random = NextRandom();
    if (auto* h2 = dynamic_cast<H2DownstreamRequest*>(down_.get())) {
      if (h2->headers_too_large()) return Reply(Local(431, "", "-"));
      if (!h2->valid()) return Reply(Local(400, "", "-"));
    }
    if (!ctx_.chain->OnRequest(state_)) {
      if (state_.reply->status == 403) {
        ctx_.stats->rbac_denied.fetch_add(1, std::memory_order_relaxed);
      }
      return Reply(std::move(*state_.reply));
    }
    cluster_ = ctx_.view->ClusterFor(state_.upstream_host, state_.subset, state_.upstream_port);
    if (!cluster_ || cluster_->healthy() == 0)
      return Reply(Local(503, "no healthy upstream", "UH"));
    protocol_ =
        cluster_->ProtocolFor(down_->head().version == http::Version::kHttp2, upgrade_request());
    if (protocol_ == UpstreamProtocol::kTcp) protocol_ = UpstreamProtocol::kHttp1;
    if (upgrade_request() && protocol_ != UpstreamProtocol::kHttp1) {
      // WebSocket over HTTP/2 (RFC 8441) upstream is not implemented: refuse clearly.
      return Reply(Local(501, "upgrade to an HTTP/2 upstream is not supported", "-"));
    }
    Connect();
  }

 private:
  bool upgrade_request() const {
    auto* h1 = dynamic_cast<H1DownstreamRequest*>(down_.get());
    return h1 && h1->upgrade();
  }

  static LocalReply Local(int status, std::string body, std::string flag) {
    LocalReply r;
    r.status = status;
    r.body = std::move(body);
    r.flag = std::move(flag);
    if (!r.body.empty()) r.headers.Set("content-type", "text/plain");
    return r;
  }

  void Connect() {
    endpoint_ = cluster_->Pick(lb_hash(), &tried_);
    if (!endpoint_) {
      if (tried_.empty()) return Reply(Local(503, "no healthy upstream", "UH"));
      return Reply(Local(503,
                         "upstream connect error or disconnect/reset before headers. reset "
                         "reason: connection failure",
                         "UF"));
    }
    tried_.push_back(*endpoint_);
    cluster_->Started(*endpoint_);
    started_ = true;
    auto self = shared_from_this();
    ctx_.pool->Open(cluster_->endpoint(*endpoint_), protocol_,
                    std::chrono::milliseconds(cluster_->connect_timeout_ms()),
                    [self](ResetReason reason, std::shared_ptr<UpstreamRequest> up) {
                      self->OnUpstream(reason, std::move(up));
                    });
  }

  uint64_t lb_hash() const { return lb::StableHash(state_.conn->source_ip); }

  void OnUpstream(ResetReason reason, std::shared_ptr<UpstreamRequest> up) {
    if (!up) {
      cluster_->stats(*endpoint_).connect_failures.fetch_add(1, std::memory_order_relaxed);
      cluster_->Finished(*endpoint_);
      started_ = false;
      if (tried_.size() < kConnectAttempts && tried_.size() < cluster_->healthy()) return Connect();
      (void)reason;
      return Reply(Local(503,
                         "upstream connect error or disconnect/reset before headers. reset "
                         "reason: connection failure",
                         tried_.size() > 1 ? "URX" : "UF"));
    }
    up_ = std::move(up);
    ctx_.stats->upstream_requests.fetch_add(1, std::memory_order_relaxed);
    bool body = down_->has_body();
    up_->SendHead(*state_.head, !body);
    if (body) PumpRequestBody();
    auto self = shared_from_this();
    up_->ReadHead(
        [self](error_code e, http::ResponseHead* head) { self->OnResponseHead(e, head); });
  }

  void PumpRequestBody() {
    auto self = shared_from_this();
    down_->ReadBody([self](error_code e, std::string_view data, bool end) {
      if (self->done_) return;
      if (e) return self->DownstreamGone();
      if (!data.empty()) {
        self->up_->WriteBody(data, [self, end](error_code e) {
          if (e || self->done_) return;  // the response side sees the upstream's failure
          if (end) {
            self->up_->Finish(self->down_->trailers());
          } else {
            self->PumpRequestBody();
          }
        });
      } else if (end) {
        self->up_->Finish(self->down_->trailers());
      }
    });
  }

  void OnResponseHead(error_code e, http::ResponseHead* head) {
    if (done_) return;
    if (e || !head) {
      ResetReason r = up_->reset_reason();
      cluster_->stats(*endpoint_).errors.fetch_add(1, std::memory_order_relaxed);
      if (r == ResetReason::kRemoteRefusedReset) {
        return Reply(Local(503,
                           "upstream connect error or disconnect/reset before headers. reset "
                           "reason: remote refused stream reset",
                           "UR"));
      }
      if (r == ResetReason::kProtocolError) {
        return Reply(Local(502, "upstream sent an invalid response", "UPE"));
      }
      return Reply(Local(502,
                         "upstream connect error or disconnect/reset before headers. reset "
                         "reason: remote reset",
                         "UR"));
    }
    if (head->status >= 500) {
      cluster_->stats(*endpoint_).errors.fetch_add(1, std::memory_order_relaxed);
    }
    if (head->status == 101) return Upgrade(*head);
    ctx_.chain->OnResponse(state_, *head);
    ctx_.stats->CountStatus(head->status);
    // A body that came with the head (a small response) leaves with it: one write.
    std::string_view data;
    bool end = false;
    bool body = up_->response_has_body();
    bool ready = body && up_->TryReadBody(&data, &end);
    bool head_only = !body || (ready && end && data.empty() && up_->trailers().empty());
    down_->SendHead(*head, head_only);
    if (head_only) return Complete();
    if (ready) return OnResponseChunk(data, end);
    PumpResponseBody();
  }

  void PumpResponseBody() {
    auto self = shared_from_this();
    up_->ReadBody([self](error_code e, std::string_view data, bool end) {
      if (self->done_) return;
      if (e) {
        // The upstream broke midway: the client must see an incomplete response, not a short
        // complete one.
        self->ctx_.stats->upstream_resets.fetch_add(1, std::memory_order_relaxed);
        self->ctx_.stats->downstream_resets.fetch_add(1, std::memory_order_relaxed);
        self->cluster_->stats(*self->endpoint_).errors.fetch_add(1, std::memory_order_relaxed);
        self->down_->Abort();
        return self->Complete();
      }
      self->OnResponseChunk(data, end);
    });
  }

  void OnResponseChunk(std::string_view data, bool end) {
    if (!data.empty()) {
      auto self = shared_from_this();
      down_->WriteBody(data, [self, end](error_code e) {
        if (self->done_) return;
        if (e) return self->DownstreamGone();
        if (end) return self->Complete();
        self->PumpResponseBody();
      });
      // The last chunk: the end goes with it (HTTP/2: END_STREAM on its DATA frame).
      if (end) down_->Finish(up_->trailers());
    } else if (end) {
      down_->Finish(up_->trailers());
      Complete();
    } else {
      PumpResponseBody();
    }
  }

  void Upgrade(http::ResponseHead& head) {
    auto* d = dynamic_cast<H1DownstreamRequest*>(down_.get());
    auto* u = dynamic_cast<H1UpstreamRequest*>(up_.get());
    if (!d || !u || !d->upgrade()) {
      return Reply(Local(502, "upstream switched protocols without an upgrade request", "UPE"));
    }
    ctx_.chain->OnResponse(state_, head);
    ctx_.stats->CountStatus(101);
    ctx_.stats->upgrades.fetch_add(1, std::memory_order_relaxed);
    down_->SendHead(head, false);
    auto self = shared_from_this();
    d->WhenFlushed([self, d, u](error_code e) {
      if (e) return self->DownstreamGone();
      std::string up_pending;
      std::shared_ptr<hbone::ByteStream> up = u->TakeUpgraded(&up_pending);
      UpgradedDownstream down = d->TakeUpgraded();
      self->SpliceUpgraded(std::move(down), std::move(up), std::move(up_pending));
    });
  }

  void SpliceUpgraded(UpgradedDownstream down, std::shared_ptr<hbone::ByteStream> up,
                      std::string up_pending) {
    // Bytes each side sent right after its head go first, then the streams are spliced.
    auto self = shared_from_this();
    auto to_up = std::make_shared<std::string>(std::move(down.pending));
    auto to_down = std::make_shared<std::string>(std::move(up_pending));
    auto dstream = down.stream;
    up->AsyncWrite(asio::buffer(*to_up), [self, to_up, to_down, dstream, up](error_code e, size_t) {
      if (e) {
        dstream->Close();
        up->Close();
        return self->Complete();
      }
      dstream->AsyncWrite(asio::buffer(*to_down), [self, to_down, dstream, up](error_code e,
                                                                               size_t) {
        if (e) {
          dstream->Close();
          up->Close();
          return self->Complete();
        }
        hbone::Splice(dstream, up, {}, [self](const hbone::SpliceResult&) { self->Complete(); });
      });
    });
  }

  void DownstreamGone() {
    if (done_) return;
    ctx_.stats->downstream_resets.fetch_add(1, std::memory_order_relaxed);
    down_->Abort();
    Complete();
  }

  void Reply(LocalReply r) {
    ctx_.stats->local_replies.fetch_add(1, std::memory_order_relaxed);
    ctx_.stats->CountStatus(r.status);
    ctx_.stats->CountFlag(r.flag);
    if (down_->head_sent()) {
      down_->Abort();
      return Complete();
    }
    http::ResponseHead head;
    head.status = r.status;
    head.headers = std::move(r.headers);
    if (!r.body.empty()) head.headers.Set("content-length", std::to_string(r.body.size()));
    local_body_ = std::move(r.body);
    down_->SendHead(std::move(head), local_body_.empty());
    if (local_body_.empty()) return Complete();
    auto self = shared_from_this();
    down_->WriteBody(local_body_, [self](error_code e) {
      if (e) return self->DownstreamGone();
      self->down_->Finish({});
      self->Complete();
    });
  }

  void Complete() {
    if (done_) return;
    done_ = true;
    if (started_) cluster_->Finished(*endpoint_);
    if (up_) up_->Release();
    down_->Done();
  }

  std::shared_ptr<DownstreamRequest> down_;
  ExchangeContext ctx_;
  RequestState state_;
  std::shared_ptr<Cluster> cluster_;
  UpstreamProtocol protocol_ = UpstreamProtocol::kHttp1;
  std::optional<size_t> endpoint_;
  std::vector<size_t> tried_;
  bool started_ = false;
  std::shared_ptr<UpstreamRequest> up_;
  std::string local_body_;
  bool done_ = false;
};

}  // namespace

void StartExchange(std::shared_ptr<DownstreamRequest> downstream, ExchangeContext context) {
  auto ex = std::make_shared<Exchange>(std::move(downstream), std::move(context));
  ex->Run();
}

}  // namespace weft::waypoint
