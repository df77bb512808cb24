#include "waypoint/http/deadlines.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <vector>

namespace weft::waypoint {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Recorder : DeadlineTarget {
  std::vector<uint64_t> fired;
  std::function<void(uint64_t)> also;
  void OnDeadline(uint64_t tag) override {
    fired.push_back(tag);
    if (also) also(tag);
  }
};

class DeadlineQueueTest : public ::testing::Test {
 protected:
  void RunFor(Clock::duration d) {
    io_.restart();
    io_.run_for(d);
  }
  boost::asio::io_context io_{1};
  std::shared_ptr<DeadlineQueue> q_ = DeadlineQueue::Create(io_.get_executor());
  Recorder r_;
  Deadline d_[4];
};

TEST_F(DeadlineQueueTest, FiresInDeadlineOrderAcrossDurations) {
  q_->Arm(d_[0], 60ms, &r_, 3);
  q_->Arm(d_[1], 20ms, &r_, 1);  // earlier than the armed one: re-arms the timer
  q_->Arm(d_[2], 40ms, &r_, 2);
  auto start = Clock::now();
  RunFor(30ms);
  EXPECT_EQ(r_.fired, (std::vector<uint64_t>{1}));
  EXPECT_GE(Clock::now() - start, 20ms);
  EXPECT_FALSE(d_[1].armed());
  EXPECT_TRUE(d_[2].armed());
  RunFor(100ms);
  EXPECT_EQ(r_.fired, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(q_->pending(), 0u);
}

TEST_F(DeadlineQueueTest, OneDurationFiresInTheOrderArmed) {
  for (uint64_t i = 0; i < 4; ++i) q_->Arm(d_[i], 20ms, &r_, i);
  RunFor(80ms);
  EXPECT_EQ(r_.fired, (std::vector<uint64_t>{0, 1, 2, 3}));
}

TEST_F(DeadlineQueueTest, CancelledOrDestroyedDeadlinesNeverFire) {
  q_->Arm(d_[0], 10ms, &r_, 1);  // the one the timer waits for
  q_->Arm(d_[1], 20ms, &r_, 2);
  q_->Arm(d_[2], 30ms, &r_, 3);
  {
    Deadline scoped;
    q_->Arm(scoped, 15ms, &r_, 9);
  }  // its owner is gone
  d_[0].Cancel();
  d_[1].Cancel();
  d_[1].Cancel();  // twice: nothing
  EXPECT_EQ(q_->pending(), 1u);
  RunFor(80ms);
  EXPECT_EQ(r_.fired, (std::vector<uint64_t>{3}));
}

TEST_F(DeadlineQueueTest, ReArmingMovesADeadline) {
  q_->Arm(d_[0], 10ms, &r_, 1);
  q_->Arm(d_[0], 40ms, &r_, 2);  // replaces the first
  q_->Arm(d_[1], 20ms, &r_, 3);
  RunFor(80ms);
  EXPECT_EQ(r_.fired, (std::vector<uint64_t>{3, 2}));
}

TEST_F(DeadlineQueueTest, ACallbackMayArmCancelAndDestroy) {
  auto owned = std::make_unique<Deadline>();
  q_->Arm(*owned, 10ms, &r_, 5);  // due with tag 1: destroyed by its callback
  q_->Arm(d_[2], 40ms, &r_, 9);
  r_.also = [&](uint64_t tag) {
    if (tag == 1) {
      d_[2].Cancel();
      owned.reset();
      q_->Arm(d_[1], 10ms, &r_, 2);
    }
  };
  q_->Arm(d_[0], 10ms, &r_, 1);
  RunFor(100ms);
  EXPECT_EQ(r_.fired, (std::vector<uint64_t>{5, 1, 2}));
}

TEST_F(DeadlineQueueTest, ManyDurationsDoNotPileUp) {
  // A client's grpc-timeout may be any value: lists of durations no longer used go.
  for (int i = 0; i < 200; ++i) {
    Deadline d;
    q_->Arm(d, std::chrono::milliseconds(1000 + i), &r_, 1);
  }
  EXPECT_EQ(q_->pending(), 0u);
  q_->Arm(d_[0], 5ms, &r_, 7);
  RunFor(40ms);
  EXPECT_EQ(r_.fired, (std::vector<uint64_t>{7}));
}

TEST_F(DeadlineQueueTest, AQueueDestroyedFirstLeavesItsDeadlinesDetached) {
  q_->Arm(d_[0], 10ms, &r_, 1);
  q_.reset();
  EXPECT_FALSE(d_[0].armed());
  RunFor(40ms);
  EXPECT_TRUE(r_.fired.empty());
}

}  // namespace
}  // namespace weft::waypoint
