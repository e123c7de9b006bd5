#include "policy/admission.h"

#include <algorithm>
#include <set>

#include "policy/quantity.h"

namespace gpushare::policy {

std::string_view to_string(AdmissionOutcome outcome) {
  switch (outcome) {
    case AdmissionOutcome::kOutOfScope:
      return "out-of-scope";
    case AdmissionOutcome::kAllowed:
      return "allowed";
    case AdmissionOutcome::kDenied:
      return "denied";
  }
  return "out-of-scope";
}

namespace {

const std::string kGpu(kGpuResource);
const std::string kShared(kSharedGpuResource);

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool is_managed_resource(std::string_view name) {
  return name == kSharedGpuResource || starts_with(name, kMigResourcePrefix);
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string container_label(const ContainerView& c) {
  return std::string(c.init ? "init container \"" : "container \"") + c.name + "\"";
}

// Profile names a pod may ask for: the catalog's, plus those nodes publish (names drift
// between drivers and the node's word wins; mig-catalog.yaml item 3).
std::vector<std::string> known_profiles(const Catalog& catalog, const ClusterFacts& cluster) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  auto add = [&](const std::string& p) {
    if (seen.insert(p).second) out.push_back(p);
  };
  for (const auto& m : catalog.models()) {
    for (const auto& p : m.profiles) add(p.name);
  }
  for (const auto& p : cluster.published_profiles) add(p);
  return out;
}

// GFD writes "<product>-SHARED" for shared-but-not-renamed GPUs and "<product>-MIG-<p>" under
// the single strategy; gpu-product compares the bare product, exactly.
std::string bare_product(std::string product) {
  constexpr std::string_view kSharedSuffix = "-SHARED";
  if (product.size() > kSharedSuffix.size() &&
      product.compare(product.size() - kSharedSuffix.size(), kSharedSuffix.size(), kSharedSuffix) ==
          0) {
    product.resize(product.size() - kSharedSuffix.size());
  }
  auto mig = product.find("-MIG-");
  if (mig != std::string::npos) product.resize(mig);
  return product;
}

bool product_allowed(const Intent& intent, const std::string& product) {
  if (intent.gpu_products.empty()) return true;
  auto bare = bare_product(product);
  return std::find(intent.gpu_products.begin(), intent.gpu_products.end(), bare) !=
         intent.gpu_products.end();
}

std::string gb_text(std::int64_t bytes) {
  // Profile memory is named in decimal GB by NVIDIA; one decimal is enough for a person.
  auto tenths = (bytes + 50'000'000) / 100'000'000;
  return std::to_string(tenths / 10) + (tenths % 10 ? "." + std::to_string(tenths % 10) : "") +
         " GB";
}

// Rule 4: the GPU models a MIG choice is made among.
struct MigScope {
  std::vector<const GpuModel*> models;
  std::string described;  // for messages: where the models came from
};

MigScope mig_scope(const Intent& intent, const ClusterFacts& cluster, const Catalog& catalog) {
  MigScope scope;
  auto add = [&](const GpuModel* m) {
    if (m && std::find(scope.models.begin(), scope.models.end(), m) == scope.models.end())
      scope.models.push_back(m);
  };
  if (!intent.gpu_products.empty()) {
    for (const auto& p : intent.gpu_products) add(catalog.model_for_product(p));
    scope.described = "the models of gpu-product " + join(intent.gpu_products, ",");
    return scope;
  }
  for (const auto& product : cluster.products) add(catalog.model_for_product(product));
  // In catalog order, so that which model's profile a name resolves to does not depend on how
  // the products sort.
  auto catalog_index = [&](const GpuModel* m) { return m - catalog.models().data(); };
  std::sort(scope.models.begin(), scope.models.end(), [&](const GpuModel* a, const GpuModel* b) {
    return catalog_index(a) < catalog_index(b);
  });
  if (!scope.models.empty()) {
    scope.described = "the GPU models in the cluster";
    return scope;
  }
  for (const auto& m : catalog.models()) scope.models.push_back(&m);
  scope.described = "every catalog model";
  return scope;
}

std::string model_names(const std::vector<const GpuModel*>& models) {
  std::vector<std::string> names;
  for (const auto* m : models) names.push_back(m->model);
  return join(names, ", ");
}

bool profile_meets(const GpuModel& model, const MigProfile& p, const Intent& intent) {
  if (intent.gpu_memory_bytes && p.memory_bytes < *intent.gpu_memory_bytes) return false;
  if (intent.gpu_compute_percent &&
      p.compute_slices * 100 < *intent.gpu_compute_percent * model.compute_slices) {
    return false;
  }
  return true;
}

std::string requirement_text(const Intent& intent) {
  std::vector<std::string> parts;
  if (intent.gpu_memory_text) parts.push_back("gpu-memory " + *intent.gpu_memory_text);
  if (intent.gpu_compute_percent)
    parts.push_back("gpu-compute " + std::to_string(*intent.gpu_compute_percent) + "%");
  return parts.empty() ? std::string("no memory or compute minimum") : join(parts, " and ");
}

struct Choice {
  std::string resource;
  std::string rule;
  std::string error;  // non-empty: deny with this
  std::vector<std::string> warnings;
};

// Rule 4, with a named profile or by memory/compute.
Choice choose_mig(const Intent& intent, const ClusterFacts& cluster, const Catalog& catalog,
                  const std::string& prefix) {
  Choice c;
  MigScope scope = mig_scope(intent, cluster, catalog);
  if (scope.models.empty()) {
    c.error =
        "annotation " + prefix + "gpu-product=\"" + join(intent.gpu_products, ",") +
        "\" names no MIG-capable GPU model; MIG models are known by their nvidia.com/gpu.product "
        "values, e.g. NVIDIA-H100-80GB-HBM3, NVIDIA-A100-SXM4-80GB, NVIDIA-H20";
    return c;
  }
  if (intent.mig_profile) {
    const std::string& name = *intent.mig_profile;
    const MigProfile* found = nullptr;
    const GpuModel* found_model = nullptr;
    for (const auto* m : scope.models) {
      if (const auto* p = m->find_profile(name)) {
        found = p;
        found_model = m;
        break;
      }
    }
    const bool published = !found && intent.gpu_products.empty() && cluster.publishes_profile(name);
    if (!found && !published) {
      c.error = "annotation " + prefix + "mig-profile=\"" + name + "\" is not a profile of " +
                scope.described + " (" + model_names(scope.models) + ")";
      return c;
    }
    if (found && !profile_meets(*found_model, *found, intent)) {
      c.error = "annotation " + prefix + "mig-profile=\"" + name + "\" (" +
                gb_text(found->memory_bytes) + ", " + std::to_string(found->compute_slices) + "/" +
                std::to_string(found_model->compute_slices) + " compute) does not meet " +
                requirement_text(intent) + "; name a larger profile or drop " + prefix +
                "mig-profile to let gpushare choose";
      return c;
    }
    c.resource = mig_resource_for_profile(name);
    c.rule = "3.4 mig-profile";
    return c;
  }
  const MigProfile* best = nullptr;
  const MigProfile* largest = nullptr;
  for (const auto* m : scope.models) {
    for (const auto& p : m->profiles) {
      if (p.has_attribute()) continue;  // +me/-me/+gfx only when named
      if (!largest || p.memory_bytes > largest->memory_bytes) largest = &p;
      if (!profile_meets(*m, p, intent)) continue;
      if (!best || p.memory_bytes < best->memory_bytes ||
          (p.memory_bytes == best->memory_bytes && p.compute_slices < best->compute_slices)) {
        best = &p;
      }
    }
  }
  if (!best) {
    c.error =
        "no MIG profile of " + scope.described + " (" + model_names(scope.models) + ") meets " +
        requirement_text(intent) +
        (largest ? "; the largest is " + largest->name + " (" + gb_text(largest->memory_bytes) + ")"
                 : "");
    return c;
  }
  c.resource = best->resource_name();
  c.rule = "3.4 mig by size";
  if (intent.gpu_memory_bytes && best->memory_bytes > *intent.gpu_memory_bytes) {
    c.warnings.push_back("gpu-memory " + *intent.gpu_memory_text + " rounded up to MIG profile " +
                         best->name + " (" + gb_text(best->memory_bytes) + ")");
  }
  return c;
}

// Rule 5: an MPS-shared GPU in scope whose per-replica share meets the intent.
struct MpsOffer {
  bool any_mps_node = false;
  bool meets = false;
};

MpsOffer mps_offer(const Intent& intent, const ClusterFacts& cluster, const Catalog& catalog) {
  MpsOffer offer;
  for (const auto& share : cluster.mps_shares) {
    if (!product_allowed(intent, share.product)) continue;
    std::int64_t memory = 0;
    if (share.memory_bytes) {
      memory = *share.memory_bytes;
    } else if (const auto* m = catalog.model_for_product(share.product)) {
      memory = m->memory_bytes;
    }
    offer.any_mps_node = true;
    // The MPS daemon gives each client memory/replicas and 100/replicas percent of the SMs,
    // both by integer division (nvidia.md section 1.4).
    const std::int64_t per_replica_memory = memory / share.replicas;
    const std::int64_t per_replica_compute = 100 / share.replicas;
    bool ok = true;
    if (intent.gpu_memory_bytes && (memory == 0 || per_replica_memory < *intent.gpu_memory_bytes))
      ok = false;
    if (intent.gpu_compute_percent && per_replica_compute < *intent.gpu_compute_percent) ok = false;
    offer.meets = offer.meets || ok;
  }
  return offer;
}

// The integer count a container asks of a resource (limits win, as the kubelet defaults
// requests from limits for extended resources). Error text names the container and value.
struct Count {
  std::int64_t value = 0;
  std::string error;
};

Count resource_count(const ContainerView& c, const std::string& resource) {
  Count out;
  for (const StringMap* map : {&c.limits, &c.requests}) {
    auto it = map->find(resource);
    if (it == map->end()) continue;
    auto q = parse_quantity(it->second);
    if (!q || !q->is_integer() || q->milli < 0) {
      out.error = container_label(c) + " asks for " + resource + "=\"" + it->second +
                  "\": extended resources must be whole numbers, e.g. 1";
      return out;
    }
    out.value = std::max(out.value, q->milli / 1000);
  }
  return out;
}

bool asks_for(const ContainerView& c, const std::string& resource) {
  return c.limits.count(resource) > 0 || c.requests.count(resource) > 0;
}

AdmissionDecision deny(AdmissionDecision d, std::string rule, std::string message) {
  d.outcome = AdmissionOutcome::kDenied;
  d.rule = std::move(rule);
  d.message = std::move(message);
  d.renames.clear();
  d.annotation_key.clear();
  return d;
}

}  // namespace

AdmissionDecision decide_admission(const PodView& pod, std::string_view operation,
                                   const ClusterFacts& cluster, const Catalog& catalog,
                                   const AdmissionSettings& settings) {
  const std::string& prefix = settings.annotation_prefix;
  AdmissionDecision d;

  // Rule 1: scope.
  bool annotated = false;
  for (const auto& [k, v] : pod.annotations) annotated = annotated || starts_with(k, prefix);
  bool asks_managed = false;
  for (const auto& c : pod.containers) {
    for (const StringMap* map : {&c.limits, &c.requests}) {
      for (const auto& [res, qty] : *map) asks_managed = asks_managed || is_managed_resource(res);
    }
  }
  if (!annotated && !asks_managed) {
    d.rule = "3.1 out of scope";
    return d;
  }
  if (operation != "CREATE") {
    d.rule = "3.1 operation " + std::string(operation);
    return d;
  }

  auto intent =
      parse_intent(pod.annotations, prefix, [&] { return known_profiles(catalog, cluster); });
  if (!intent) return deny(d, "3.6 invalid annotations", intent.error());

  // Every GPU count must be a whole number before anything is mapped.
  bool asks_gpu = false;
  for (const auto& c : pod.containers) {
    for (const StringMap* map : {&c.limits, &c.requests}) {
      for (const auto& [res, qty] : *map) {
        if (res != kGpu && !is_managed_resource(res)) continue;
        auto n = resource_count(c, res);
        if (!n.error.empty()) return deny(d, "3.2 bad count", n.error);
      }
    }
    asks_gpu = asks_gpu || asks_for(c, kGpu);
  }

  Choice choice;
  if (asks_gpu) {
    ShareMode mode = intent->mode;
    if (mode == ShareMode::kAuto) {
      if (intent->mig_profile) {
        mode = ShareMode::kMig;
      } else {
        mode = mps_offer(*intent, cluster, catalog).meets ? ShareMode::kMps : ShareMode::kMig;
      }
    }
    if (mode == ShareMode::kMps) {
      choice.resource = kShared;
      choice.rule = intent->mode == ShareMode::kAuto ? "3.5 auto -> mps" : "3.3 mps";
      if (intent->gpu_memory_bytes || intent->gpu_compute_percent) {
        auto offer = mps_offer(*intent, cluster, catalog);
        if (!offer.meets && cluster.node_count > 0) {
          choice.warnings.push_back("no MPS-shared GPU in the cluster meets " +
                                    requirement_text(*intent) +
                                    " per replica yet; the pod waits for one");
        }
      }
    } else {
      choice = choose_mig(*intent, cluster, catalog, prefix);
      if (intent->mode == ShareMode::kAuto && choice.error.empty()) choice.rule = "3.5 auto -> mig";
      if (!choice.error.empty()) {
        std::string message = choice.error;
        if (intent->mode == ShareMode::kAuto) {
          message = "no MPS-shared GPU in the cluster meets " + requirement_text(*intent) +
                    " per replica, and " + message;
        }
        return deny(d, "3.4 no MIG profile", message);
      }
    }
  } else if (intent->present && !asks_managed) {
    d.outcome = AdmissionOutcome::kAllowed;
    d.rule = "3.2 nothing to map";
    d.warnings.push_back("no container requests nvidia.com/gpu: the " + prefix +
                         " annotations have no effect");
    return d;
  }

  // Rule 2 and rule 3: rename per container, then check every shared count.
  std::set<std::string> assigned;
  for (std::size_t i = 0; i < pod.containers.size(); ++i) {
    const auto& c = pod.containers[i];
    if (asks_for(c, kGpu)) {
      if (asks_for(c, choice.resource)) {
        return deny(d, "3.2 conflicting resources",
                    container_label(c) + " asks for both nvidia.com/gpu and " + choice.resource +
                        "; ask for one of them");
      }
      d.renames.push_back({i, kGpu, choice.resource});
      assigned.insert(choice.resource);
    }
    for (const StringMap* map : {&c.limits, &c.requests}) {
      for (const auto& [res, qty] : *map) {
        if (is_managed_resource(res)) assigned.insert(res);
      }
    }
    const bool mapped_to_shared = asks_for(c, kGpu) && choice.resource == kShared;
    const std::int64_t shared =
        mapped_to_shared ? resource_count(c, kGpu).value : resource_count(c, kShared).value;
    if (shared > 1) {
      std::string how =
          mapped_to_shared ? " (nvidia.com/gpu: " + std::to_string(shared) + " mapped to MPS)" : "";
      return deny(d, "3.3 shared > 1",
                  container_label(c) + " asks for " + std::to_string(shared) +
                      " nvidia.com/gpu.shared" + how +
                      ": MPS shared GPUs are limited to 1 per container, since the device plugin "
                      "cannot give "
                      "one container several replicas. Ask for 1, or for more memory use " +
                      prefix + "gpu-memory or a MIG profile (" + prefix + "mig-profile)");
    }
  }

  d.outcome = AdmissionOutcome::kAllowed;
  d.rule = choice.rule.empty() ? "3.7 record" : choice.rule;
  d.warnings = choice.warnings;
  d.assigned_resource = join(std::vector<std::string>(assigned.begin(), assigned.end()), ",");
  if (!d.assigned_resource.empty()) {
    d.annotation_key = prefix + std::string(kAssignedResourceKey);
    d.annotation_value = d.assigned_resource;
  }
  return d;
}

}  // namespace gpushare::policy
