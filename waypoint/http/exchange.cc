#include "waypoint/http/exchange.h"

#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <iostream>
#include <optional>
#include <random>

#include "core/hbone/byte_stream.h"
#include "waypoint/http/fault.h"
#include "waypoint/http/grpc_reply.h"
#include "waypoint/http/h1_server.h"
#include "waypoint/http/h2_server.h"
#include "waypoint/http/mirror.h"
#include "waypoint/resilience/hash_key.h"
#include "waypoint/resilience/retry_policy.h"
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

// A request body is kept for replay (retries, mirrors) up to this size; past it the request
// is no longer retried nor mirrored (Envoy's default per-request buffer limit).
constexpr size_t kReplayLimit = 1 << 20;

constexpr char kResetBeforeHeaders[] =
    "upstream connect error or disconnect/reset before headers. reset reason: ";

uint64_t NextRandom() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

// Istio's default retry policy, for requests without a route (no VirtualService or HTTPRoute).
const resilience::RetryPolicy& DefaultRetryPolicy() {
  static const resilience::RetryPolicy p = resilience::RetryPolicy::IstioDefault();
  return p;
}

// grpc-timeout ("100m", "2S"...): the client's deadline, or nullopt.
std::optional<std::chrono::milliseconds> GrpcTimeout(const http::HeaderMap& h) {
  auto v = h.Get("grpc-timeout");
  if (!v || v->size() < 2 || v->size() > 9) return std::nullopt;
  uint64_t n = 0;
  for (char c : v->substr(0, v->size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  using namespace std::chrono;
  switch (v->back()) {
    case 'H':
      return duration_cast<milliseconds>(hours(n));
    case 'M':
      return duration_cast<milliseconds>(minutes(n));
    case 'S':
      return duration_cast<milliseconds>(seconds(n));
    case 'm':
      return milliseconds(n);
    case 'u':
      return duration_cast<milliseconds>(microseconds(n) + microseconds(999));
    case 'n':
      return duration_cast<milliseconds>(nanoseconds(n) + nanoseconds(999'999));
    default:
      return std::nullopt;
  }
}

std::optional<int> GrpcStatusOf(const http::HeaderMap& h) {
  auto v = h.Get("grpc-status");
  if (!v || v->empty() || v->size() > 2) return std::nullopt;
  int n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// The request body's chunks kept for replay. A std::deque allocates its map and a first block
// as soon as it is constructed; most requests have no body, so the deque is made with the
// first chunk.
class ChunkQueue {
 public:
  bool empty() const { return !q_ || q_->empty(); }
  size_t size() const { return q_ ? q_->size() : 0; }
  const std::string& operator[](size_t i) const { return (*q_)[i]; }
  void pop_front() { q_->pop_front(); }
  void emplace_back(std::string_view data) {
    if (!q_) q_.emplace();
    q_->emplace_back(data);
  }
  std::vector<std::string> Copy() const {
    return q_ ? std::vector<std::string>(q_->begin(), q_->end()) : std::vector<std::string>{};
  }

 private:
  std::optional<std::deque<std::string>> q_;
};

class Exchange : public std::enable_shared_from_this<Exchange>, public DeadlineTarget {
 public:
  Exchange(std::shared_ptr<DownstreamRequest> down, ExchangeContext ctx)
      : down_(std::move(down)), ctx_(std::move(ctx)) {}
  // An attempt may outlive the exchange (callbacks hold it): its timeout must not call here.
  ~Exchange() override {
    if (attempt_) attempt_->per_try.Cancel();
  }

  void Run() {
    ctx_.stats->requests.fetch_add(1, std::memory_order_relaxed);
    state_.view = ctx_.view;
    state_.conn = ctx_.conn.get();
    state_.target = ctx_.target;
    state_.head = &down_->head();
    state_.random = NextRandom();
    if (int status = down_->early_reject_status()) return Reply(Local(status, "", "-"));
    // The client's gRPC deadline, read before the route's header operations run (Envoy's
    // router computes its timeout before it applies them: removing grpc-timeout upstream
    // keeps the deadline).
    if (IsGrpcRequest(state_.head->headers)) grpc_deadline_ = GrpcTimeout(state_.head->headers);
    if (!ctx_.chain->OnRequest(state_)) {
      if (state_.reply->status == 403) {
        ctx_.stats->rbac_denied.fetch_add(1, std::memory_order_relaxed);
      }
      return Reply(std::move(*state_.reply));
    }
    route_ = state_.match ? &state_.match.route->proto() : nullptr;
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
    // The route's compiled policy; with no route (no VirtualService), Istio's default.
    retry_ = state_.match ? &state_.match.route->retry_policy() : &DefaultRetryPolicy();
    // An upgrade's bytes after the 101 are not replayable: never retried past the head.
    if (upgrade_request()) replayable_ = false;
    if (const pb::ConsistentHash* ch = cluster_->consistent_hash()) {
      resilience::HashKey key =
          resilience::ComputeHashKey(*ch, *state_.head, state_.conn->source_ip, NextRandom());
      hash_ = key.hash ? *key.hash : NextRandom();
      set_cookie_ = std::move(key.set_cookie);
      hashing_ = true;
    } else {
      hash_ = lb::StableHash(state_.conn->source_ip);
    }
    if (auto* budget = cluster_->budget()) budget->OnRequest();
    body_complete_ = !down_->has_body();
    if (route_ && route_->has_fault()) {
      FaultDecision f = DecideFault(route_->fault(), NextRandom(), NextRandom());
      if (f.delay.count() > 0) {
        ctx_.stats->faults_delayed.fetch_add(1, std::memory_order_relaxed);
        fault_abort_ = std::move(f.abort);
        timer_ = std::make_unique<asio::steady_timer>(down_->executor(), f.delay);
        auto self = shared_from_this();
        timer_->async_wait([self](error_code e) {
          if (e || self->done_) return;
          self->AfterDelay();
        });
        return;
      }
      fault_abort_ = std::move(f.abort);
    }
    AfterDelay();
  }

 private:
  bool upgrade_request() const { return down_->upgrade(); }

  static LocalReply Local(int status, std::string body, std::string flag) {
    LocalReply r;
    r.status = status;
    r.body = std::move(body);
    r.flag = std::move(flag);
    if (!r.body.empty()) r.headers.Set("content-type", "text/plain");
    return r;
  }

  // After the fault's delay (if any): its abort, mirrors, the timeout, the first attempt.
  void AfterDelay() {
    if (fault_abort_) {
      ctx_.stats->faults_aborted.fetch_add(1, std::memory_order_relaxed);
      return Reply(std::move(*fault_abort_));
    }
    if (body_complete_) OnRequestComplete();
    StartAttempt();
  }

  // The downstream request is complete: the route timeout starts (as Envoy's), mirrors leave.
  void OnRequestComplete() {
    std::chrono::milliseconds timeout{route_ ? route_->timeout_ms() : 0};
    // grpc-timeout: for gRPC requests only, as Envoy's grpc_timeout_header_max.
    if (grpc_deadline_ && (timeout.count() == 0 || *grpc_deadline_ < timeout)) {
      timeout = *grpc_deadline_;
    }
    if (timeout.count() > 0) {
      ctx_.deadlines->Arm(route_deadline_, timeout, this, kRouteDeadline);
    }
    SendMirrors();
  }

  void SendMirrors() {
    if (!route_ || route_->mirrors().empty()) return;
    std::shared_ptr<std::vector<std::string>> body;
    if (!chunks_.empty() || chunks_base_ > 0) {
      if (!replayable_ || chunks_base_ > 0) {
        ctx_.stats->mirror_skipped.fetch_add(route_->mirrors_size(), std::memory_order_relaxed);
        return;
      }
      body = std::make_shared<std::vector<std::string>>(chunks_.Copy());
    }
    for (const pb::Mirror& m : route_->mirrors()) {
      double percent = m.percent();
      if (!Chance(percent, NextRandom())) continue;
      uint32_t port = m.port();
      if (port == 0) {
        const pb::Service* svc = ctx_.view->ServiceByHost(m.hostname());
        port = svc && svc->ports_size() == 1 ? svc->ports(0).port() : state_.upstream_port;
      }
      auto cluster = ctx_.view->ClusterFor(m.hostname(), m.subset(), port);
      if (!cluster || cluster->healthy() == 0) {
        ctx_.stats->mirror_failures.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      SendMirror(ctx_.pool, std::move(cluster), *state_.head, body, down_->trailers(), ctx_.stats);
    }
  }

  // ---- attempts ----

  struct Attempt {
    uint64_t id = 0;
    std::optional<size_t> endpoint;
    std::shared_ptr<UpstreamRequest> up;
    size_t next_chunk = 0;  // index (absolute) of the next body chunk to send
    bool writing = false;
    bool finished = false;  // request end sent
    bool counted = false;   // holds a circuit-breaker request
    bool endpoint_finished = false;
    Deadline per_try;  // per-try timeout
  };

  void StartAttempt() {
    if (done_) return;
    resilience::ClusterState& cs = cluster_->state();
    if (!cs.breaker.TryStartRequest()) return Overflow();
    auto a = std::make_shared<Attempt>();
    a->id = ++attempt_ids_;
    a->counted = true;
    a->endpoint =
        cluster_->Pick(hash_, hashing_ ? nullptr : &tried_, retry_->retry_remote_localities());
    attempt_ = a;
    if (!a->endpoint) {
      EndAttempt(*a);
      if (tried_.empty()) return Reply(Local(503, "no healthy upstream", "UH"));
      return Reply(Local(503, std::string(kResetBeforeHeaders) + "connection failure",
                         retries_ > 0 ? "URX" : "UF"));
    }
    tried_.push_back(*a->endpoint);
    cluster_->Started(*a->endpoint);
    if (retry_->per_try_timeout().count() > 0) {
      ctx_.deadlines->Arm(a->per_try, retry_->per_try_timeout(), this, a->id);
    }
    auto self = shared_from_this();
    ctx_.pool->Open(
        cluster_->endpoint(*a->endpoint), protocol_,
        std::chrono::milliseconds(cluster_->connect_timeout_ms()),
        [self, a](ResetReason reason, std::shared_ptr<UpstreamRequest> up) {
          self->OnUpstream(a, reason, std::move(up));
        },
        cluster_->shared_state());
  }

  bool Current(const Attempt& a) const { return !done_ && attempt_ && attempt_->id == a.id; }

  // The attempt no longer counts: its endpoint's active count, its circuit-breaker request,
  // its timer; an unfinished upstream stream is reset.
  void EndAttempt(Attempt& a) {
    a.per_try.Cancel();
    if (a.counted) {
      a.counted = false;
      cluster_->state().breaker.FinishRequest();
    }
  }

  void OnUpstream(const std::shared_ptr<Attempt>& a, ResetReason reason,
                  std::shared_ptr<UpstreamRequest> up) {
    if (!Current(*a)) {
      if (up) up->Release();
      return;
    }
    if (!up) {
      if (reason == ResetReason::kOverflow) {
        FinishAttemptOn(*a);
        return Overflow();
      }
      cluster_->stats(*a->endpoint).connect_failures.fetch_add(1, std::memory_order_relaxed);
      Outlier(*a, lb::OutlierResult::kLocalOriginFailure);
      resilience::AttemptResult r;
      r.outcome = resilience::AttemptOutcome::kConnectFailure;
      if (MaybeRetry(*a, r)) return;
      FinishAttemptOn(*a);
      return Reply(Local(503, std::string(kResetBeforeHeaders) + "connection failure",
                         retries_ > 0 ? "URX" : "UF"));
    }
    Outlier(*a, lb::OutlierResult::kLocalOriginSuccess);
    a->up = std::move(up);
    ctx_.stats->upstream_requests.fetch_add(1, std::memory_order_relaxed);
    bool body = down_->has_body();
    a->up->SendHead(*state_.head, !body);
    a->finished = !body;
    if (body) PumpRequestBody(a);
    auto self = shared_from_this();
    a->up->ReadHead(
        [self, a](error_code e, http::ResponseHead* head) { self->OnResponseHead(a, e, head); });
  }

  // ---- request body: kept in chunks for replay, one write in flight per attempt ----

  void PumpRequestBody(const std::shared_ptr<Attempt>& a) {
    if (!Current(*a) || !a->up || a->writing || a->finished) return;
    if (a->next_chunk < chunks_base_) {
      // Chunks this attempt needs are gone (not replayable): cannot happen for the current
      // attempt, which is the only one once the body overflowed.
      return;
    }
    size_t index = a->next_chunk - chunks_base_;
    if (index < chunks_.size()) {
      a->writing = true;
      auto self = shared_from_this();
      a->up->WriteBody(chunks_[index], [self, a](error_code e) {
        a->writing = false;
        if (e || !self->Current(*a)) return;  // the response side sees the upstream's failure
        ++a->next_chunk;
        self->DropSentChunks(*a);
        self->PumpRequestBody(a);
      });
      return;
    }
    if (body_complete_) {
      a->finished = true;
      a->up->Finish(down_->trailers());
      return;
    }
    ReadDownstream();
  }

  // Once the body is no longer replayable, chunks the current attempt has sent are dropped.
  void DropSentChunks(const Attempt& a) {
    if (replayable_) return;
    while (!chunks_.empty() && chunks_base_ < a.next_chunk) {
      chunks_.pop_front();
      ++chunks_base_;
    }
  }

  void ReadDownstream() {
    if (reading_down_ || body_complete_) return;
    reading_down_ = true;
    auto self = shared_from_this();
    down_->ReadBody([self](error_code e, std::string_view data, bool end) {
      self->reading_down_ = false;
      if (self->done_) return;
      if (e) return self->DownstreamGone();
      if (!data.empty()) {
        self->buffered_ += data.size();
        if (self->buffered_ > kReplayLimit) self->replayable_ = false;
        self->chunks_.emplace_back(data);
      }
      if (end) {
        self->body_complete_ = true;
        self->OnRequestComplete();
      }
      if (self->attempt_) self->PumpRequestBody(self->attempt_);
    });
  }

  // ---- results ----

  void Outlier(const Attempt& a, lb::OutlierResult r, int status = 0) {
    if (a.endpoint) cluster_->ReportOutlier(*a.endpoint, r, status);
  }

  // The attempt is over for its endpoint (not necessarily for its stream, which the response
  // may still use).
  void FinishAttemptOn(Attempt& a) {
    if (a.endpoint && !a.endpoint_finished) {
      a.endpoint_finished = true;
      cluster_->Finished(*a.endpoint);
    }
    EndAttempt(a);
  }

  // Decides whether the result of attempt `a` is retried; if so the attempt is abandoned and
  // the next one scheduled.
  bool MaybeRetry(Attempt& a, const resilience::AttemptResult& r) {
    if (!retry_->Retriable(r)) return false;
    if (down_->head_sent() || !replayable_) return false;
    resilience::ClusterState& cs = cluster_->state();
    if (retries_ >= retry_->num_retries()) {
      ctx_.stats->retry_limit_exceeded.fetch_add(1, std::memory_order_relaxed);
      cs.retry_limit_exceeded.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    // maxRetries: a request holds one slot from its first retry until it completes.
    if (!retry_active_) {
      if (!cs.breaker.TryStartRetry()) {
        ctx_.stats->retry_overflow.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      retry_active_ = true;
    }
    if (auto* budget = cluster_->budget(); budget && !budget->TryRetry()) {
      ctx_.stats->retry_budget_exceeded.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    FinishAttemptOn(a);
    ++retries_;
    ctx_.stats->retries.fetch_add(1, std::memory_order_relaxed);
    cs.retries.fetch_add(1, std::memory_order_relaxed);
    if (a.up) {
      a.up->Release();
      a.up.reset();
    }
    attempt_.reset();
    auto wait = retry_->Backoff(retries_, NextRandom());
    timer_ = std::make_unique<asio::steady_timer>(down_->executor(), wait);
    auto self = shared_from_this();
    timer_->async_wait([self](error_code e) {
      if (e || self->done_) return;
      self->StartAttempt();
    });
    return true;
  }

  // Tags of this exchange's deadlines: the route timeout, else an attempt's id (from 1).
  static constexpr uint64_t kRouteDeadline = 0;
  void OnDeadline(uint64_t tag) override {
    auto self = shared_from_this();  // alive to the end of what the timeout sets off
    if (tag == kRouteDeadline) return OnRouteTimeout();
    OnPerTryTimeout(tag);
  }

  void OnPerTryTimeout(uint64_t id) {
    if (done_ || !attempt_ || attempt_->id != id || got_head_) return;
    std::shared_ptr<Attempt> a = attempt_;
    ctx_.stats->per_try_timeouts.fetch_add(1, std::memory_order_relaxed);
    cluster_->state().per_try_timeouts.fetch_add(1, std::memory_order_relaxed);
    if (a->endpoint) cluster_->stats(*a->endpoint).errors.fetch_add(1, std::memory_order_relaxed);
    Outlier(*a, lb::OutlierResult::kLocalOriginFailure);
    resilience::AttemptResult r;
    r.outcome = resilience::AttemptOutcome::kPerTryTimeout;
    if (MaybeRetry(*a, r)) return;
    Reply(Local(504, "upstream request timeout", "UT"));
  }

  void OnRouteTimeout() {
    if (done_) return;
    ctx_.stats->timeouts.fetch_add(1, std::memory_order_relaxed);
    cluster_->state().timeouts.fetch_add(1, std::memory_order_relaxed);
    if (down_->head_sent()) return DownstreamGone();
    Reply(Local(504, "upstream request timeout", "UT"));
  }

  void Overflow() {
    ctx_.stats->pending_overflow.fetch_add(1, std::memory_order_relaxed);
    Reply(Local(503, std::string(kResetBeforeHeaders) + "overflow", "UO"));
  }

  void OnResponseHead(const std::shared_ptr<Attempt>& a, error_code e, http::ResponseHead* head) {
    if (!Current(*a)) return;
    a->per_try.Cancel();
    if (e || !head) {
      ResetReason r = a->up->reset_reason();
      cluster_->stats(*a->endpoint).errors.fetch_add(1, std::memory_order_relaxed);
      resilience::AttemptResult result;
      result.outcome =
          r == ResetReason::kRemoteRefusedReset ? resilience::AttemptOutcome::kRefusedStream
          : r == ResetReason::kProtocolError    ? resilience::AttemptOutcome::kProtocolError
                                                : resilience::AttemptOutcome::kReset;
      Outlier(*a, lb::OutlierResult::k5xx, r == ResetReason::kProtocolError ? 502 : 503);
      if (MaybeRetry(*a, result)) return;
      std::string flag = retries_ > 0 ? "URX" : "UR";
      if (r == ResetReason::kRemoteRefusedReset) {
        return Reply(
            Local(503, std::string(kResetBeforeHeaders) + "remote refused stream reset", flag));
      }
      if (r == ResetReason::kProtocolError) {
        return Reply(Local(502, "upstream sent an invalid response", "UPE"));
      }
      return Reply(Local(502, std::string(kResetBeforeHeaders) + "remote reset", flag));
    }
    if (head->status >= 500) {
      cluster_->stats(*a->endpoint).errors.fetch_add(1, std::memory_order_relaxed);
      Outlier(*a, lb::OutlierResult::k5xx, head->status);
    } else {
      Outlier(*a, lb::OutlierResult::kSuccess, head->status);
    }
    resilience::AttemptResult result;
    result.status = head->status;
    result.grpc_status = GrpcStatusOf(head->headers);
    if (MaybeRetry(*a, result)) return;
    got_head_ = true;
    up_ = a->up;
    if (retries_ > 0) {
      if (head->status < 500) {
        ctx_.stats->retry_success.fetch_add(1, std::memory_order_relaxed);
        cluster_->state().retry_success.fetch_add(1, std::memory_order_relaxed);
      } else if (retry_->Retriable(result)) {
        ctx_.stats->CountFlag("URX");
      }
    }
    if (head->status == 101) return Upgrade(*head);
    ctx_.chain->OnResponse(state_, *head);
    if (!set_cookie_.empty()) head->headers.Add("set-cookie", set_cookie_);
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
        if (self->attempt_ && self->attempt_->endpoint)
          self->cluster_->stats(*self->attempt_->endpoint)
              .errors.fetch_add(1, std::memory_order_relaxed);
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
    if (IsGrpcRequest(state_.head->headers)) r = AsGrpcReply(std::move(r));
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
    if (attempt_) FinishAttemptOn(*attempt_);
    if (retry_active_) {
      retry_active_ = false;
      cluster_->state().breaker.FinishRetry();
    }
    done_ = true;
    if (timer_) timer_->cancel();
    route_deadline_.Cancel();
    if (attempt_ && attempt_->up) attempt_->up->Release();
    if (up_) up_->Release();
    down_->Done();
  }

  std::shared_ptr<DownstreamRequest> down_;
  ExchangeContext ctx_;
  RequestState state_;
  const pb::HttpRoute* route_ = nullptr;
  std::shared_ptr<Cluster> cluster_;
  UpstreamProtocol protocol_ = UpstreamProtocol::kHttp1;
  // Retries.
  const resilience::RetryPolicy* retry_ = nullptr;
  uint32_t retries_ = 0;
  bool retry_active_ = false;  // holds a maxRetries slot
  std::vector<size_t> tried_;
  uint64_t hash_ = 0;
  bool hashing_ = false;
  std::string set_cookie_;
  std::optional<LocalReply> fault_abort_;
  std::shared_ptr<Attempt> attempt_;
  uint64_t attempt_ids_ = 0;
  bool got_head_ = false;
  std::unique_ptr<asio::steady_timer> timer_;               // fault delay, backoff
  Deadline route_deadline_;                                 // route timeout
  std::optional<std::chrono::milliseconds> grpc_deadline_;  // a gRPC request's grpc-timeout
  // The request body, kept for replay while it fits.
  ChunkQueue chunks_;
  size_t chunks_base_ = 0;  // absolute index of chunks_.front()
  size_t buffered_ = 0;
  bool replayable_ = true;
  bool body_complete_ = false;
  bool reading_down_ = false;
  std::shared_ptr<UpstreamRequest> up_;  // the attempt whose response goes to the client
  std::string local_body_;
  bool done_ = false;
};

}  // namespace

void StartExchange(std::shared_ptr<DownstreamRequest> downstream, ExchangeContext context) {
  auto ex = std::make_shared<Exchange>(std::move(downstream), std::move(context));
  ex->Run();
}

}  // namespace weft::waypoint
