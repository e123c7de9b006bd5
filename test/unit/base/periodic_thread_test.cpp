// base::PeriodicThread: the first round now or after a period, wake() cuts the wait short, and
// stop() is prompt even with an hour-long period.
#include "base/periodic_thread.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <thread>

namespace gpushare::base {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Polls `done` for up to 10 s (a loaded CI machine), true when it held.
template <typename F>
bool eventually(F done) {
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

TEST(PeriodicThread, FirstRoundNowThenWakeInsteadOfAnHour) {
  std::atomic<int> rounds{0};
  PeriodicThread t;
  t.start(1h, PeriodicThread::FirstRound::kNow, [&] { ++rounds; });
  EXPECT_TRUE(eventually([&] { return rounds == 1; }));
  t.wake();
  EXPECT_TRUE(eventually([&] { return rounds == 2; }));
  const auto before = Clock::now();
  t.stop();
  EXPECT_LT(Clock::now() - before, 5s);  // not the hour
  EXPECT_EQ(rounds, 2);
  t.stop();  // idempotent
}

TEST(PeriodicThread, AfterPeriodWaitsThenRepeats) {
  std::atomic<int> rounds{0};
  PeriodicThread t;
  t.start(1h, PeriodicThread::FirstRound::kAfterPeriod, [&] { ++rounds; });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(rounds, 0);
  t.stop();
  EXPECT_EQ(rounds, 0);
  t.start(1ms, PeriodicThread::FirstRound::kAfterPeriod, [&] { ++rounds; });
  EXPECT_TRUE(eventually([&] { return rounds >= 3; }));
}  // the destructor stops it

TEST(PeriodicThread, StopWaitsForARunningRound) {
  std::atomic<bool> in_round{false};
  std::atomic<bool> finished{false};
  PeriodicThread t;
  t.start(1h, PeriodicThread::FirstRound::kNow, [&] {
    in_round = true;
    std::this_thread::sleep_for(50ms);
    finished = true;
  });
  ASSERT_TRUE(eventually([&] { return in_round.load(); }));
  t.stop();
  EXPECT_TRUE(finished);
}

// A stream of wakes (one per cluster event) costs a round per min_gap, not a round per wake,
// and the last wake is not lost.
TEST(PeriodicThread, WakesWithinTheMinimumGapMergeIntoOneRound) {
  std::atomic<int> rounds{0};
  std::array<Clock::time_point, 3> started{};
  PeriodicThread t;
  t.start(
      1h, PeriodicThread::FirstRound::kNow,
      [&] {
        const int n = rounds;
        if (n < 3) started[static_cast<std::size_t>(n)] = Clock::now();
        ++rounds;
      },
      300ms);
  ASSERT_TRUE(eventually([&] { return rounds == 1; }));
  for (int i = 0; i < 100; ++i) {
    t.wake();
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(eventually([&] { return rounds == 2; }));
  EXPECT_GE(started[1] - started[0], 300ms);  // not before the gap
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(rounds, 2);  // a hundred wakes, one round
  const auto before = Clock::now();
  t.stop();  // stop() still cuts a gap short
  EXPECT_LT(Clock::now() - before, 5s);
}

}  // namespace
}  // namespace gpushare::base
