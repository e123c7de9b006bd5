// How long the repartition planner takes on clusters of growing size (BENCHMARKS.md records
// it). The controller calls it once per batch window while pods wait, on the leader, so its
// time bounds how fast a burst of pending pods gets an answer.
//   build/bench_planner [rounds]
// Each cluster: a quarter each of idle H100s (8 GPUs), idle H20s (8 GPUs), idle RTX 4090s and
// busy H100s; a tenth of the nodes tainted for another team; pending pods cycling through MIG
// profiles of both models and MPS shares of several sizes, every fifth with a toleration.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "policy/catalog.h"
#include "policy/planner.h"

namespace p = gpushare::policy;
using Clock = std::chrono::steady_clock;

namespace {

p::NodeView gpu_node(const std::string& name, const std::string& product, int gpus,
                     long long memory_mib, bool mig_capable) {
  p::NodeView n;
  n.name = name;
  n.labels = {{"nvidia.com/gpu.product", product},
              {"nvidia.com/gpu.count", std::to_string(gpus)},
              {"nvidia.com/gpu.memory", std::to_string(memory_mib)},
              {"nvidia.com/gpu.present", "true"},
              {"nvidia.com/gpu.replicas", "1"},
              {"nvidia.com/gpu.sharing-strategy", "none"},
              {"nvidia.com/mps.capable", "false"},
              {"nvidia.com/mig.capable", mig_capable ? "true" : "false"}};
  if (mig_capable) {
    n.labels["nvidia.com/mig.strategy"] = "mixed";
    n.labels["nvidia.com/mig.config"] = "all-disabled";
    n.labels["nvidia.com/mig.config.state"] = "success";
  }
  n.allocatable = {{"nvidia.com/gpu", gpus}};
  return n;
}

p::PodView running_pod(const std::string& name, const std::string& node,
                       const std::string& resource, int count) {
  p::PodView pod;
  pod.namespace_name = "ml";
  pod.name = name;
  pod.node_name = node;
  pod.phase = "Running";
  p::ContainerView c;
  c.name = "main";
  c.limits[resource] = c.requests[resource] = std::to_string(count);
  pod.containers.push_back(c);
  return pod;
}

p::PodView pending_pod(int i) {
  static const char* kMig[] = {"nvidia.com/mig-1g.10gb", "nvidia.com/mig-3g.40gb",
                               "nvidia.com/mig-1g.12gb", "nvidia.com/mig-3g.48gb",
                               "nvidia.com/mig-2g.20gb", "nvidia.com/mig-1g.24gb"};
  static const char* kMemory[] = {"4Gi", "8Gi", "10Gi"};
  p::PodView pod;
  pod.namespace_name = "ml";
  pod.name = "pod-" + std::to_string(i);
  pod.phase = "Pending";
  p::ContainerView c;
  c.name = "main";
  std::string resource = kMig[i % 6];
  if (i % 3 == 2) {
    resource = "nvidia.com/gpu.shared";
    pod.annotations = {{"gpushare.io/mode", "mps"}, {"gpushare.io/gpu-memory", kMemory[i % 3]}};
  }
  c.limits[resource] = c.requests[resource] = "1";
  pod.containers.push_back(c);
  if (i % 5 == 0) pod.tolerations = {{"team", false, "b", "NoSchedule"}};
  return pod;
}

p::PlanInput cluster(int nodes, int pods) {
  p::PlanInput in;
  for (int i = 0; i < nodes; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "gpu-%05d", i);
    p::NodeView n;
    switch (i % 4) {
      case 0:
        n = gpu_node(name, "NVIDIA-H100-80GB-HBM3", 8, 81559, true);
        break;
      case 1:
        n = gpu_node(name, "NVIDIA-H20", 8, 97871, true);
        break;
      case 2:
        n = gpu_node(name, "NVIDIA-GeForce-RTX-4090", 1, 24564, false);
        break;
      default: {
        n = gpu_node(name, "NVIDIA-H100-80GB-HBM3", 8, 81559, true);
        in.running.push_back(running_pod(std::string("train-") + name, name, "nvidia.com/gpu", 8));
        n.used["nvidia.com/gpu"] = 8;
      }
    }
    if (i % 10 == 7) n.taints = {{"team", "b", "NoSchedule"}};
    in.nodes.push_back(std::move(n));
  }
  for (int i = 0; i < pods; ++i) in.pending.push_back(pending_pod(i));
  return in;
}

// A cluster that has been repartitioned for a while: MIG nodes at one of several layouts
// (all-balanced and per-GPU mixes, known from the mig-parted configs), a third of them busy with
// pods of their profiles, RTX nodes at MPS, and pending pods of every kind. Nodes alike are
// sized once, so this is what growth with many distinct nodes looks like.
p::PlanInput repartitioned_cluster(int nodes, int pods) {
  const auto& catalog = p::Catalog::builtin();
  p::PlanInput in = cluster(0, pods);
  const p::GpuModel* h100 = catalog.model_for_product("NVIDIA-H100-80GB-HBM3");
  const std::vector<p::ProfileCounts> layouts = {{{"1g.10gb", 2}, {"2g.20gb", 1}, {"3g.40gb", 1}},
                                                 {{"1g.20gb", 4}},
                                                 {{"3g.40gb", 1}, {"4g.40gb", 1}},
                                                 {{"7g.80gb", 1}},
                                                 {{"1g.10gb", 7}},
                                                 {{"2g.20gb", 3}, {"1g.10gb", 1}}};
  for (int i = 0; i < nodes; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "gpu-%05d", i);
    p::NodeView n = gpu_node(name, "NVIDIA-H100-80GB-HBM3", 8, 81559, true);
    if (i % 5 == 4) {
      n = gpu_node(name, "NVIDIA-GeForce-RTX-4090", 8, 24564, false);
      n.allocatable = {{"nvidia.com/gpu.shared", 32}};
      n.labels["nvidia.com/gpu.replicas"] = "4";
      n.labels["nvidia.com/mps.capable"] = "true";
      in.nodes.push_back(std::move(n));
      continue;
    }
    // Each node: two of the layouts over its 8 GPUs, chosen by its index.
    const auto& a = layouts[static_cast<std::size_t>(i) % layouts.size()];
    const auto& b = layouts[static_cast<std::size_t>(i / 7) % layouts.size()];
    std::vector<p::MigConfigEntry> entries = {{{0, 1, 2, 3}, true, a}, {{4, 5, 6, 7}, true, b}};
    const std::string config = "custom-" + std::to_string(i % 6) + "-" + std::to_string(i / 7 % 6);
    in.mig_configs[config] = entries;
    n.labels["nvidia.com/mig.config"] = config;
    n.allocatable.clear();
    for (const auto* half : {&a, &b}) {
      for (const auto& [profile, count] : *half)
        n.allocatable[h100->find_profile(profile)->resource_name()] += 4 * count;
    }
    if (i % 3 == 0) {
      const auto& [profile, count] = *a.begin();
      const std::string resource = h100->find_profile(profile)->resource_name();
      in.running.push_back(running_pod(std::string("run-") + name, name, resource, 1));
      n.used[resource] = 1;
    }
    in.nodes.push_back(std::move(n));
  }
  return in;
}

std::vector<double> time_plans(const p::PlanInput& in, int rounds, p::Plan& plan) {
  std::vector<double> ms;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    plan = p::plan(in, p::Catalog::builtin());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const auto& catalog = p::Catalog::builtin();
  std::printf("%-8s %-8s %-10s %-10s %-10s %-8s %-8s\n", "nodes", "pending", "p50_ms", "p99_ms",
              "max_ms", "actions", "unplaced");
  for (auto [nodes, pods] :
       {std::pair{100, 20}, {500, 100}, {1000, 200}, {2000, 500}, {2000, 2000}, {5000, 5000}}) {
    const p::PlanInput in = cluster(nodes, pods);
    std::vector<double> ms;
    p::Plan plan;
    for (int r = 0; r < rounds; ++r) {
      auto t0 = Clock::now();
      plan = p::plan(in, catalog);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    // Nearest-rank p99: with fewer than 100 rounds it is the maximum.
    const std::size_t p99 = std::min(ms.size() - 1, (ms.size() * 99 + 99) / 100 - 1);
    std::printf("%-8d %-8d %-10.1f %-10.1f %-10.1f %-8zu %-8zu\n", nodes, pods, ms[ms.size() / 2],
                ms[p99], ms.back(), plan.actions.size(), plan.unplaced.size());
  }
  std::printf("\nrepartitioned cluster (distinct layouts, a third busy), pending = nodes\n");
  std::printf("%-8s %-8s %-10s %-10s %-8s %-14s\n", "nodes", "pending", "p50_ms", "max_ms",
              "actions", "x per doubling");
  double last = 0;
  for (int nodes : {500, 1000, 2000, 4000, 8000}) {
    p::Plan plan;
    const auto ms = time_plans(repartitioned_cluster(nodes, nodes), rounds, plan);
    const double p50 = ms[ms.size() / 2];
    std::printf("%-8d %-8d %-10.1f %-10.1f %-8zu %-14s\n", nodes, nodes, p50, ms.back(),
                plan.actions.size(),
                last > 0 ? std::to_string(p50 / last).substr(0, 4).c_str() : "-");
    last = p50;
  }
  return 0;
}
