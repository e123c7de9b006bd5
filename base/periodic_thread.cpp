#include "base/periodic_thread.h"

#include <utility>

namespace gpushare::base {

void PeriodicThread::start(std::chrono::milliseconds period, FirstRound first,
                           std::function<void()> round) {
  stop();
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
    woken_ = first == FirstRound::kNow;
  }
  thread_ = std::thread([this, period, round = std::move(round)] {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait_for(lock, period, [this] { return woken_ || stopping_; });
      if (stopping_) return;
      woken_ = false;
      lock.unlock();
      round();
      lock.lock();
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
