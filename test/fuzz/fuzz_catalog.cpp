// `--catalog FILE` / the config's catalog: GPU catalog YAML. When it parses, each model must be
// found by the names it lists (catalog.h: exact matches).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policy/catalog.h"

using gpushare::policy::Catalog;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto catalog = Catalog::from_yaml(yaml);
  if (!catalog) return 0;
  for (const auto& model : catalog->models()) {
    if (catalog->model_named(model.model) == nullptr) __builtin_trap();
    for (const auto& product : model.products) {
      if (catalog->model_for_product(product) == nullptr) __builtin_trap();
    }
    for (const auto& profile : model.profiles) {
      if (model.find_profile(profile.name) == nullptr) __builtin_trap();
      if (!catalog->profile_for_resource(profile.resource_name())) __builtin_trap();
    }
  }
  return 0;
}
