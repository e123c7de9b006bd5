// policy/catalog: the built-in catalog, geometry invariants, exact product matching, resource
// names, and error messages for bad catalog YAML that name the model, profile and field.
#include "policy/catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpushare::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const GpuModel& builtin_model(const std::string& name) {
  const GpuModel* m = Catalog::builtin().model_named(name);
  if (m == nullptr) throw std::runtime_error("no built-in model " + name);
  return *m;
}

TEST(BuiltinCatalog, ParsesAndIsParsedOnce) {
  const auto parsed = Catalog::from_yaml(Catalog::builtin_yaml());
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->models().size(), 13u);
  EXPECT_EQ(&Catalog::builtin(), &Catalog::builtin());
  EXPECT_EQ(Catalog::builtin().models().size(), 13u);
}

TEST(BuiltinCatalog, EveryProfileFitsItsModelsGrid) {
  for (const auto& m : Catalog::builtin().models()) {
    SCOPED_TRACE(m.model);
    EXPECT_TRUE(m.grid == 4 || m.grid == 8 || m.grid == 12) << m.grid;
    EXPECT_TRUE(m.compute_slices == 4 || m.compute_slices == 7) << m.compute_slices;
    EXPECT_FALSE(m.products.empty());
    EXPECT_FALSE(m.profiles.empty());
    std::int64_t largest = 0;
    // Profiles of one placement class share their size and starts (they are the same slots).
    std::map<std::string, std::pair<int, std::vector<int>>> by_class;
    for (const auto& p : m.profiles) {
      SCOPED_TRACE(p.name);
      EXPECT_GE(p.memory_units, 1);
      EXPECT_GE(p.compute_slices, 1);
      EXPECT_LE(p.compute_slices, m.compute_slices);
      EXPECT_GE(p.max_count, 1);
      EXPECT_GT(p.memory_bytes, 0);
      ASSERT_FALSE(p.starts.empty());
      for (int s : p.starts) {
        EXPECT_GE(s, 0);
        EXPECT_LE(s + p.memory_units, m.grid);
      }
      auto [it, inserted] =
          by_class.emplace(p.placement_class, std::make_pair(p.memory_units, p.starts));
      if (!inserted) {
        EXPECT_EQ(it->second.first, p.memory_units);
        EXPECT_EQ(it->second.second, p.starts);
      }
      if (p.name.find("+me") != std::string::npos) {
        EXPECT_EQ(p.max_count, 1) << "media-engine profiles allow one instance";
      }
      largest = std::max(largest, p.memory_bytes);
    }
    EXPECT_EQ(m.memory_bytes, largest);
    EXPECT_FALSE(m.balanced.empty());
    for (const auto& [name, count] : m.balanced) {
      const MigProfile* p = m.find_profile(name);
      ASSERT_NE(p, nullptr) << name;
      EXPECT_LE(count, p->max_count);
    }
  }
}

TEST(BuiltinCatalog, KnownGeometry) {
  const GpuModel& h100 = builtin_model("H100-80GB");
  EXPECT_EQ(h100.grid, 8);
  EXPECT_EQ(h100.compute_slices, 7);
  EXPECT_TRUE(h100.verified_placements);
  EXPECT_THAT(h100.pci_ids, ElementsAre("0x233010DE", "0x233110DE", "0x232210DE", "0x232410DE"));
  ASSERT_NE(h100.find_profile("1g.20gb"), nullptr);
  EXPECT_EQ(h100.find_profile("1g.20gb")->placement_class, "1g_2mem");
  EXPECT_EQ(h100.find_profile("1g.20gb")->memory_units, 2);
  EXPECT_THAT(h100.find_profile("1g.20gb")->starts, ElementsAre(0, 2, 4, 6));
  EXPECT_THAT(h100.find_profile("1g.10gb")->starts, ElementsAre(0, 1, 2, 3, 4, 5, 6));
  EXPECT_THAT(h100.find_profile("3g.40gb")->starts, ElementsAre(0, 4));
  EXPECT_EQ(h100.find_profile("3g.40gb")->compute_slices, 3);
  EXPECT_EQ(h100.find_profile("3g.40gb")->memory_units, 4);
  EXPECT_EQ(h100.find_profile("7g.80gb")->max_count, 1);
  EXPECT_EQ(h100.find_profile("1g.10gb")->sms, 16);
  EXPECT_EQ(h100.find_profile("nope"), nullptr);
  EXPECT_EQ(h100.balanced,
            (std::map<std::string, int>{{"1g.10gb", 2}, {"2g.20gb", 1}, {"3g.40gb", 1}}));

  const GpuModel& a30 = builtin_model("A30-24GB");
  EXPECT_EQ(a30.grid, 4);
  EXPECT_EQ(a30.compute_slices, 4);
  EXPECT_THAT(a30.find_profile("2g.12gb")->starts, ElementsAre(0, 2));

  const GpuModel& rtx = builtin_model("RTX-PRO-6000-Blackwell-96GB");
  EXPECT_EQ(rtx.grid, 12);
  EXPECT_EQ(rtx.compute_slices, 4);
  EXPECT_EQ(rtx.find_profile("1g.24gb")->memory_units, 3);
  EXPECT_THAT(rtx.find_profile("1g.24gb")->starts, ElementsAre(0, 3, 6, 9));
  EXPECT_THAT(rtx.find_profile("2g.48gb-me")->starts, ElementsAre(0, 6));
  EXPECT_EQ(rtx.find_profile("4g.96gb")->memory_units, 12);
  EXPECT_EQ(rtx.verified_placements, true);

  EXPECT_FALSE(builtin_model("A100-80GB").verified_placements);
  EXPECT_FALSE(builtin_model("A100-80GB").find_profile("1g.10gb")->sms.has_value());
}

struct MemoryCase {
  std::string model;
  std::string profile;
  std::int64_t bytes;
};

TEST(BuiltinCatalog, MemoryIsMemGibRoundedDownElseTheNameInDecimalGigabytes) {
  const std::vector<MemoryCase> cases = {
      {"H100-80GB", "1g.10gb", 10468982784},   // 9.75 GiB exactly
      {"H100-80GB", "1g.20gb", 21066814586},   // floor(19.62 * 2^30)
      {"H100-80GB", "7g.80gb", 85094039552},   // 79.25 GiB
      {"A30-24GB", "1g.6gb", 6238439997},      // floor(5.81 * 2^30)
      {"A100-80GB", "1g.10gb", 10000000000},   // no mem_gib: 10 * 10^9
      {"B200-180GB", "1g.23gb", 23000000000},  // no mem_gib
      {"B200-180GB", "1g.45gb", 47513075712},  // 44.25 GiB
      {"RTX-PRO-6000-Blackwell-96GB", "4g.96gb", 102134322298},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.model + " " + c.profile);
    const MigProfile* p = builtin_model(c.model).find_profile(c.profile);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->memory_bytes, c.bytes);
  }
  EXPECT_EQ(builtin_model("H100-80GB").memory_bytes, 85094039552);
  EXPECT_EQ(builtin_model("A100-80GB").memory_bytes, 80000000000);
  EXPECT_EQ(builtin_model("B200-180GB").memory_bytes, 180000000000);
}

struct ProductCase {
  std::string name;
  std::string product;
  std::optional<std::string> model;
};

TEST(Catalog, ModelForProductIsExactAfterStrippingGfdSuffixes) {
  const std::vector<ProductCase> cases = {
      {"H100 SXM", "NVIDIA-H100-80GB-HBM3", "H100-80GB"},
      {"A100 40GB", "NVIDIA-A100-SXM4-40GB", "A100-40GB"},
      {"A100 80GB PCIe", "NVIDIA-A100-80GB-PCIe", "A100-80GB"},
      {"A30", "NVIDIA-A30", "A30-24GB"},
      {"H20 in the 96GB family", "NVIDIA-H20",
       "H100-96GB / GH200 (H100 on GH200) / PG506-96GB / H20"},
      {"RTX PRO 6000", "NVIDIA-RTX-PRO-6000-Blackwell-Server-Edition",
       "RTX-PRO-6000-Blackwell-96GB"},
      {"shared suffix", "NVIDIA-H100-80GB-HBM3-SHARED", "H100-80GB"},
      {"A30 shared", "NVIDIA-A30-SHARED", "A30-24GB"},
      {"single-strategy MIG", "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb", "H100-80GB"},
      {"single-strategy MIG with attribute", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb+me", "A100-40GB"},
      {"MIG and shared", "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb-SHARED", "H100-80GB"},
      {"invalid single layout", "NVIDIA-A100-SXM4-40GB-MIG-INVALID", "A100-40GB"},
      {"A10 is not A100", "NVIDIA-A10", std::nullopt},
      {"A100 prefix is not a product", "NVIDIA-A100", std::nullopt},
      {"H100 prefix is not a product", "NVIDIA-H100", std::nullopt},
      {"longer name", "NVIDIA-A100-SXM4-40GBX", std::nullopt},
      {"prefixed name", "X-NVIDIA-A30", std::nullopt},
      {"case matters", "nvidia-a30", std::nullopt},
      {"A10 shared", "NVIDIA-A10-SHARED", std::nullopt},
      {"A10 MIG", "NVIDIA-A10-MIG-1g.5gb", std::nullopt},
      {"empty", "", std::nullopt},
      {"only a suffix", "-SHARED", std::nullopt},
      {"only MIG", "-MIG-1g.10gb", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + ": " + c.product);
    const GpuModel* m = Catalog::builtin().model_for_product(c.product);
    if (c.model) {
      ASSERT_NE(m, nullptr);
      EXPECT_EQ(m->model, *c.model);
    } else {
      EXPECT_EQ(m, nullptr) << "matched " << m->model;
    }
  }
}

TEST(Catalog, ModelNamedAndModelsWithProfile) {
  const Catalog& c = Catalog::builtin();
  EXPECT_NE(c.model_named("H200-141GB"), nullptr);
  EXPECT_EQ(c.model_named("H200"), nullptr);
  auto names = [](const std::vector<const GpuModel*>& models) {
    std::vector<std::string> out;
    for (const auto* m : models) out.push_back(m->model);
    return out;
  };
  EXPECT_THAT(names(c.models_with_profile("1g.10gb")),
              ElementsAre("A100-40GB", "A100-80GB", "H100-80GB"));
  EXPECT_THAT(names(c.models_with_profile("1g.24gb")),
              ElementsAre("H100-94GB", "H100-96GB / GH200 (H100 on GH200) / PG506-96GB / H20",
                          "RTX-PRO-6000-Blackwell-96GB"));
  EXPECT_TRUE(c.models_with_profile("1g.99gb").empty());
}

struct NameCase {
  std::string profile;
  bool attribute;
  std::string resource;
};

TEST(MigProfile, AttributesAndResourceNames) {
  const std::vector<NameCase> cases = {
      {"1g.10gb", false, "nvidia.com/mig-1g.10gb"},
      {"3g.40gb", false, "nvidia.com/mig-3g.40gb"},
      {"7g.141gb", false, "nvidia.com/mig-7g.141gb"},
      {"1g.10gb+me", true, "nvidia.com/mig-1g.10gb.me"},
      {"1g.24gb+me.all", true, "nvidia.com/mig-1g.24gb.me.all"},
      {"1g.24gb+gfx", true, "nvidia.com/mig-1g.24gb.gfx"},
      {"1g.24gb-me", true, "nvidia.com/mig-1g.24gb-me"},
      {"2g.48gb-me", true, "nvidia.com/mig-2g.48gb-me"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.profile);
    MigProfile p;
    p.name = c.profile;
    EXPECT_EQ(p.has_attribute(), c.attribute);
    EXPECT_EQ(p.resource_name(), c.resource);
    EXPECT_EQ(mig_resource_for_profile(c.profile), c.resource);
  }
}

TEST(Catalog, ProfileForResourceReversesTheDevicePluginName) {
  const Catalog& c = Catalog::builtin();
  EXPECT_EQ(c.profile_for_resource("nvidia.com/mig-1g.10gb.me"), "1g.10gb+me");
  EXPECT_EQ(c.profile_for_resource("nvidia.com/mig-1g.24gb.me.all"), "1g.24gb+me.all");
  EXPECT_EQ(c.profile_for_resource("nvidia.com/mig-1g.24gb-me"), "1g.24gb-me");
  EXPECT_EQ(c.profile_for_resource("nvidia.com/mig-3g.48gb"), "3g.48gb");
  EXPECT_EQ(c.profile_for_resource("nvidia.com/mig-1g.99gb"), std::nullopt);
  EXPECT_EQ(c.profile_for_resource("nvidia.com/gpu"), std::nullopt);
  EXPECT_EQ(c.profile_for_resource("1g.10gb"), std::nullopt);
  // Every profile's resource name leads back to a profile with that resource name.
  for (const auto& m : c.models()) {
    for (const auto& p : m.profiles) {
      SCOPED_TRACE(m.model + " " + p.name);
      const auto back = c.profile_for_resource(p.resource_name());
      ASSERT_TRUE(back.has_value());
      EXPECT_EQ(mig_resource_for_profile(*back), p.resource_name());
    }
  }
}

// A small valid catalog; the error cases below each break one thing in it.
const std::string kSmall = R"(schema_version: 1
placement_patterns:
  p4: &p4
    grid: 4
    compute_slices: 4
    by_class:
      "1g": {size: 1, starts: [0,1,2,3]}
      "2g": {size: 2, starts: [0,2]}
gpus:
  - model: TEST-GPU
    products: [NVIDIA-TEST]
    pattern: *p4
    profiles:
      - {name: 1g.6gb, class: 1g, compute: 1, mem_units: 1, max: 4, mem_gib: 5.81}
      - {name: 2g.12gb, class: 2g, compute: 2, mem_units: 2, max: 2, note: "ignored"}
    balanced: {1g.6gb: 2}
    some_future_field: ignored
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  if (pos == std::string::npos) throw std::runtime_error("fixture lacks " + from);
  return text.replace(pos, from.size(), to);
}

TEST(CatalogYaml, SmallCatalogParses) {
  const auto c = Catalog::from_yaml(kSmall);
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_EQ(c->models().size(), 1u);
  const GpuModel& m = c->models()[0];
  EXPECT_EQ(m.model, "TEST-GPU");
  EXPECT_EQ(m.grid, 4);
  EXPECT_FALSE(m.verified_placements);
  EXPECT_TRUE(m.pci_ids.empty());
  ASSERT_EQ(m.profiles.size(), 2u);
  EXPECT_EQ(m.profiles[0].memory_bytes, 6238439997);
  EXPECT_EQ(m.profiles[1].memory_bytes, 12000000000);
  EXPECT_EQ(m.memory_bytes, 12000000000);
  EXPECT_EQ(c->model_for_product("NVIDIA-TEST"), &m);
}

TEST(CatalogYaml, PatternMayBeNamedInsteadOfAliased) {
  const auto c = Catalog::from_yaml(replaced(kSmall, "pattern: *p4", "pattern: p4"));
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->models()[0].grid, 4);
}

struct YamlErrorCase {
  std::string name;
  std::string yaml;
  std::vector<std::string> says;  // substrings of the message
};

TEST(CatalogYaml, ErrorsNameTheModelProfileAndField) {
  const std::string g = "gpus[0] (TEST-GPU)";
  const std::vector<YamlErrorCase> cases = {
      {"class not in pattern",
       replaced(kSmall, "class: 1g,", "class: 9g,"),
       {g + " profile 1g.6gb: class '9g' not in pattern", "(line 14)"}},
      {"mem_units differs from the class size",
       replaced(kSmall, "mem_units: 1,", "mem_units: 2,"),
       {g + " profile 1g.6gb: mem_units: 2 is not the size 1 of class '1g'"}},
      {"missing max", replaced(kSmall, "max: 4,", ""), {g + " profile 1g.6gb: max: missing"}},
      {"missing class",
       replaced(kSmall, "class: 2g, ", ""),
       {g + " profile 2g.12gb: class: missing"}},
      {"compute differs from the name",
       replaced(kSmall, "compute: 2,", "compute: 3,"),
       {g + " profile 2g.12gb: compute: 3 does not match the name's 2g"}},
      {"compute not an integer",
       replaced(kSmall, "compute: 1,", "compute: 1.5,"),
       {g + " profile 1g.6gb: compute: '1.5' is not an integer"}},
      {"max zero",
       replaced(kSmall, "max: 4,", "max: 0,"),
       {g + " profile 1g.6gb: max: must be at least 1"}},
      {"bad profile name",
       replaced(kSmall, "name: 1g.6gb,", "name: 1g6gb,"),
       {g + " profile 1g6gb: name: expected <G>g.<M>gb"}},
      {"profile without name",
       replaced(kSmall, "name: 1g.6gb, ", ""),
       {g + " profiles[0]: name: missing"}},
      {"bad mem_gib",
       replaced(kSmall, "mem_gib: 5.81", "mem_gib: lots"),
       {g + " profile 1g.6gb: mem_gib"}},
      {"mem_gib too precise",
       replaced(kSmall, "mem_gib: 5.81", "mem_gib: 5.8100000000001"),
       {"mem_gib", "at most 9 decimals"}},
      {"duplicate profile",
       replaced(kSmall, "name: 2g.12gb, class: 2g, compute: 2, mem_units: 2",
                "name: 1g.6gb, class: 1g, compute: 1, mem_units: 1"),
       {g + ": profile 1g.6gb: listed twice"}},
      {"missing model",
       replaced(kSmall, "model: TEST-GPU", "modelx: TEST-GPU"),
       {"gpus[0]: model: missing"}},
      {"missing products",
       replaced(kSmall, "products: [NVIDIA-TEST]", ""),
       {g + ": products: missing"}},
      {"products not a list",
       replaced(kSmall, "products: [NVIDIA-TEST]", "products: {a: b}"),
       {g + ": products: must be a list of strings"}},
      {"missing pattern", replaced(kSmall, "pattern: *p4", ""), {g + ": pattern: missing"}},
      {"unknown pattern name",
       replaced(kSmall, "pattern: *p4", "pattern: p9"),
       {g + ": pattern: 'p9' is not in placement_patterns"}},
      {"missing profiles",
       replaced(kSmall, "    profiles:\n", "    profilez:\n"),
       {g + ": profiles: missing"}},
      {"balanced names an unknown profile",
       replaced(kSmall, "balanced: {1g.6gb: 2}", "balanced: {3g.1gb: 1}"),
       {g + ": balanced: profile 3g.1gb is not a profile of this model"}},
      {"balanced over max",
       replaced(kSmall, "balanced: {1g.6gb: 2}", "balanced: {2g.12gb: 3}"),
       {g + ": balanced: 2g.12gb count 3 is outside 1..2"}},
      {"verified_placements not a bool",
       replaced(kSmall, "pattern: *p4", "pattern: *p4\n    verified_placements: maybe"),
       {g + ": verified_placements: must be true or false"}},
      {"start outside the grid",
       replaced(kSmall, "starts: [0,2]", "starts: [0,3]"),
       {"placement_patterns.p4 class '2g': starts: 3 + size 2 does not fit the grid of 4"}},
      {"starts out of order",
       replaced(kSmall, "starts: [0,2]", "starts: [2,0]"),
       {"placement_patterns.p4 class '2g': starts: must be strictly increasing"}},
      {"size larger than the grid",
       replaced(kSmall, "size: 2,", "size: 5,"),
       {"placement_patterns.p4 class '2g': size: 5 is outside 1..grid (4)"}},
      {"grid zero",
       replaced(kSmall, "grid: 4", "grid: 0"),
       {"placement_patterns.p4: grid: 0 is outside 1..64"}},
      {"grid missing", replaced(kSmall, "grid: 4", ""), {"placement_patterns.p4: grid: missing"}},
      {"duplicate model",
       kSmall + "  - model: TEST-GPU\n    products: [OTHER]\n    pattern: *p4\n"
                "    profiles: [{name: 1g.6gb, class: 1g, compute: 1, mem_units: 1, max: 4}]\n",
       {"gpus[1] (TEST-GPU): model: listed twice"}},
      {"product of two models",
       kSmall + "  - model: OTHER\n    products: [NVIDIA-TEST]\n    pattern: *p4\n"
                "    profiles: [{name: 1g.6gb, class: 1g, compute: 1, mem_units: 1, max: 4}]\n",
       {"gpus[1] (OTHER): products: NVIDIA-TEST is already a product of TEST-GPU"}},
      {"schema version",
       replaced(kSmall, "schema_version: 1", "schema_version: 2"),
       {"schema_version: only version 1 is understood"}},
      {"no gpus", "schema_version: 1\n", {"gpus: missing"}},
      {"gpus empty", "gpus: []\n", {"gpus: must be a non-empty list"}},
      {"not a mapping", "- a\n- b\n", {"must be a mapping"}},
      {"empty document", "", {"must be a mapping"}},
      {"syntax error", "gpus: [\n", {"invalid YAML"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto parsed = Catalog::from_yaml(c.yaml);
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(parsed.error(), HasSubstr("catalog: "));
    for (const auto& s : c.says) EXPECT_THAT(parsed.error(), HasSubstr(s));
  }
}

}  // namespace
}  // namespace gpushare::policy
