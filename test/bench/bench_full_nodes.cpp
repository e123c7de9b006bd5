// The extender in full-node mode (nodeCacheCapable: false, issue 13 item 3): kube-scheduler
// sends every feasible Node object in the body, and the reply echoes those that pass. Prints,
// per cluster size, the body's size, /filter and /prioritize in process (p50/p99 over `calls`),
// and the process RSS before, at its peak and after (malloc_trim'd) to show memory per request.
//   build/bench_full_nodes [calls] [node counts, comma-separated]
// Nodes are H20s as GPU Feature Discovery and the MIG manager label them, with the status a
// kubelet writes (conditions, addresses, images): about 4.5 KB of JSON each, as in a real cluster.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "extender/extender.h"
#include "logging/log.h"
#include "server/config.h"
#include "test/bench/proc_status.h"

namespace {

using Clock = std::chrono::steady_clock;

using gpushare::bench::peak_rss_kib;
using gpushare::bench::reset_peak_rss;
using gpushare::bench::rss_kib;

std::string node_json(int i) {
  const std::string name = "gpu-" + std::to_string(i);
  std::ostringstream o;
  o << R"({"metadata":{"name":")" << name << R"(","uid":"6f1c2d3e-0000-4000-8000-)"
    << 100000000000 + i << R"(","resourceVersion":")" << 1000 + i
    << R"(","creationTimestamp":"2026-11-01T10:00:00Z","labels":{)"
    << R"("beta.kubernetes.io/arch":"amd64","beta.kubernetes.io/os":"linux",)"
    << R"("feature.node.kubernetes.io/cpu-model.vendor_id":"Intel","feature.node.kubernetes.io/kernel-version.major":"6",)"
    << R"("feature.node.kubernetes.io/pci-10de.present":"true","kubernetes.io/arch":"amd64",)"
    << R"("kubernetes.io/hostname":")" << name << R"(","kubernetes.io/os":"linux",)"
    << R"("node.kubernetes.io/instance-type":"gpu-h20x8","nvidia.com/cuda.driver.major":"570",)"
    << R"("nvidia.com/cuda.driver.minor":"124","nvidia.com/cuda.driver.rev":"06","nvidia.com/cuda.runtime.major":"12",)"
    << R"("nvidia.com/cuda.runtime.minor":"8","nvidia.com/gfd.timestamp":"1764583200","nvidia.com/gpu.compute.major":"9",)"
    << R"("nvidia.com/gpu.compute.minor":"0","nvidia.com/gpu.count":"8","nvidia.com/gpu.deploy.device-plugin":"true",)"
    << R"("nvidia.com/gpu.deploy.gpu-feature-discovery":"true","nvidia.com/gpu.deploy.mig-manager":"true",)"
    << R"("nvidia.com/gpu.family":"hopper","nvidia.com/gpu.machine":"HGX-H20","nvidia.com/gpu.memory":"97871",)"
    << R"("nvidia.com/gpu.present":"true","nvidia.com/gpu.product":"NVIDIA-H20","nvidia.com/gpu.replicas":"1",)"
    << R"("nvidia.com/gpu.sharing-strategy":"none","nvidia.com/mig-1g.12gb.count":"16","nvidia.com/mig-1g.12gb.engines.copy":"1",)"
    << R"("nvidia.com/mig-1g.12gb.memory":"11008","nvidia.com/mig-1g.12gb.multiprocessors":"16","nvidia.com/mig-1g.12gb.slices.ci":"1",)"
    << R"("nvidia.com/mig-3g.48gb.count":"8","nvidia.com/mig-3g.48gb.memory":"46848","nvidia.com/mig-3g.48gb.multiprocessors":"60",)"
    << R"("nvidia.com/mig.capable":"true","nvidia.com/mig.config":"all-balanced","nvidia.com/mig.config.state":"success",)"
    << R"("nvidia.com/mig.strategy":"mixed","nvidia.com/mps.capable":"false","topology.kubernetes.io/region":"region-1",)"
    << R"("topology.kubernetes.io/zone":"zone-)" << i % 3 << R"("},"annotations":{)"
    << R"("node.alpha.kubernetes.io/ttl":"0","volumes.kubernetes.io/controller-managed-attach-detach":"true",)"
    << R"("nfd.node.kubernetes.io/feature-labels":"cpu-cpuid.AVX512F,cpu-cpuid.AMXTILE,cpu-model.family,cpu-model.id,kernel-version.full,pci-10de.present",)"
    << R"("csi.volume.kubernetes.io/nodeid":"{\"ebs.csi.aws.com\":\"i-0)" << 1000000 + i
    << R"(\"}"}},)"
    << R"("spec":{"podCIDR":"10.)" << i / 250 % 250 << "." << i % 250
    << R"(.0/24","providerID":"aws:///zone-a/i-0)" << 1000000 + i << R"("},)"
    << R"("status":{"capacity":{"cpu":"192","ephemeral-storage":"3750000000Ki","hugepages-1Gi":"0","hugepages-2Mi":"0",)"
    << R"("memory":"2113482288Ki","nvidia.com/mig-1g.12gb":"16","nvidia.com/mig-3g.48gb":"8","pods":"110"},)"
    << R"("allocatable":{"cpu":"191500m","ephemeral-storage":"3455000000Ki","hugepages-1Gi":"0","hugepages-2Mi":"0",)"
    << R"("memory":"2102996528Ki","nvidia.com/mig-1g.12gb":")" << 16 - i % 17
    << R"(","nvidia.com/mig-3g.48gb":"8","pods":"110"},"conditions":[)";
  const char* conditions[][3] = {{"MemoryPressure", "False", "KubeletHasSufficientMemory"},
                                 {"DiskPressure", "False", "KubeletHasNoDiskPressure"},
                                 {"PIDPressure", "False", "KubeletHasSufficientPID"},
                                 {"Ready", "True", "KubeletReady"}};
  for (int c = 0; c < 4; ++c) {
    o << (c ? "," : "") << R"({"type":")" << conditions[c][0] << R"(","status":")"
      << conditions[c][1]
      << R"(","lastHeartbeatTime":"2026-12-06T10:00:00Z","lastTransitionTime":"2026-11-01T10:00:00Z","reason":")"
      << conditions[c][2] << R"(","message":"kubelet reports )" << conditions[c][2] << R"("})";
  }
  o << R"(],"addresses":[{"type":"InternalIP","address":"10.1.)" << i / 250 % 250 << "." << i % 250
    << R"("},{"type":"Hostname","address":")" << name << R"("}],)"
    << R"("daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"machineID":"ec2a)" << i
    << R"(","systemUUID":"ec2a)" << i
    << R"(","bootID":"5e0c3b1a-1111-4222-8333-444455556666","kernelVersion":"6.1.0-28-cloud-amd64",)"
    << R"x("osImage":"Debian GNU/Linux 12 (bookworm)","containerRuntimeVersion":"containerd://1.7.24",)x"
    << R"("kubeletVersion":"v1.36.3","kubeProxyVersion":"v1.36.3","operatingSystem":"linux","architecture":"amd64"},)"
    << R"("images":[)";
  const char* images[] = {
      "nvcr.io/nvidia/k8s-device-plugin:v0.17.1", "nvcr.io/nvidia/gpu-feature-discovery:v0.17.1",
      "nvcr.io/nvidia/cloud-native/k8s-mig-manager:v0.12.1-ubuntu20.04",
      "nvcr.io/nvidia/driver:570.124.06-ubuntu22.04", "registry.k8s.io/kube-proxy:v1.36.3"};
  for (int k = 0; k < 5; ++k) {
    o << (k ? "," : "") << R"({"names":[")" << images[k] << R"(@sha256:)"
      << std::string(64, 'a' + k) << R"(",")" << images[k] << R"("],"sizeBytes":)"
      << 100000000 + k * 7654321 << "}";
  }
  o << "]}}";
  return o.str();
}

std::string args(int nodes) {
  std::string items;
  for (int i = 0; i < nodes; ++i) items += (i ? "," : "") + node_json(i);
  return R"({"Pod":{"metadata":{"name":"p","namespace":"ml","annotations":{"gpushare.io/mig-profile":"1g.12gb"}},)"
         R"("spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/mig-1g.12gb":"1"}}}]}},)"
         R"("Nodes":{"apiVersion":"v1","kind":"NodeList","metadata":{},"items":[)" +
         items + R"(]},"NodeNames":null})";
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 20;
  std::vector<int> sizes;
  {
    std::stringstream list(argc > 2 ? argv[2] : "500,5000,15000");
    for (std::string s; std::getline(list, s, ',');) sizes.push_back(std::atoi(s.c_str()));
  }
  gpushare::logging::setup("warn", "text");
  const gpushare::extender::ExtenderSettings settings;
  const gpushare::extender::NodeSource no_cache;
  std::printf("extender, full-node mode (Node objects in the body), in process, %d calls each\n",
              calls);
  std::printf("%-7s %-9s %-26s %-26s %-10s %-10s %-10s\n", "nodes", "body", "filter p50 / p99",
              "prioritize p50 / p99", "RSS before", "peak", "after");
  for (const int n : sizes) {
    const std::string body = args(n);
    malloc_trim(0);
    const long before = rss_kib();
    reset_peak_rss();
    std::vector<double> filter_ms, prioritize_ms;
    std::size_t passed = 0;
    for (int c = 0; c < calls; ++c) {
      auto t0 = Clock::now();
      auto f = gpushare::extender::handle_filter(body, no_cache, settings);
      auto t1 = Clock::now();
      auto p = gpushare::extender::handle_prioritize(body, no_cache, settings);
      auto t2 = Clock::now();
      if (f.http_status != 200 || p.http_status != 200) {
        std::fprintf(stderr, "status %d/%d: %s\n", f.http_status, p.http_status, f.error.c_str());
        return 1;
      }
      passed = f.passed;
      filter_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      prioritize_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
    const long peak = peak_rss_kib();
    malloc_trim(0);
    const long after = rss_kib();
    char f[64], p[64], b[32];
    std::snprintf(b, sizeof b, "%.1f MB", static_cast<double>(body.size()) / 1e6);
    std::snprintf(f, sizeof f, "%.1f / %.1f ms", pct(filter_ms, 0.5), pct(filter_ms, 0.99));
    std::snprintf(p, sizeof p, "%.1f / %.1f ms", pct(prioritize_ms, 0.5), pct(prioritize_ms, 0.99));
    std::printf("%-7d %-9s %-26s %-26s %-10ld %-10ld %-10ld (MB; %zu of %d pass; %zu B per Node)\n",
                n, b, f, p, before / 1024, peak / 1024, after / 1024, passed, n, body.size() / n);
  }
  // The figure the server's startup line (fullNodeExtenderUpTo) divides the body limit by.
  std::printf("server/config.h assumes %zu B per Node (kTypicalNodeObjectBytes)\n",
              gpushare::server::kTypicalNodeObjectBytes);
  return 0;
}
