// Memory figures of the benchmark's own process, from /proc/self/status, for the benches that
// report RSS beside their timings.
#pragma once

#include <fstream>
#include <string>

namespace gpushare::bench {

// A "Vm...:" line of /proc/self/status in KiB (VmRSS: resident now; VmHWM: peak since the last
// reset_peak_rss), or -1 when absent.
inline long proc_status_kib(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string k;
  while (status >> k) {
    long value = 0;
    if (k == key && status >> value) return value;
    status.ignore(1 << 20, '\n');
  }
  return -1;
}

inline long rss_kib() { return proc_status_kib("VmRSS:"); }
inline long peak_rss_kib() { return proc_status_kib("VmHWM:"); }

// Resets VmHWM to the current RSS (writing 5 to clear_refs).
inline void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace gpushare::bench
