// policy/layout: placement rules checked against an independent brute-force enumeration for
// every catalog model, known layouts from nvidia.md 7, and the planner-facing helpers.
#include "policy/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/catalog.h"

namespace gpushare::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const GpuModel& model(const std::string& name) {
  const GpuModel* m = Catalog::builtin().model_named(name);
  if (m == nullptr) throw std::runtime_error("no built-in model " + name);
  return *m;
}

const char* const kH100 = "H100-80GB";
const char* const kA100 = "A100-40GB";
const char* const kA30 = "A30-24GB";
const char* const kRtx = "RTX-PRO-6000-Blackwell-96GB";

// ---- Brute force, written independently of layout.cpp: every set of (profile, start) pairs,
// each pair at most once (two instances at one start would overlap), kept when the pairs do not
// overlap and the counts obey max, compute slices and one media-engine instance per GPU.

struct BruteForce {
  const GpuModel& m;
  std::vector<std::pair<std::size_t, int>> candidates;
  std::set<std::vector<int>> found;  // count vectors, indexed like m.profiles

  explicit BruteForce(const GpuModel& model) : m(model) {
    for (std::size_t i = 0; i < m.profiles.size(); ++i) {
      for (int s : m.profiles[i].starts) candidates.emplace_back(i, s);
    }
    std::vector<int> count(m.profiles.size(), 0);
    std::vector<bool> used(static_cast<std::size_t>(m.grid), false);
    walk(0, used, count, 0, 0);
  }

  static bool media(const MigProfile& p) { return p.name.find("+me") != std::string::npos; }

  void walk(std::size_t k, std::vector<bool>& used, std::vector<int>& count, int compute,
            int media_count) {
    if (k == candidates.size()) {
      if (std::any_of(count.begin(), count.end(), [](int n) { return n > 0; })) found.insert(count);
      return;
    }
    walk(k + 1, used, count, compute, media_count);
    const auto [i, start] = candidates[k];
    const MigProfile& p = m.profiles[i];
    if (start + p.memory_units > m.grid || count[i] == p.max_count ||
        compute + p.compute_slices > m.compute_slices || (media(p) && media_count == 1)) {
      return;
    }
    for (int u = start; u < start + p.memory_units; ++u) {
      if (used[static_cast<std::size_t>(u)]) return;
    }
    for (int u = start; u < start + p.memory_units; ++u) used[static_cast<std::size_t>(u)] = true;
    ++count[i];
    walk(k + 1, used, count, compute + p.compute_slices, media_count + (media(p) ? 1 : 0));
    --count[i];
    for (int u = start; u < start + p.memory_units; ++u) used[static_cast<std::size_t>(u)] = false;
  }

  ProfileCounts as_counts(const std::vector<int>& w) const {
    ProfileCounts c;
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (w[i] > 0) c[m.profiles[i].name] = w[i];
    }
    return c;
  }

  bool base_only(const std::vector<int>& w) const {
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (w[i] > 0 && m.profiles[i].has_attribute()) return false;
    }
    return true;
  }

  // What reachable_layouts should answer, in its order (count vectors descending).
  std::vector<ProfileCounts> expected(bool include_attributes, bool maximal_only) const {
    std::set<std::vector<int>> pool;
    for (const auto& w : found) {
      if (include_attributes || base_only(w)) pool.insert(w);
    }
    std::vector<ProfileCounts> out;
    for (auto it = pool.rbegin(); it != pool.rend(); ++it) {
      bool maximal = true;
      for (std::size_t i = 0; i < m.profiles.size() && maximal; ++i) {
        std::vector<int> more = *it;
        ++more[i];
        maximal = pool.count(more) == 0;
      }
      if (!maximal_only || maximal) out.push_back(as_counts(*it));
    }
    return out;
  }
};

TEST(LayoutBruteForce, ReachableLayoutsMatchForEveryCatalogModel) {
  for (const auto& m : Catalog::builtin().models()) {
    SCOPED_TRACE(m.model);
    const BruteForce brute(m);
    ASSERT_FALSE(brute.found.empty());
    for (bool attributes : {false, true}) {
      for (bool maximal : {false, true}) {
        SCOPED_TRACE(std::string(attributes ? "with" : "without") + " attribute profiles, " +
                     (maximal ? "maximal only" : "all"));
        const auto got = reachable_layouts(m, EnumerateOptions{attributes, maximal});
        const auto want = brute.expected(attributes, maximal);
        EXPECT_EQ(got.size(), want.size());
        EXPECT_EQ(got, want);
      }
    }
  }
}

TEST(LayoutBruteForce, EveryReachableMultisetIsPlacedAndNothingMore) {
  for (const auto& m : Catalog::builtin().models()) {
    SCOPED_TRACE(m.model);
    const BruteForce brute(m);
    for (const auto& w : brute.found) {
      const ProfileCounts counts = brute.as_counts(w);
      SCOPED_TRACE(describe(counts));
      EXPECT_TRUE(placeable(m, counts));
      const auto layout = find_placement(m, counts);
      ASSERT_TRUE(layout.ok()) << layout.error();
      EXPECT_EQ(counts_of(*layout), counts);
      const auto checked = check_layout(m, layout->instances);
      ASSERT_TRUE(checked.ok()) << checked.error() << " in " << describe(*layout);
      EXPECT_EQ(*checked, *layout);
      // One more instance of any profile: placeable exactly when brute force found it. And the
      // placement find_placement chose still holds it: with the built-in catalog's nested,
      // aligned slots, keeping the leftover most useful never strands room for one instance
      // (a property of these geometries that the leftover order should keep, not a theorem).
      for (std::size_t i = 0; i < m.profiles.size(); ++i) {
        std::vector<int> more = w;
        ++more[i];
        const bool reachable = brute.found.count(more) != 0;
        EXPECT_EQ(placeable(m, brute.as_counts(more)), reachable) << "+1 " << m.profiles[i].name;
        EXPECT_TRUE(can_hold(m, *layout, m.profiles[i].name) || !reachable)
            << "the chosen placement of " << describe(counts) << " strands room for "
            << m.profiles[i].name;
      }
    }
  }
}

// ---- Known facts (nvidia.md 7.2, 7.3 and the task's observed layouts).

struct FactCase {
  std::string name;
  std::string model;
  ProfileCounts counts;
  bool fits;
};

TEST(Layout, KnownLayouts) {
  const std::vector<FactCase> cases = {
      {"H100 balanced 3g+2g+1g+1g", kH100, {{"1g.10gb", 2}, {"2g.20gb", 1}, {"3g.40gb", 1}}, true},
      {"H100 4g+3g", kH100, {{"4g.40gb", 1}, {"3g.40gb", 1}}, true},
      {"H100 two 4g", kH100, {{"4g.40gb", 2}}, false},
      {"H100 two 3g", kH100, {{"3g.40gb", 2}}, true},
      {"H100 two 3g and a 1g", kH100, {{"3g.40gb", 2}, {"1g.10gb", 1}}, false},
      {"H100 four 1g.20gb", kH100, {{"1g.20gb", 4}}, true},
      {"H100 four 1g.20gb plus 1g", kH100, {{"1g.20gb", 4}, {"1g.10gb", 1}}, false},
      {"H100 four 1g.20gb plus 2g", kH100, {{"1g.20gb", 4}, {"2g.20gb", 1}}, false},
      {"H100 four 1g.20gb plus 1g+me", kH100, {{"1g.20gb", 4}, {"1g.10gb+me", 1}}, false},
      {"H100 7g alone", kH100, {{"7g.80gb", 1}}, true},
      {"H100 7g plus 1g", kH100, {{"7g.80gb", 1}, {"1g.10gb", 1}}, false},
      {"H100 seven 1g", kH100, {{"1g.10gb", 7}}, true},
      {"H100 eight 1g", kH100, {{"1g.10gb", 8}}, false},
      {"H100 seven 1g plus 1g.20gb (compute and unit 7)",
       kH100,
       {{"1g.10gb", 7}, {"1g.20gb", 1}},
       false},
      {"H100 six 1g plus 1g.20gb at 6", kH100, {{"1g.10gb", 6}, {"1g.20gb", 1}}, true},
      {"H100 three 2g plus 1g", kH100, {{"2g.20gb", 3}, {"1g.10gb", 1}}, true},
      {"H100 three 2g plus 1g.20gb", kH100, {{"2g.20gb", 3}, {"1g.20gb", 1}}, true},
      {"H100 4g plus two 2g (8 compute slices)", kH100, {{"4g.40gb", 1}, {"2g.20gb", 2}}, false},
      {"H100 3g plus two 2g", kH100, {{"3g.40gb", 1}, {"2g.20gb", 2}}, true},
      {"H100 one +me with six 1g", kH100, {{"1g.10gb+me", 1}, {"1g.10gb", 6}}, true},
      {"H100 two +me", kH100, {{"1g.10gb+me", 2}}, false},
      {"A100 4g+3g observed", kA100, {{"4g.20gb", 1}, {"3g.20gb", 1}}, true},
      {"A30 2g+1g+1g", kA30, {{"2g.12gb", 1}, {"1g.6gb", 2}}, true},
      {"A30 two 2g", kA30, {{"2g.12gb", 2}}, true},
      {"A30 four 1g", kA30, {{"1g.6gb", 4}}, true},
      {"A30 4g alone", kA30, {{"4g.24gb", 1}}, true},
      {"A30 4g plus 1g", kA30, {{"4g.24gb", 1}, {"1g.6gb", 1}}, false},
      {"A30 two media-engine instances", kA30, {{"1g.6gb+me", 1}, {"2g.12gb+me", 1}}, false},
      {"RTX four 1g", kRtx, {{"1g.24gb", 4}}, true},
      {"RTX five 1g", kRtx, {{"1g.24gb", 5}}, false},
      {"RTX 2g+1g+1g", kRtx, {{"2g.48gb", 1}, {"1g.24gb", 2}}, true},
      {"RTX two 2g", kRtx, {{"2g.48gb", 2}}, true},
      {"RTX two 2g plus 1g", kRtx, {{"2g.48gb", 2}, {"1g.24gb", 1}}, false},
      {"RTX 4g alone", kRtx, {{"4g.96gb", 1}}, true},
      {"RTX 4g+gfx plus 1g", kRtx, {{"4g.96gb+gfx", 1}, {"1g.24gb", 1}}, false},
      {"RTX four -me", kRtx, {{"1g.24gb-me", 4}}, true},
      {"RTX gfx next to 2g", kRtx, {{"1g.24gb+gfx", 2}, {"2g.48gb", 1}}, true},
      {"RTX +me with +me.all", kRtx, {{"1g.24gb+me", 1}, {"1g.24gb+me.all", 1}}, false},
      {"RTX +me.all with base", kRtx, {{"2g.48gb+me.all", 1}, {"1g.24gb", 2}}, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const GpuModel& m = model(c.model);
    EXPECT_EQ(placeable(m, c.counts), c.fits);
    const auto layout = find_placement(m, c.counts);
    EXPECT_EQ(layout.ok(), c.fits) << (layout.ok() ? describe(*layout) : layout.error());
  }
}

TEST(Layout, EveryCatalogBalancedLayoutIsPlaceable) {
  for (const auto& m : Catalog::builtin().models()) {
    SCOPED_TRACE(m.model);
    const auto layout = find_placement(m, m.balanced);
    ASSERT_TRUE(layout.ok()) << layout.error();
    EXPECT_EQ(counts_of(*layout), m.balanced);
    EXPECT_TRUE(check_layout(m, layout->instances).ok());
  }
}

struct ObservedCase {
  std::string name;
  std::string model;
  std::vector<Placement> instances;
};

TEST(Layout, ObservedLayoutsAreLegal) {
  const std::vector<ObservedCase> cases = {
      {"A100 4g@0 + 3g@4", kA100, {{"4g.20gb", 0, 4}, {"3g.20gb", 4, 4}}},
      {"A100 1g@0,1 + 2g@2 + 3g@4",
       kA100,
       {{"1g.5gb", 0, 1}, {"1g.5gb", 1, 1}, {"2g.10gb", 2, 2}, {"3g.20gb", 4, 4}}},
      {"H100 NVL 2g@0,2,4 + 1g@6",
       "H100-94GB",
       {{"2g.24gb", 0, 2}, {"2g.24gb", 2, 2}, {"2g.24gb", 4, 2}, {"1g.12gb", 6, 1}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto layout = check_layout(model(c.model), c.instances);
    EXPECT_TRUE(layout.ok()) << layout.error();
  }
}

struct BadLayoutCase {
  std::string name;
  std::vector<Placement> instances;
  std::string says;
};

TEST(Layout, CheckLayoutRejectsIllegalInstances) {
  const std::vector<BadLayoutCase> cases = {
      {"unknown profile", {{"5g.50gb", 0, 0}}, "5g.50gb@0: not a profile of H100-80GB"},
      {"1g cannot start at 7",
       {{"1g.10gb", 7, 1}},
       "1g.10gb@7: start 7 is not a legal start (0,1,2,3,4,5,6)"},
      {"1g.20gb only at even starts",
       {{"1g.20gb", 1, 2}},
       "start 1 is not a legal start (0,2,4,6)"},
      {"wrong size", {{"3g.40gb", 0, 2}}, "size 2 is not the profile's 4 units"},
      {"overlap", {{"3g.40gb", 0, 4}, {"2g.20gb", 2, 2}}, "2g.20gb@2: overlaps another instance"},
      {"two 4g", {{"4g.40gb", 0, 4}, {"4g.40gb", 0, 4}}, "overlaps"},
      {"two +me", {{"1g.10gb+me", 0, 1}, {"1g.10gb+me", 1, 1}}, "exceeds its maximum of 1"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto layout = check_layout(model(kH100), c.instances);
    ASSERT_FALSE(layout.ok());
    EXPECT_THAT(layout.error(), HasSubstr(c.says));
  }
  // Size 0 is filled in, and the result is ordered by start.
  const auto filled = check_layout(model(kH100), {{"3g.40gb", 4, 0}, {"1g.10gb", 0, 0}});
  ASSERT_TRUE(filled.ok()) << filled.error();
  EXPECT_THAT(filled->instances,
              ElementsAre(Placement{"1g.10gb", 0, 1}, Placement{"3g.40gb", 4, 4}));
}

// A made-up GPU where only the compute-slice rule (4) and the media rule (5) bind: eight
// one-unit slots but seven compute slices, and two distinct media-engine profiles.
const std::string kEightSlots = R"(gpus:
  - model: EIGHT
    products: [EIGHT]
    pattern: {grid: 8, compute_slices: 7, by_class: {"1g": {size: 1, starts: [0,1,2,3,4,5,6,7]}}}
    profiles:
      - {name: 1g.1gb, class: 1g, compute: 1, mem_units: 1, max: 8}
      - {name: 1g.1gb+me, class: 1g, compute: 1, mem_units: 1, max: 1}
      - {name: 1g.1gb+me.all, class: 1g, compute: 1, mem_units: 1, max: 1}
)";

TEST(Layout, ComputeSlicesAndMediaEnginesAreCountedPerGpu) {
  const auto catalog = Catalog::from_yaml(kEightSlots);
  ASSERT_TRUE(catalog.ok()) << catalog.error();
  const GpuModel& m = catalog->models()[0];
  EXPECT_TRUE(placeable(m, {{"1g.1gb", 7}}));
  EXPECT_FALSE(placeable(m, {{"1g.1gb", 8}}));
  const auto err = find_placement(m, {{"1g.1gb", 8}});
  ASSERT_FALSE(err.ok());
  EXPECT_THAT(err.error(), HasSubstr("needs 8 compute slices but 7 of 7 are free"));
  EXPECT_FALSE(placeable(m, {{"1g.1gb+me", 1}, {"1g.1gb+me.all", 1}}));
  const auto seven = find_placement(m, {{"1g.1gb", 7}});
  ASSERT_TRUE(seven.ok());
  EXPECT_FALSE(can_hold(m, *seven, "1g.1gb"));
  EXPECT_EQ(free_units(m, *seven), 1);
  EXPECT_EQ(free_compute_slices(m, *seven), 0);
  EXPECT_EQ(leftover(m, *seven).stranded_units, 1);
  const auto bad = check_layout(m, {{"1g.1gb+me", 0, 1}, {"1g.1gb+me.all", 1, 1}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error(), HasSubstr("at most one such instance"));
  EXPECT_TRUE(BruteForce(m).found.size() > 0);
  EXPECT_EQ(reachable_layouts(m, {true, false}), BruteForce(m).expected(true, false));
}

TEST(Layout, ClaimsMediaEngines) {
  auto profile = [](const std::string& name) {
    MigProfile p;
    p.name = name;
    return p;
  };
  EXPECT_TRUE(claims_media_engines(profile("1g.10gb+me")));
  EXPECT_TRUE(claims_media_engines(profile("1g.24gb+me.all")));
  EXPECT_FALSE(claims_media_engines(profile("1g.24gb-me")));
  EXPECT_FALSE(claims_media_engines(profile("1g.24gb+gfx")));
  EXPECT_FALSE(claims_media_engines(profile("1g.24gb")));
}

TEST(Layout, PlaceTakesTheLowestFreeLegalStart) {
  const GpuModel& m = model(kH100);
  MigLayout layout;
  const std::vector<std::pair<std::string, std::string>> steps = {
      {"1g.10gb", "1g.10gb@0"},
      {"3g.40gb", "1g.10gb@0 3g.40gb@4"},
      {"2g.20gb", "1g.10gb@0 2g.20gb@2 3g.40gb@4"},
      {"1g.10gb", "1g.10gb@0 1g.10gb@1 2g.20gb@2 3g.40gb@4"},
  };
  for (const auto& [profile, after] : steps) {
    SCOPED_TRACE(profile);
    auto next = place(m, layout, profile);
    ASSERT_TRUE(next.ok()) << next.error();
    layout = *next;
    EXPECT_EQ(describe(layout), after);
  }
  EXPECT_EQ(free_units(m, layout), 0);
  EXPECT_EQ(free_compute_slices(m, layout), 0);
  for (const auto& p : m.profiles) EXPECT_FALSE(can_hold(m, layout, p.name)) << p.name;
  const auto full = place(m, layout, "1g.10gb");
  ASSERT_FALSE(full.ok());
  EXPECT_THAT(full.error(), HasSubstr("1g.10gb"));
  EXPECT_FALSE(place(m, {}, "9g.1gb").ok());
  EXPECT_FALSE(can_hold(m, {}, "9g.1gb"));
}

TEST(Layout, FreeStartsAndCanHold) {
  const GpuModel& m = model(kH100);
  const MigProfile& half = *m.find_profile("1g.20gb");
  EXPECT_THAT(free_starts(m, {}, half), ElementsAre(0, 2, 4, 6));
  const MigLayout three_at_zero{{{"3g.40gb", 0, 4}}};
  EXPECT_THAT(free_starts(m, three_at_zero, half), ElementsAre(4, 6));
  EXPECT_TRUE(can_hold(m, three_at_zero, "3g.40gb"));
  EXPECT_FALSE(can_hold(m, three_at_zero, "4g.40gb"));
  const MigLayout four{{{"4g.40gb", 0, 4}}};
  EXPECT_TRUE(can_hold(m, four, "3g.40gb"));
  EXPECT_FALSE(can_hold(m, four, "4g.40gb"));
  const MigLayout me{{{"1g.10gb+me", 3, 1}}};
  EXPECT_TRUE(free_starts(m, me, *m.find_profile("1g.10gb+me")).empty());
  EXPECT_THAT(free_starts(m, me, *m.find_profile("1g.10gb")), ElementsAre(0, 1, 2, 4, 5, 6));
}

TEST(Layout, FindPlacementKeepsTheLeftoverMostUseful) {
  const GpuModel& m = model(kH100);
  // One 1g at 6 keeps 4g@0 and three 2g starts free.
  EXPECT_EQ(describe(*find_placement(m, {{"1g.10gb", 1}})), "1g.10gb@6");
  EXPECT_EQ(describe(*find_placement(m, {{"1g.10gb", 2}})), "1g.10gb@4 1g.10gb@5");
  EXPECT_EQ(describe(*find_placement(m, {{"3g.40gb", 1}})), "3g.40gb@4");
  // Full layouts leave nothing: the first placement found, largest profiles first.
  EXPECT_EQ(describe(*find_placement(m, m.balanced)), "2g.20gb@0 1g.10gb@2 1g.10gb@3 3g.40gb@4");
  // Deterministic.
  EXPECT_EQ(*find_placement(m, m.balanced), *find_placement(m, m.balanced));
}

TEST(Layout, FindPlacementNextToExistingInstances) {
  const GpuModel& m = model(kH100);
  const MigLayout three_at_four{{{"3g.40gb", 4, 4}}};
  const auto with_four = find_placement(m, {{"4g.40gb", 1}}, three_at_four);
  ASSERT_TRUE(with_four.ok()) << with_four.error();
  EXPECT_EQ(describe(*with_four), "4g.40gb@0 3g.40gb@4");
  const MigLayout three_at_zero{{{"3g.40gb", 0, 4}}};
  const auto none = find_placement(m, {{"4g.40gb", 1}}, three_at_zero);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.error(),
              HasSubstr("no placement of 4g.40gb x1 fits next to 3g.40gb@0 on H100-80GB"));
}

struct RequestErrorCase {
  std::string name;
  ProfileCounts counts;
  std::string says;
};

TEST(Layout, FindPlacementErrorsNameTheRule) {
  const std::vector<RequestErrorCase> cases = {
      {"unknown profile", {{"1g.5gb", 1}}, "profile 1g.5gb is not a profile of H100-80GB"},
      {"negative count", {{"1g.10gb", -1}}, "negative count -1"},
      {"over max", {{"3g.40gb", 3}}, "3 x 3g.40gb exceeds its maximum of 2 per GPU"},
      {"compute", {{"3g.40gb", 2}, {"2g.20gb", 1}}, "compute slices"},
      {"media", {{"1g.10gb+me", 2}}, "exceeds its maximum of 1"},
      {"space", {{"3g.40gb", 1}, {"1g.20gb", 3}}, "no placement of 1g.20gb x3, 3g.40gb x1 fits"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto layout = find_placement(model(kH100), c.counts);
    ASSERT_FALSE(layout.ok());
    EXPECT_THAT(layout.error(), HasSubstr(c.says));
  }
  // Zero counts are ignored.
  EXPECT_TRUE(find_placement(model(kH100), {{"7g.80gb", 1}, {"1g.10gb", 0}}).ok());
}

TEST(Layout, LeftoverHeadroomLargestFirst) {
  const GpuModel& m = model(kH100);
  const Leftover empty = leftover(m, {});
  EXPECT_EQ(empty.free_units, 8);
  EXPECT_EQ(empty.free_compute_slices, 7);
  EXPECT_EQ(empty.stranded_units, 0);
  using Entry = std::pair<std::string, int>;
  EXPECT_THAT(empty.headroom,
              ElementsAre(Entry{"7g.80gb", 1}, Entry{"4g.40gb", 1}, Entry{"3g.40gb", 2},
                          Entry{"2g.20gb", 3}, Entry{"1g.20gb", 4}, Entry{"1g.10gb", 7}));

  const Leftover with_attributes = leftover(m, {}, true);
  EXPECT_EQ(with_attributes.headroom.size(), m.profiles.size());

  const MigLayout seven = *find_placement(m, {{"1g.10gb", 7}});
  const Leftover full = leftover(m, seven);
  EXPECT_EQ(full.free_units, 1);
  EXPECT_EQ(full.stranded_units, 1);
  for (const auto& [name, n] : full.headroom) EXPECT_EQ(n, 0) << name;

  // Two 1g at 0 and 1 leave units 2-3 for a 2g; at 1 and 2 they leave units 0 and 3 apart.
  const Leftover tidy = leftover(m, {{{"1g.10gb", 0, 1}, {"1g.10gb", 1, 1}, {"3g.40gb", 4, 4}}});
  const Leftover split = leftover(m, {{{"1g.10gb", 1, 1}, {"1g.10gb", 2, 1}, {"3g.40gb", 4, 4}}});
  EXPECT_TRUE(more_useful(tidy, split));
  EXPECT_FALSE(more_useful(split, tidy));
  EXPECT_FALSE(more_useful(tidy, tidy));
  EXPECT_TRUE(more_useful(empty, full));
}

TEST(Layout, ReachableLayoutsOrderAndMaximal) {
  const GpuModel& m = model(kH100);
  const auto all = reachable_layouts(m);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front(), (ProfileCounts{{"1g.10gb", 7}}));
  EXPECT_EQ(all.back(), (ProfileCounts{{"7g.80gb", 1}}));
  EXPECT_NE(std::find(all.begin(), all.end(), m.balanced), all.end());
  for (const auto& c : all) {
    for (const auto& [name, n] : c) EXPECT_FALSE(m.find_profile(name)->has_attribute()) << name;
  }
  const auto maximal = reachable_layouts(m, {false, true});
  auto has = [&](const ProfileCounts& c) {
    return std::find(maximal.begin(), maximal.end(), c) != maximal.end();
  };
  EXPECT_TRUE(has({{"7g.80gb", 1}}));
  EXPECT_TRUE(has({{"1g.20gb", 4}}));
  EXPECT_TRUE(has({{"4g.40gb", 1}, {"3g.40gb", 1}}));
  EXPECT_TRUE(has(m.balanced));
  EXPECT_FALSE(has({{"3g.40gb", 1}}));
  EXPECT_FALSE(has({{"1g.10gb", 6}}));
  EXPECT_EQ(reachable_layouts(m), all);  // deterministic

  const auto with_me = reachable_layouts(m, {true, false});
  EXPECT_GT(with_me.size(), all.size());
  EXPECT_NE(
      std::find(with_me.begin(), with_me.end(), ProfileCounts{{"1g.10gb+me", 1}, {"1g.10gb", 6}}),
      with_me.end());
}

TEST(Layout, Describe) {
  EXPECT_EQ(describe(MigLayout{}), "(empty)");
  EXPECT_EQ(describe(ProfileCounts{}), "(none)");
  EXPECT_EQ(describe(ProfileCounts{{"1g.10gb", 2}, {"2g.20gb", 1}, {"3g.40gb", 0}}),
            "1g.10gb x2, 2g.20gb x1");
  EXPECT_EQ(describe(MigLayout{{{"1g.10gb", 0, 1}, {"3g.40gb", 4, 4}}}), "1g.10gb@0 3g.40gb@4");
  EXPECT_EQ(counts_of(MigLayout{{{"1g.10gb", 0, 1}, {"1g.10gb", 1, 1}}}),
            (ProfileCounts{{"1g.10gb", 2}}));
}

}  // namespace
}  // namespace gpushare::policy
