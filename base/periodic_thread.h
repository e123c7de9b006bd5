// A thread that runs one round of work every period, sooner when woken, and stops promptly:
// stop() interrupts the wait and joins, so shutdown never waits out a period. The repartition
// controller, the Lease elector and the certificate watcher each run one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace gpushare::base {

class PeriodicThread {
 public:
  enum class FirstRound { kNow, kAfterPeriod };

  PeriodicThread() = default;
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;
  ~PeriodicThread() { stop(); }

  // Runs `round` on a new thread, first at once or after one period, then `period` after each
  // round ends or as soon as wake() is called, but never sooner than `min_gap` after the last
  // round ended (wakes in between are merged into one round). A running thread is stopped first.
  void start(std::chrono::milliseconds period, FirstRound first, std::function<void()> round,
             std::chrono::milliseconds min_gap = std::chrono::milliseconds(0));
  // The next round starts without waiting out the period (or right after the current one).
  void wake();
  // Interrupts the wait, lets a running round finish, joins. Idempotent.
  void stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace gpushare::base
