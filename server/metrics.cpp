#include "server/metrics.h"

#include <cmath>
#include <sstream>

namespace gpushare::server {

namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\')
      out += "\\\\";
    else if (ch == '"')
      out += "\\\"";
    else if (ch == '\n')
      out += "\\n";
    else
      out += ch;
  }
  return out;
}

std::string label_text(const Labels& labels, const std::string& extra_key = {},
                       const std::string& extra_value = {}) {
  std::string out;
  auto add = [&](const std::string& k, const std::string& v) {
    out += (out.empty() ? "" : ",") + k + "=\"" + escape_label(v) + "\"";
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (!extra_key.empty()) add(extra_key, extra_value);
  return out.empty() ? "" : "{" + out + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

}  // namespace

Metrics::Metrics() {
  describe("gpushare_http_requests_total", "counter", "HTTP requests by route and status code.");
  describe("gpushare_http_request_duration_seconds", "histogram",
           "Time to answer an HTTP request, by route.");
  describe("gpushare_admission_decisions_total", "counter",
           "Admission decisions by outcome and rule.");
  describe("gpushare_admission_denials_total", "counter", "Pods denied at admission.");
  describe("gpushare_extender_decisions_total", "counter",
           "Extender node verdicts by verb and outcome.");
  describe("gpushare_tls_reloads_total", "counter", "Serving certificate reloads by result.");
}

const std::vector<double>& Metrics::latency_buckets() {
  static const std::vector<double> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  return kBuckets;
}

const std::vector<double>& Metrics::wait_buckets() {
  static const std::vector<double> kBuckets = {1,  2.5, 5,   10,  20,  30,  60,
                                               90, 120, 180, 300, 600, 900, 1800};
  return kBuckets;
}

void Metrics::describe_histogram(const std::string& name, const std::string& help,
                                 std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  f.type = "histogram";
  f.help = help;
  f.bounds = std::move(bounds);
}

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  f.type = type;
  f.help = help;
}

void Metrics::inc(const std::string& name, const Labels& labels, double by) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  if (f.type.empty()) f.type = "counter";
  f.values[labels] += by;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  if (f.type.empty()) f.type = "gauge";
  f.values[labels] = value;
}

void Metrics::observe(const std::string& name, const Labels& labels, double seconds) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  if (f.type.empty()) f.type = "histogram";
  const auto& bounds = f.bounds.empty() ? latency_buckets() : f.bounds;
  auto& h = f.histograms[labels];
  if (h.buckets.empty()) h.buckets.assign(bounds.size(), 0);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (seconds <= bounds[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::gauge_fn(const std::string& name, const std::string& help,
                       std::function<double()> fn) {
  std::lock_guard lock(mu_);
  auto& f = families_[name];
  f.type = "gauge";
  f.help = help;
  f.fn = std::move(fn);
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  for (const auto& [name, f] : families_) {
    const auto& bounds = f.bounds.empty() ? latency_buckets() : f.bounds;
    if (!f.help.empty()) out << "# HELP " << name << ' ' << f.help << '\n';
    out << "# TYPE " << name << ' ' << (f.type.empty() ? "untyped" : f.type) << '\n';
    if (f.fn) out << name << ' ' << number(f.fn()) << '\n';
    for (const auto& [labels, v] : f.values)
      out << name << label_text(labels) << ' ' << number(v) << '\n';
    for (const auto& [labels, h] : f.histograms) {
      for (std::size_t i = 0; i < bounds.size(); ++i) {
        out << name << "_bucket" << label_text(labels, "le", number(bounds[i])) << ' '
            << h.buckets[i] << '\n';
      }
      out << name << "_bucket" << label_text(labels, "le", "+Inf") << ' ' << h.count << '\n';
      out << name << "_sum" << label_text(labels) << ' ' << number(h.sum) << '\n';
      out << name << "_count" << label_text(labels) << ' ' << h.count << '\n';
    }
  }
  return out.str();
}

}  // namespace gpushare::server
