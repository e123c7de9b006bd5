#include "repartition/observed_times.h"

namespace gpushare::repartition {

namespace {

std::string value_key(const std::string& key, Clock::time_point written) {
  return key + "=" + format_time(written);
}

}  // namespace

Clock::time_point ObservedTimes::local(const std::string& key, Clock::time_point written,
                                       Clock::time_point now) {
  auto [it, added] = seen_.try_emplace(value_key(key, written), Seen{now});
  it->second.used = true;
  return it->second.at;
}

void ObservedTimes::own(const std::string& key, Clock::time_point written, Clock::time_point now) {
  seen_[value_key(key, written)] = Seen{now};
}

void ObservedTimes::sweep(const std::string& keep_prefix) {
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (!it->second.used && it->first.rfind(keep_prefix, 0) != 0) {
      it = seen_.erase(it);
      continue;
    }
    it->second.used = false;
    ++it;
  }
}

}  // namespace gpushare::repartition
