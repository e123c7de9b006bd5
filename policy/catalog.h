// The GPU catalog: models, their MIG profiles and the placements each profile may take.
// Loaded from YAML shaped like shared/reference/mig-catalog.yaml; a built-in copy of that
// file is the default and `--catalog FILE` replaces it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace gpushare::policy {

struct MigProfile {
  std::string name;             // as the driver names it: "1g.24gb", "1g.10gb+me", "1g.24gb-me"
  std::string placement_class;  // key into the model's placement classes ("1g", "1g_2mem", ...)
  int compute_slices = 0;       // the "Ng" part
  int memory_units = 0;         // placement units occupied, of the model's grid
  int max_count = 0;            // most instances of this profile on one GPU
  std::vector<int> starts;  // legal start units; an instance occupies [start, start+memory_units)
  std::int64_t memory_bytes =
      0;  // usable memory: mem_gib when known, else the "<N>gb" of the name as N*10^9
  std::optional<int> sms;

  // Profiles with an attribute (+me, +me.all, +gfx, -me) are only given when named exactly;
  // automatic choice from gpu-memory/gpu-compute uses base profiles.
  bool has_attribute() const;
  // "nvidia.com/mig-1g.10gb.me": the device plugin's resource name ('+' written as '.').
  std::string resource_name() const;
};

struct GpuModel {
  std::string model;                  // "H100-80GB"
  std::vector<std::string> pci_ids;   // "0x233010DE"
  std::vector<std::string> products;  // exact nvidia.com/gpu.product values
  int grid = 0;                       // placement units of memory on one GPU (8, 4 or 12)
  int compute_slices = 0;             // compute slices of one GPU (7 or 4)
  bool verified_placements = false;
  std::vector<MigProfile> profiles;  // in catalog order
  std::map<std::string, int> balanced;
  // Memory of the whole GPU: the largest profile's memory (for MPS per-replica shares when
  // the node publishes no nvidia.com/gpu.memory label).
  std::int64_t memory_bytes = 0;

  const MigProfile* find_profile(std::string_view name) const;
  bool has_product(std::string_view product) const;
};

class Catalog {
 public:
  // Parses catalog YAML. Every error names the model/profile and the field at fault.
  static Result<Catalog> from_yaml(std::string_view yaml_text);
  // The copy of shared/reference/mig-catalog.yaml compiled into the binary.
  static const Catalog& builtin();
  static std::string_view builtin_yaml();

  const std::vector<GpuModel>& models() const { return models_; }
  // Exact match on nvidia.com/gpu.product (never substring). A "-SHARED" suffix, which GFD
  // adds to shared-but-not-renamed GPUs, is stripped before matching.
  const GpuModel* model_for_product(std::string_view product) const;
  const GpuModel* model_named(std::string_view model) const;
  // Every model that has a profile of this name.
  std::vector<const GpuModel*> models_with_profile(std::string_view profile) const;
  // "nvidia.com/mig-1g.10gb.me" -> "1g.10gb+me" when some model has such a profile.
  std::optional<std::string> profile_for_resource(std::string_view resource) const;

 private:
  std::vector<GpuModel> models_;
};

// Resource names of the device plugin (shared/reference/nvidia.md sections 1 and 2).
inline constexpr std::string_view kGpuResource = "nvidia.com/gpu";
inline constexpr std::string_view kSharedGpuResource = "nvidia.com/gpu.shared";
inline constexpr std::string_view kMigResourcePrefix = "nvidia.com/mig-";

// "1g.10gb+me" -> "nvidia.com/mig-1g.10gb.me".
std::string mig_resource_for_profile(std::string_view profile);

}  // namespace gpushare::policy
