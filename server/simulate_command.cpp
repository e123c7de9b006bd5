// `gpushare simulate`: what repartitioning would do for a cluster and a workload (policy/sim.h),
// side by side with the static layouts and a naive greedy planner, on the same traces.
#include "server/simulate_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "policy/sim.h"
#include "server/command_input.h"
#include "server/nodes_file.h"

namespace gpushare::server {
namespace {

using nlohmann::ordered_json;

int fail(std::ostream& err, const std::string& message) {
  err << "gpushare: simulate: " << message << "\n";
  return 2;
}

Result<double> number_flag(const SimulateFlags& flags, const std::string& name, double fallback,
                           double lo, double hi) {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return fallback;
  const std::string& text = it->second.back();
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !std::isfinite(v) || v < lo || v > hi) {
    std::ostringstream range;
    range << "--" << name << " must be a number in [" << lo << ", " << hi << "], got \"" << text
          << "\"";
    return Error{range.str()};
  }
  return v;
}

std::optional<std::string> one(const SimulateFlags& flags, const std::string& name) {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string duration(double s) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  if (s < 90)
    out << s << "s";
  else if (s < 90 * 60)
    out << s / 60 << "m";
  else
    out << s / 3600 << "h";
  return out.str();
}

std::string percent(double share) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << share * 100 << "%";
  return out.str();
}

std::string millis(double ms) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(ms < 10 ? 2 : 1);
  out << ms;
  return out.str();
}

double median(std::vector<double> v) { return policy::quantile(std::move(v), 0.5); }

// One policy's reports over the seeds, reduced to medians (planner times: pooled).
struct Summary {
  std::string policy;
  std::vector<policy::SimReport> runs;

  double med(const std::function<double(const policy::SimReport&)>& f) const {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(f(r));
    return median(v);
  }
  std::vector<double> planner_ms() const {
    std::vector<double> all;
    for (const auto& r : runs) all.insert(all.end(), r.planner_ms.begin(), r.planner_ms.end());
    return all;
  }
};

ordered_json summary_json(const Summary& s) {
  ordered_json runs = ordered_json::array();
  for (const auto& r : s.runs) {
    runs.push_back({{"pods", r.pods},
                    {"served", r.served},
                    {"waiting", r.waiting},
                    {"waitMeanSeconds", r.wait_mean_s},
                    {"waitP50Seconds", r.wait_p50_s},
                    {"waitP95Seconds", r.wait_p95_s},
                    {"waitedOver5MinShare", r.long_wait_share},
                    {"gpuAllocated", r.gpu_allocated},
                    {"reconfigurations", r.reconfigurations},
                    {"plans", r.plans},
                    {"waitingByRequest", r.waiting_by_request},
                    {"waitedOver5MinByRequest", r.long_wait_by_request}});
  }
  const auto ms = s.planner_ms();
  return {{"policy", s.policy},
          {"median",
           {{"pods", s.med([](const auto& r) { return static_cast<double>(r.pods); })},
            {"served", s.med([](const auto& r) { return static_cast<double>(r.served); })},
            {"waiting", s.med([](const auto& r) { return static_cast<double>(r.waiting); })},
            {"waitMeanSeconds", s.med([](const auto& r) { return r.wait_mean_s; })},
            {"waitP50Seconds", s.med([](const auto& r) { return r.wait_p50_s; })},
            {"waitP95Seconds", s.med([](const auto& r) { return r.wait_p95_s; })},
            {"waitedOver5MinShare", s.med([](const auto& r) { return r.long_wait_share; })},
            {"gpuAllocated", s.med([](const auto& r) { return r.gpu_allocated; })},
            {"reconfigurations",
             s.med([](const auto& r) { return static_cast<double>(r.reconfigurations); })}}},
          {"plannerMs",
           {{"calls", ms.size()},
            {"p50", policy::quantile(ms, 0.5)},
            {"p99", policy::quantile(ms, 0.99)},
            {"max", policy::quantile(ms, 1.0)}}},
          {"runs", runs}};
}

void print_table(const std::vector<Summary>& summaries, std::ostream& out) {
  const std::vector<std::string> head = {
      "policy",   "pods",       "served",    "waiting",   "wait mean",         "wait p50",
      "wait p95", "waited >5m", "GPU alloc", "reconfigs", "planner ms p50/p99"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : summaries) {
    const auto ms = s.planner_ms();
    rows.push_back(
        {s.policy, std::to_string(static_cast<long>(s.med([](const auto& r) { return r.pods; }))),
         std::to_string(static_cast<long>(s.med([](const auto& r) { return r.served; }))),
         std::to_string(static_cast<long>(s.med([](const auto& r) { return r.waiting; }))),
         duration(s.med([](const auto& r) { return r.wait_mean_s; })),
         duration(s.med([](const auto& r) { return r.wait_p50_s; })),
         duration(s.med([](const auto& r) { return r.wait_p95_s; })),
         percent(s.med([](const auto& r) { return r.long_wait_share; })),
         percent(s.med([](const auto& r) { return r.gpu_allocated; })),
         std::to_string(static_cast<long>(s.med([](const auto& r) { return r.reconfigurations; }))),
         ms.empty()
             ? std::string("-")
             : millis(policy::quantile(ms, 0.5)) + "/" + millis(policy::quantile(ms, 0.99))});
  }
  std::vector<std::size_t> width(head.size());
  for (std::size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) out << "  ";
      if (c == 0) {
        out << cells[c] << std::string(width[c] - cells[c].size(), ' ');
      } else {
        out << std::string(width[c] - cells[c].size(), ' ') << cells[c];
      }
    }
    out << "\n";
  };
  line(head);
  for (const auto& r : rows) line(r);
}

}  // namespace

int run_simulate(const SimulateFlags& flags, std::istream& in, std::ostream& out,
                 std::ostream& err) {
  (void)in;
  auto catalog = load_catalog(one(flags, "catalog").value_or(""), "--catalog");
  if (!catalog) return fail(err, catalog.error());

  // The cluster: a NodeList, or the generated one.
  std::vector<policy::SimNode> cluster;
  if (auto nodes = one(flags, "nodes")) {
    if (one(flags, "cluster")) return fail(err, "give --nodes or --cluster, not both");
    auto view = load_nodes_file(*nodes);
    if (!view) return fail(err, view.error());
    auto built = policy::cluster_from_nodes(view->nodes, *catalog);
    if (!built) return fail(err, *nodes + ": " + built.error());
    cluster = std::move(*built);
  } else {
    auto size = number_flag(flags, "cluster", 20, 1, 20000);
    auto rtx = number_flag(flags, "rtx-replicas", 4, 2, 48);
    if (!size) return fail(err, size.error());
    if (!rtx) return fail(err, rtx.error());
    auto built =
        policy::generate_cluster(static_cast<int>(*size), *catalog, static_cast<int>(*rtx));
    if (!built) return fail(err, built.error());
    cluster = std::move(*built);
  }

  // The workload: a trace file, or one generated per seed.
  policy::WorkloadSpec spec;
  auto load = number_flag(flags, "load", 0.8, 0.01, 10);
  auto hours = number_flag(flags, "hours", 8, 0.01, 720);
  auto median_min = number_flag(flags, "runtime-median", 20, 0.1, 10000);
  auto sigma = number_flag(flags, "runtime-sigma", 1.0, 0, 4);
  auto burst = number_flag(flags, "burst", 1, 1, 6);
  for (const auto* r : {&load, &hours, &median_min, &sigma, &burst}) {
    if (!*r) return fail(err, r->error());
  }
  spec.load = *load;
  spec.hours = *hours;
  spec.runtime_median_s = *median_min * 60;
  spec.runtime_sigma = *sigma;
  spec.burst_factor = *burst;
  spec.mix = one(flags, "mix").value_or("default");

  std::vector<std::uint64_t> seeds;
  for (const auto& s : split_list(one(flags, "seed").value_or("1"))) {
    std::size_t used = 0;
    unsigned long long v = 0;
    try {
      v = std::stoull(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty() || s[0] == '-')
      return fail(err, "--seed takes integers separated by commas, got \"" + s + "\"");
    seeds.push_back(v);
  }
  std::vector<std::vector<policy::SimPod>> traces;
  if (auto trace = one(flags, "trace")) {
    std::ifstream file(*trace, std::ios::binary);
    if (!file) return fail(err, "cannot read " + *trace);
    std::stringstream text;
    text << file.rdbuf();
    auto parsed = policy::parse_trace(text.str());
    if (!parsed) return fail(err, *trace + ": " + parsed.error());
    traces.push_back(std::move(*parsed));
  } else {
    for (std::uint64_t seed : seeds) {
      spec.seed = seed;
      auto generated = policy::generate_workload(spec, cluster, *catalog);
      if (!generated) return fail(err, generated.error());
      traces.push_back(std::move(*generated));
    }
  }
  if (auto path = one(flags, "write-trace")) {
    std::ofstream file(*path, std::ios::binary);
    file << policy::format_trace(traces.front());
    if (!file) return fail(err, "cannot write " + *path);
  }

  policy::SimSettings settings;
  auto batch = number_flag(flags, "batch-window", 10, 0.5, 3600);
  auto delay = number_flag(flags, "reconfigure-delay", 60, 0, 36000);
  auto arrivals = number_flag(flags, "arrival-window", 2400, 0, 86400);
  if (!batch) return fail(err, batch.error());
  if (!delay) return fail(err, delay.error());
  if (!arrivals) return fail(err, arrivals.error());
  settings.batch_window_s = *batch;
  settings.reconfigure_s = *delay;
  settings.arrival_window_s = *arrivals;
  // A generated trace ends at --hours; a trace file, at --hours when given, else when its last
  // pod would end had it started on arrival.
  double end_s = 0;
  for (const auto& t : traces) {
    for (const auto& pod : t) end_s = std::max(end_s, pod.arrival_s + pod.runtime_s);
  }
  settings.end_s =
      one(flags, "trace") && !one(flags, "hours") ? std::ceil(end_s) + 1 : spec.hours * 3600;
  const auto started = std::chrono::steady_clock::now();
  settings.clock_ms = [started] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
        .count();
  };

  std::vector<policy::SimPolicy> policies;
  for (const auto& name : split_list(one(flags, "policy").value_or("static,on-demand,greedy"))) {
    auto p = policy::sim_policy_named(name);
    if (!p) return fail(err, "unknown policy \"" + name + "\" (static, on-demand, greedy)");
    policies.push_back(*p);
  }
  if (policies.empty()) return fail(err, "--policy names no policy");

  std::vector<Summary> summaries;
  for (policy::SimPolicy p : policies) {
    Summary s{std::string(policy::to_string(p)), {}};
    for (const auto& trace : traces) {
      s.runs.push_back(policy::simulate(cluster, trace, p, settings, *catalog));
    }
    summaries.push_back(std::move(s));
  }

  if (one(flags, "json")) {
    ordered_json doc = {{"nodes", cluster.size()},
                        {"traces", traces.size()},
                        {"endSeconds", settings.end_s},
                        {"policies", ordered_json::array()}};
    for (const auto& s : summaries) doc["policies"].push_back(summary_json(s));
    out << doc.dump(2) << "\n";
    return 0;
  }
  int gpus = 0;
  for (const auto& n : cluster) gpus += n.gpus;
  out << cluster.size() << " nodes, " << gpus << " GPUs; ";
  if (one(flags, "trace")) {
    out << "trace " << *one(flags, "trace");
  } else {
    out << "mix " << spec.mix << ", load " << spec.load << ", " << spec.hours << " h, seeds "
        << one(flags, "seed").value_or("1");
  }
  out << (traces.size() > 1 ? " (medians over the traces)" : "") << "\n";
  print_table(summaries, out);
  if (one(flags, "changes")) {
    for (const auto& s : summaries) {
      out << "\n" << s.policy << ": node changes (first trace)\n";
      for (const auto& c : s.runs.front().changes) out << "  " << c << "\n";
    }
  }
  return 0;
}

}  // namespace gpushare::server
