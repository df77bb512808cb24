#pragma once

// Deadlines of a worker's exchanges (route timeouts, per-try timeouts), served by one Asio
// timer. Almost every such deadline is cancelled long before it is due (a request answered in
// a millisecond behind a 15 s timeout), so what matters is the cost of arming and cancelling.
// An asio::steady_timer per deadline takes the reactor's lock twice and runs its handler
// through the scheduler on cancel (~0.45 µs each on the benchmark machine, two per request
// with a retry policy). Here a deadline is a Deadline embedded in its owner, linked into the
// list of its duration: deadlines of one duration are added in the order they fall due, so
// each list stays sorted by itself; Arm is a lookup of the list and an append, Cancel an
// unlink, neither allocates; the Asio timer is re-armed only when a new deadline is earlier
// than every pending one.
//
// Single-threaded: a queue belongs to one worker's executor and is used only from it. A
// Deadline unlinks itself when it is destroyed, so an owner that is gone is never called.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace weft::waypoint {

class DeadlineQueue;

class DeadlineTarget {
 public:
  virtual ~DeadlineTarget() = default;
  // The deadline armed with `tag` is due (it is no longer armed).
  virtual void OnDeadline(uint64_t tag) = 0;
};

// One pending-or-not deadline of a target; lives inside the target (or anything the target
// owns). Not copyable: the queue links to it.
class Deadline {
 public:
  Deadline() = default;
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() { Cancel(); }

  bool armed() const { return queue_ != nullptr; }
  void Cancel();

 private:
  friend class DeadlineQueue;
  DeadlineQueue* queue_ = nullptr;  // set while armed
  Deadline* prev_ = nullptr;
  Deadline* next_ = nullptr;
  std::chrono::steady_clock::time_point when_{};
  std::chrono::steady_clock::duration after_{};  // the list it is in
  DeadlineTarget* target_ = nullptr;
  uint64_t tag_ = 0;
};

class DeadlineQueue : public std::enable_shared_from_this<DeadlineQueue> {
 public:
  using Clock = std::chrono::steady_clock;

  static std::shared_ptr<DeadlineQueue> Create(boost::asio::any_io_executor executor);
  ~DeadlineQueue();

  // Calls target->OnDeadline(tag) once `after` has passed, unless `d` is cancelled or
  // destroyed first. An armed `d` is re-armed.
  void Arm(Deadline& d, Clock::duration after, DeadlineTarget* target, uint64_t tag);

  size_t pending() const { return pending_; }

 private:
  friend class Deadline;
  static constexpr size_t kKeptLists = 32;
  struct List {
    Deadline* head = nullptr;
    Deadline* tail = nullptr;
  };
  explicit DeadlineQueue(boost::asio::any_io_executor executor);
  void Unlink(Deadline& d);
  void ArmTimer(Clock::time_point when);
  void OnTimer();
  // The list whose head falls due first, or null.
  List* Earliest();

  boost::asio::steady_timer timer_;
  Clock::time_point armed_at_ = Clock::time_point::max();  // the pending wait's expiry
  std::map<Clock::duration, List> lists_;                  // by duration; few of them
  size_t pending_ = 0;
};

}  // namespace weft::waypoint
