#include "base/periodic_thread.h"

#include <algorithm>
#include <utility>

namespace gpushare::base {

void PeriodicThread::start(std::chrono::milliseconds period, FirstRound first,
                           std::function<void()> round, std::chrono::milliseconds min_gap) {
  stop();
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
    woken_ = first == FirstRound::kNow;
  }
  min_gap = std::min(min_gap, period);
  thread_ = std::thread([this, period, min_gap, round = std::move(round)] {
    std::unique_lock lock(mu_);
    bool after_round = false;
    while (true) {
      if (after_round && min_gap.count() > 0) {
        // Only stop() cuts the gap short; a wake() in it is kept for after.
        if (cv_.wait_for(lock, min_gap, [this] { return stopping_; })) return;
        cv_.wait_for(lock, period - min_gap, [this] { return woken_ || stopping_; });
      } else {
        cv_.wait_for(lock, period, [this] { return woken_ || stopping_; });
      }
      if (stopping_) return;
      woken_ = false;
      lock.unlock();
      round();
      lock.lock();
      after_round = true;
    }
  });
}

void PeriodicThread::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void PeriodicThread::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace gpushare::base
