// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
// text exposition format (version 0.0.4). Thread-safe; updates take one mutex briefly.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace gpushare::server {

using Labels = std::map<std::string, std::string>;

class Metrics {
 public:
  Metrics();

  void inc(const std::string& name, const Labels& labels = {}, double by = 1);
  void set(const std::string& name, const Labels& labels, double value);
  void observe(const std::string& name, const Labels& labels, double seconds);
  // A gauge computed at scrape time (cache sizes, watch restarts kept elsewhere).
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> fn);
  void describe(const std::string& name, const std::string& type, const std::string& help);
  // A histogram whose observations span other scales than a request's (upper bounds, ascending).
  void describe_histogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds);

  std::string render() const;

  // Latency buckets in seconds: the webhook's budget is milliseconds, the apiserver's
  // timeout seconds.
  static const std::vector<double>& latency_buckets();
  // Seconds to minutes: how long a pod waits for a repartition (propagation ~1 min, MIG ~minutes).
  static const std::vector<double>& wait_buckets();

 private:
  struct Histogram {
    std::vector<std::uint64_t> buckets;
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    std::string type;
    std::string help;
    std::map<Labels, double> values;
    std::map<Labels, Histogram> histograms;
    std::function<double()> fn;
    std::vector<double> bounds;  // histograms; empty: latency_buckets()
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace gpushare::server
