#include "policy/fit.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>

#include "policy/cluster_facts.h"
#include "policy/dra.h"
#include "policy/quantity.h"

namespace gpushare::policy {

namespace {

constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;
// The device plugin refuses MPS with fewer than 2 replicas (nvidia.md 1.2), so half a GPU is
// the largest share MPS can ever give.
constexpr std::int64_t kMinMpsReplicas = 2;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const std::string& label(const NodeView& node, std::string_view key) { return node.label(key); }

// A label's value for a message: `unset` when absent, so "mps.capable=unset" reads clearly.
std::string shown(const NodeView& node, std::string_view key) {
  const std::string* value = node.labels.find_value(key);
  return value == nullptr ? std::string("unset") : *value;
}

// Labels are strings; GFD writes plain decimal integers. Anything else counts as absent.
std::optional<std::int64_t> label_int(const NodeView& node, std::string_view key) {
  const std::string& v = label(node, key);
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

std::optional<std::int64_t> allocatable(const NodeView& node, const std::string& resource) {
  auto it = node.allocatable.find(resource);
  if (it == node.allocatable.end()) return std::nullopt;
  return it->second;
}

NodeFit fits() { return {true, false, {}}; }
NodeFit later(std::string reason) { return {false, false, std::move(reason)}; }
NodeFit never(std::string reason) { return {false, true, std::move(reason)}; }

// "needs nvidia.com/mig-1g.12gb: 0 of 2 free" (count shown only when above 1).
std::string needs(const std::string& resource, std::int64_t count, std::int64_t free_now,
                  std::int64_t total) {
  std::string what = count > 1 ? std::to_string(count) + " " + resource : resource;
  return "needs " + what + ": " + std::to_string(free_now) + " of " + std::to_string(total) +
         " free";
}

bool model_has_resource(const GpuModel& model, const std::string& resource) {
  return std::any_of(model.profiles.begin(), model.profiles.end(),
                     [&](const MigProfile& p) { return p.resource_name() == resource; });
}

// nvidia.com/mig-<profile>: offered now, busy, absent but creatable by repartitioning, or
// impossible on this hardware.
NodeFit fit_mig(const std::string& resource, std::int64_t count, const NodeView& node,
                const Catalog& catalog) {
  const auto total = allocatable(node, resource);
  const std::int64_t free_now = node.free(resource);
  if (free_now >= count) return fits();
  if (total && *total > 0) return later(needs(resource, count, free_now, *total));
  // GFD labels the device but the device plugin has not advertised it (yet): it restarts after
  // every repartition, so this is a matter of time.
  if (auto labelled = label_int(node, resource + ".count"); labelled && *labelled > 0) {
    return later("offers no " + resource + " in allocatable yet (GFD labels " +
                 std::to_string(*labelled) + "); the device plugin may be restarting");
  }
  if (label(node, gfd::kMigCapable) != "true") {
    return never("not MIG-capable (nvidia.com/mig.capable=" + shown(node, gfd::kMigCapable) +
                 "): cannot offer " + resource);
  }
  // Under "single" every MIG device is advertised as nvidia.com/gpu, and the strategy is set
  // cluster-wide in ClusterPolicy (nvidia.md 1.1), so no repartition yields this resource.
  if (label(node, gfd::kMigStrategy) == "single") {
    return never(
        "nvidia.com/mig.strategy=single: MIG devices are offered as nvidia.com/gpu, never as " +
        resource + " (needs the mixed strategy)");
  }
  const std::string product = base_product(label(node, gfd::kProduct));
  if (product.empty()) {
    return later("offers no " + resource +
                 " and its GPU model is unknown (no nvidia.com/gpu.product label)");
  }
  const GpuModel* model = catalog.model_for_product(product);
  if (model == nullptr) {
    return never(product + " is not in gpushare's GPU catalog and offers no " + resource +
                 ", so gpushare cannot create it");
  }
  if (!model_has_resource(*model, resource)) {
    return never(product + " (" + model->model + ") has no MIG profile for " + resource);
  }
  return later("offers no " + resource + " (0 of " + std::to_string(total.value_or(0)) +
               " free); gpushare can repartition it when idle");
}

// Memory of one whole GPU in MiB: the gpu.memory label, except under MIG "single" where GFD
// overwrites it with the MIG device's memory; then the catalog's figure for the model.
std::optional<std::int64_t> whole_gpu_mib(const NodeView& node, const Catalog& catalog) {
  const std::string raw_product = label(node, gfd::kProduct);
  const bool mig_single_label = raw_product.find("-MIG-") != std::string::npos;
  if (!mig_single_label) {
    if (auto mib = label_int(node, gfd::kMemoryMiB); mib && *mib > 0) return mib;
  }
  if (const GpuModel* model = catalog.model_for_product(base_product(raw_product));
      model != nullptr && model->memory_bytes > 0) {
    return model->memory_bytes / kMiB;
  }
  return std::nullopt;
}

// Replicas per GPU: the gpu.replicas label, else allocatable shared devices / physical GPUs.
std::optional<std::int64_t> mps_replicas(const NodeView& node) {
  if (auto r = label_int(node, gfd::kReplicas); r && *r > 0) return r;
  auto shared = allocatable(node, std::string(kSharedGpuResource));
  auto gpus = label_int(node, gfd::kCount);
  if (shared && gpus && *gpus > 0 && *shared >= *gpus) return *shared / *gpus;
  return std::nullopt;
}

// gpu-memory / gpu-compute against what MPS can give one replica: the share now (replicas
// as configured) and the best share ever (2 replicas). Returns no value when they are met.
std::optional<NodeFit> check_mps_share(const Intent& intent, const NodeView& node,
                                       const Catalog& catalog,
                                       std::optional<std::int64_t> replicas) {
  if (intent.gpu_memory_bytes) {
    const std::string want =
        "gpu-memory=" + intent.gpu_memory_text.value_or(format_bytes(*intent.gpu_memory_bytes));
    auto mib = whole_gpu_mib(node, catalog);
    if (!mib)
      return later("GPU memory unknown (no nvidia.com/gpu.memory label); cannot check " + want);
    // Integer division, as the MPS daemon computes its per-client pinned memory limit.
    if ((*mib / kMinMpsReplicas) * kMiB < *intent.gpu_memory_bytes) {
      return never("GPU has " + std::to_string(*mib) + " MiB; even " +
                   std::to_string(kMinMpsReplicas) + " MPS replicas give " +
                   std::to_string(*mib / kMinMpsReplicas) + " MiB each, less than " + want);
    }
    if (replicas && (*mib / *replicas) * kMiB < *intent.gpu_memory_bytes) {
      return later("MPS share too small: " + std::to_string(*mib / *replicas) +
                   " MiB per replica (" + std::to_string(*mib) + " MiB / " +
                   std::to_string(*replicas) + " replicas), needs " + want);
    }
  }
  if (intent.gpu_compute_percent) {
    const int pct = *intent.gpu_compute_percent;
    const std::string want = "gpu-compute=" + std::to_string(pct);
    if (100 / kMinMpsReplicas < pct) {
      return never("even " + std::to_string(kMinMpsReplicas) + " MPS replicas give " +
                   std::to_string(100 / kMinMpsReplicas) + "% of the SMs each, less than " + want);
    }
    if (replicas && 100 / *replicas < pct) {
      return later("MPS share too small: " + std::to_string(100 / *replicas) +
                   "% of the SMs per replica (100 / " + std::to_string(*replicas) +
                   " replicas), needs " + want);
    }
  }
  return std::nullopt;
}

// nvidia.com/gpu.shared: MPS on, a replica free, and each replica's share big enough.
NodeFit fit_shared(std::int64_t count, const Intent& intent, const NodeView& node,
                   const Catalog& catalog) {
  static const std::string resource(kSharedGpuResource);
  const bool mps_on =
      label(node, gfd::kSharingStrategy) == "mps" && label(node, gfd::kMpsCapable) == "true";
  // Hard limits first: a GPU too small for the request even at 2 replicas never fits, MPS on
  // or off. Without MPS there are no replicas now, so only that limit applies.
  auto replicas = mps_on ? mps_replicas(node) : std::nullopt;
  if (auto bad = check_mps_share(intent, node, catalog, replicas);
      bad && (bad->unresolvable || mps_on)) {
    return *bad;
  }
  if (!mps_on) {
    // MIG nodes, time-slicing and unshared GPUs can all be switched to MPS once idle
    // (nvidia.md section 9); that is for gpushare's repartitioner, not this pod, to do.
    return later("MPS sharing is off (nvidia.com/gpu.sharing-strategy=" +
                 shown(node, gfd::kSharingStrategy) + ", nvidia.com/mps.capable=" +
                 shown(node, gfd::kMpsCapable) + "); gpushare can switch it to MPS when idle");
  }
  if ((intent.gpu_memory_bytes || intent.gpu_compute_percent) && !replicas) {
    return later("cannot tell the per-replica MPS share: no nvidia.com/gpu.replicas label");
  }
  const std::int64_t free_now = node.free(resource);
  if (free_now < count)
    return later(needs(resource, count, free_now, allocatable(node, resource).value_or(0)));
  return fits();
}

bool product_matches(const std::vector<std::string>& wanted, const std::string& raw,
                     const std::string& base) {
  return std::any_of(wanted.begin(), wanted.end(),
                     [&](const std::string& w) { return w == base || w == raw; });
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

// A node whose GPUs come through DRA: kube-scheduler's own DynamicResources plugin counts and
// allocates the devices (and DynamicMIG's memory slices); what it cannot know is gpu-product
// and that MPS is not offered through DRA.
NodeFit fit_dra(const PodDemand& demand, const Intent& intent, const NodeView& node,
                const Catalog& catalog) {
  const DraGpus& dra = *node.dra;
  if (!intent.gpu_products.empty()) {
    const bool ok = std::any_of(dra.products.begin(), dra.products.end(), [&](const auto& p) {
      return product_matches(intent.gpu_products, p, p);
    });
    if (!ok) {
      return never("DRA GPUs are " +
                   (dra.products.empty() ? "of no known product" : join(dra.products)) +
                   "; gpu-product asks for " + join(intent.gpu_products));
    }
  }
  for (const auto& [resource, count] : demand.resources) {
    if (!is_managed_resource(resource)) continue;
    if (resource == kSharedGpuResource) {
      return never("GPUs here are allocated through DRA, which offers no " +
                   std::string(kSharedGpuResource) + " (MPS pods go to device-plugin nodes)");
    }
    const std::string profile = catalog.profile_for_resource(resource).value_or(
        profile_from_resource_suffix(resource.substr(kMigResourcePrefix.size())));
    if (!std::binary_search(dra.profiles.begin(), dra.profiles.end(), profile))
      return never("no " + profile + " MIG devices among this node's DRA devices");
  }
  return fits();
}

}  // namespace

std::string base_product(std::string_view gpu_product) {
  std::string_view p = gpu_product;
  if (ends_with(p, "-SHARED")) p.remove_suffix(std::string_view("-SHARED").size());
  // The MIG suffix is "-MIG-<profile>" (or "-MIG-INVALID"); profile names hold no "-MIG-".
  if (auto mig = p.rfind("-MIG-"); mig != std::string_view::npos) p = p.substr(0, mig);
  return std::string(p);
}

bool fit_reads_label(std::string_view key) {
  if (gfd::indexed_slot(key) < gfd::kIndexed.size()) return true;
  return starts_with(key, kMigResourcePrefix) && ends_with(key, ".count");
}

bool has_nvidia_gpu(const NodeView& node) {
  if (!label(node, gfd::kProduct).empty()) return true;
  if (label(node, gfd::kGpuPresent) == "true") return true;
  if (node.labels.contains(gfd::kMigConfigState)) return true;
  return std::any_of(node.allocatable.begin(), node.allocatable.end(),
                     [](const auto& kv) { return starts_with(kv.first, "nvidia.com/"); });
}

NodeFit fit_node(const PodDemand& demand, const Intent& intent, const NodeView& node,
                 const Catalog& catalog) {
  // Called per node for thousands of nodes per request: nothing here allocates on the way to
  // "fits" (label() returns references, the demand's map is walked in place).
  if (!demand.managed()) return fits();
  if (serves_through_dra(node)) return fit_dra(demand, intent, node, catalog);
  if (!has_nvidia_gpu(node)) {
    return never("no NVIDIA GPU (no nvidia.com/gpu.product label, no nvidia.com/* allocatable)");
  }
  // The MIG manager pauses the device plugin for the whole node while it works (nvidia.md 5.2),
  // so nothing GPU-related can start there until it is done, whichever resource is asked for.
  if (const std::string& state = label(node, gfd::kMigConfigState);
      state == "pending" || state == "rebooting") {
    return later("mig.config.state=" + state + ": node is being repartitioned");
  }
  if (auto mark = node.annotations.find(kRepartitionAnnotation); mark != node.annotations.end()) {
    return later(repartition_mark_summary(mark->second) + ": gpushare is repartitioning this node");
  }
  if (!intent.gpu_products.empty()) {
    const std::string& raw = label(node, gfd::kProduct);
    if (raw.empty()) {
      return later("no nvidia.com/gpu.product label yet; gpu-product asks for " +
                   join(intent.gpu_products));
    }
    const std::string base = base_product(raw);
    if (!product_matches(intent.gpu_products, raw, base)) {
      return never("GPU is " + base + "; gpu-product asks for " + join(intent.gpu_products));
    }
  }
  // Every resource must fit; report an impossible one before one that only has to wait.
  std::optional<NodeFit> first_wait;
  for (const auto& [resource, count] : demand.resources) {
    if (!is_managed_resource(resource)) continue;
    NodeFit f = resource == kSharedGpuResource ? fit_shared(count, intent, node, catalog)
                                               : fit_mig(resource, count, node, catalog);
    if (f.fits) continue;
    if (f.unresolvable) return f;
    if (!first_wait) first_wait = std::move(f);
  }
  return first_wait ? *first_wait : fits();
}

std::string repartition_mark_summary(std::string_view value) {
  std::string out(kRepartitionAnnotation);
  std::string_view name;
  if (!value.empty() && value.front() == '{') {
    // The controller's mark: {"configName":"gpushare-...",...}. Read that one string without a
    // JSON parser (policy/ has none); a value that does not have it shows as the key alone.
    constexpr std::string_view kKey = "\"configName\":\"";
    if (auto at = value.find(kKey); at != std::string_view::npos) {
      const auto start = at + kKey.size();
      if (auto end = value.find('"', start); end != std::string_view::npos) {
        name = value.substr(start, end - start);
      }
    }
  } else {
    name = value;  // a bare config name (hand-set, or tests)
  }
  constexpr std::size_t kShown = 80;
  if (!name.empty() && name.size() <= kShown) out += "=" + std::string(name);
  return out;
}

}  // namespace gpushare::policy
