#include "waypoint/http/deadlines.h"

namespace weft::waypoint {

void Deadline::Cancel() {
  if (queue_) queue_->Unlink(*this);
}

std::shared_ptr<DeadlineQueue> DeadlineQueue::Create(boost::asio::any_io_executor executor) {
  return std::shared_ptr<DeadlineQueue>(new DeadlineQueue(std::move(executor)));
}

DeadlineQueue::DeadlineQueue(boost::asio::any_io_executor executor) : timer_(executor) {}

DeadlineQueue::~DeadlineQueue() {
  // Deadlines still armed outlive the queue (their owners are torn down later): detach them.
  for (auto& [after, list] : lists_) {
    for (Deadline* d = list.head; d;) {
      Deadline* next = d->next_;
      d->queue_ = nullptr;
      d->prev_ = d->next_ = nullptr;
      d = next;
    }
  }
}

void DeadlineQueue::Arm(Deadline& d, Clock::duration after, DeadlineTarget* target, uint64_t tag) {
  d.Cancel();
  d.queue_ = this;
  d.when_ = Clock::now() + after;
  d.after_ = after;
  d.target_ = target;
  d.tag_ = tag;
  // Appended: every deadline already in this list was armed earlier with the same duration,
  // so falls due no later (the clock is monotonic).
  List& list = lists_[after];
  d.prev_ = list.tail;
  d.next_ = nullptr;
  (list.tail ? list.tail->next_ : list.head) = &d;
  list.tail = &d;
  ++pending_;
  if (d.when_ < armed_at_) ArmTimer(d.when_);
}

void DeadlineQueue::Unlink(Deadline& d) {
  // The Asio timer stays armed: when it fires for a deadline no longer here, it re-arms for
  // the earliest one left (cheaper than re-arming on every cancellation).
  auto it = lists_.find(d.after_);
  if (it != lists_.end()) {
    List& list = it->second;
    (d.prev_ ? d.prev_->next_ : list.head) = d.next_;
    (d.next_ ? d.next_->prev_ : list.tail) = d.prev_;
    // Lists of the durations in use stay (no allocation per request); past a few (each
    // gRPC client's grpc-timeout may be another), empty ones go.
    if (!list.head && lists_.size() > kKeptLists) lists_.erase(it);
  }
  d.queue_ = nullptr;
  d.prev_ = d.next_ = nullptr;
  --pending_;
}

DeadlineQueue::List* DeadlineQueue::Earliest() {
  List* best = nullptr;
  for (auto& [after, list] : lists_) {
    if (list.head && (!best || list.head->when_ < best->head->when_)) best = &list;
  }
  return best;
}

void DeadlineQueue::ArmTimer(Clock::time_point when) {
  armed_at_ = when;
  timer_.expires_at(when);  // cancels the previous wait: its handler sees operation_aborted
  std::weak_ptr<DeadlineQueue> weak = weak_from_this();
  timer_.async_wait([weak](boost::system::error_code ec) {
    if (ec) return;  // re-armed or shut down
    if (auto self = weak.lock()) self->OnTimer();
  });
}

void DeadlineQueue::OnTimer() {
  armed_at_ = Clock::time_point::max();
  const Clock::time_point now = Clock::now();
  // One at a time, unlinked before its target runs: OnDeadline may arm or cancel deadlines,
  // or destroy its owner (and with it other deadlines).
  while (List* list = Earliest()) {
    Deadline* d = list->head;
    if (d->when_ > now) break;
    DeadlineTarget* target = d->target_;
    uint64_t tag = d->tag_;
    Unlink(*d);
    target->OnDeadline(tag);
  }
  if (List* list = Earliest(); list && list->head->when_ < armed_at_) {
    ArmTimer(list->head->when_);
  }
}

}  // namespace weft::waypoint
