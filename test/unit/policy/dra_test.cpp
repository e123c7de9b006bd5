// policy/dra.h: which nodes DRA serves, fit and score on them, the planner leaving them alone,
// the cluster facts they add, and the DeviceClasses made from the catalog.
#include "policy/dra.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "plan_builders.h"
#include "policy/cluster_facts.h"
#include "policy/fit.h"
#include "policy/score.h"

namespace gpushare::policy {
namespace {

using testing::catalog;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A node as the cache renders one that NVIDIA's DRA driver serves: no device-plugin capacity,
// no GFD labels, DraGpus from its ResourceSlices.
NodeView dra_h100(const std::string& name = "dra-h100",
                  std::vector<std::string> profiles = {"1g.10gb", "3g.40gb", "7g.80gb"}) {
  NodeView n;
  n.name = name;
  n.dra = DraGpus{{"NVIDIA-H100-80GB-HBM3"}, std::move(profiles), 12};
  return n;
}

PodDemand demand_of(const std::string& resource, std::int64_t n = 1) {
  PodDemand d;
  d.resources = {{resource, n}};
  return d;
}

Intent products(std::vector<std::string> p) {
  Intent i;
  i.present = true;
  i.gpu_products = std::move(p);
  return i;
}

TEST(Dra, ANodeIsDrasOnlyWhenTheDevicePluginPublishesNothingThere) {
  struct Case {
    const char* what;
    NodeView node;
    bool dra;
  };
  NodeView both = dra_h100();
  both.allocatable = {{"nvidia.com/mig-1g.10gb", 7}};
  NodeView drained = dra_h100();
  drained.allocatable = {{"nvidia.com/gpu", 0}, {"cpu", 64}};
  NodeView empty = dra_h100();
  empty.dra->devices = 0;
  const std::vector<Case> cases = {
      {"slices, no capacity", dra_h100(), true},
      {"slices and device-plugin capacity: the device plugin's", both, false},
      {"a zero capacity is no capacity", drained, true},
      {"slices without devices (DynamicMIG's counters-only slice alone)", empty, false},
      {"no slices", testing::h100(), false},
  };
  for (const auto& c : cases) EXPECT_EQ(serves_through_dra(c.node), c.dra) << c.what;
}

TEST(Dra, ProductNamesAreWrittenAsGfdLabelsThem) {
  EXPECT_EQ(product_from_dra("NVIDIA H100 80GB HBM3"), "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(product_from_dra("NVIDIA-H20"), "NVIDIA-H20");
}

TEST(Dra, FitLeavesCountingToKubeSchedulerButKeepsProductAndProfileRules) {
  struct Case {
    const char* what;
    PodDemand demand;
    Intent intent;
    bool fits;
    bool unresolvable;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"a profile it has", demand_of("nvidia.com/mig-1g.10gb"), Intent{}, true, false, ""},
      {"more instances than gpushare can count: kube-scheduler decides",
       demand_of("nvidia.com/mig-1g.10gb", 50), Intent{}, true, false, ""},
      {"gpu-product names it", demand_of("nvidia.com/mig-3g.40gb"),
       products({"NVIDIA-H20", "NVIDIA-H100-80GB-HBM3"}), true, false, ""},
      {"gpu-product names another model", demand_of("nvidia.com/mig-1g.10gb"),
       products({"NVIDIA-H20"}), false, true,
       "DRA GPUs are NVIDIA-H100-80GB-HBM3; gpu-product asks for NVIDIA-H20"},
      {"a profile none of its devices has", demand_of("nvidia.com/mig-2g.20gb"), Intent{}, false,
       true, "no 2g.20gb MIG devices among this node's DRA devices"},
      {"MPS is not offered through DRA", demand_of("nvidia.com/gpu.shared"), Intent{}, false, true,
       "GPUs here are allocated through DRA, which offers no nvidia.com/gpu.shared"},
  };
  for (const auto& c : cases) {
    const NodeFit fit = fit_node(c.demand, c.intent, dra_h100(), catalog());
    EXPECT_EQ(fit.fits, c.fits) << c.what;
    EXPECT_EQ(fit.unresolvable, c.unresolvable) << c.what;
    EXPECT_THAT(fit.reason, HasSubstr(c.reason)) << c.what;
  }
}

TEST(Dra, AFittingDraNodeScoresInTheMiddle) {
  const int score = score_node(demand_of("nvidia.com/mig-1g.10gb"), Intent{}, dra_h100(),
                               PlacementPolicy::kBinpack, catalog());
  EXPECT_EQ(score, (2 + kMaxScore) / 2);
  EXPECT_EQ(score_node(demand_of("nvidia.com/mig-2g.20gb"), Intent{}, dra_h100(),
                       PlacementPolicy::kBinpack, catalog()),
            kMinScore);
}

TEST(Dra, ThePlannerNeverRepartitionsADraNode) {
  // Even with the GFD labels GPU Feature Discovery would add beside the DRA driver.
  NodeView labelled = testing::h100("dra-labelled");
  labelled.allocatable.clear();
  labelled.dra = dra_h100().dra;
  const Plan plan = policy::plan(
      testing::input({dra_h100(), labelled}, {testing::mig_pod("p", "2g.20gb")}), catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  ASSERT_EQ(plan.unplaced.size(), 1U);
}

TEST(Dra, ClusterFactsCountDraProductsAndProfilesOnce) {
  NodeView labelled = dra_h100("labelled");
  labelled.labels = {{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"}};
  const ClusterFacts facts = facts_of(ClusterView{{dra_h100("a"), labelled}});
  EXPECT_THAT(facts.products, ElementsAre("NVIDIA-H100-80GB-HBM3"));
  EXPECT_THAT(facts.published_profiles, ElementsAre("1g.10gb", "3g.40gb", "7g.80gb"));

  ClusterFactsTally tally;
  tally.add(dra_h100("a"));
  tally.add(labelled);
  tally.remove(labelled);
  tally.remove(dra_h100("a"));
  EXPECT_THAT(tally.facts().products, IsEmpty());
  EXPECT_THAT(tally.facts().published_profiles, IsEmpty());
}

TEST(Dra, OneDeviceClassPerProfileNameSelectingTheDriversMigDevices) {
  const auto classes = dra_device_classes(catalog());
  std::set<std::string> profiles;
  for (const auto& model : catalog().models())
    for (const auto& p : model.profiles) profiles.insert(p.name);
  ASSERT_EQ(classes.size(), profiles.size());

  // metadata.name must be a DNS subdomain (lower case, at most 253 characters).
  const std::regex subdomain(R"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)");
  std::set<std::string> names;
  for (const auto& c : classes) {
    EXPECT_TRUE(std::regex_match(c.name, subdomain)) << c.name;
    EXPECT_LE(c.name.size(), 253U);
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_EQ(c.extended_resource, mig_resource_for_profile(c.profile));
    EXPECT_EQ(c.name, "gpushare-" + c.extended_resource.substr(std::string("nvidia.com/").size()));
  }
  auto me = std::find_if(classes.begin(), classes.end(),
                         [](const auto& c) { return c.profile == "1g.10gb+me"; });
  ASSERT_NE(me, classes.end());
  EXPECT_EQ(me->name, "gpushare-mig-1g.10gb.me");
  EXPECT_EQ(me->extended_resource, "nvidia.com/mig-1g.10gb.me");
  EXPECT_EQ(me->selector,
            "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == "
            "'mig' && device.attributes['gpu.nvidia.com'].profile == '1g.10gb+me'");
}

}  // namespace
}  // namespace gpushare::policy
