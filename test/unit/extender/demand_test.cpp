// policy::pod_demand: what GPU resources a pod asks for (tested here: unit_policy is shared).
#include <gtest/gtest.h>

#include "policy/pod_demand.h"

namespace gpushare::policy {
namespace {

ContainerView container(std::string name, bool init, StringMap limits, StringMap requests = {}) {
  ContainerView c;
  c.name = std::move(name);
  c.init = init;
  c.limits = std::move(limits);
  c.requests = std::move(requests);
  return c;
}

TEST(PodDemand, EffectiveIsMaxOfLargestInitAndSumOfContainers) {
  PodView pod;
  pod.containers = {
      container("init-a", true, {{"nvidia.com/mig-1g.12gb", "3"}}),
      container("init-b", true, {{"nvidia.com/mig-1g.12gb", "1"}, {"nvidia.com/gpu.shared", "1"}}),
      container("a", false, {{"nvidia.com/mig-1g.12gb", "1"}}),
      container("b", false, {{"nvidia.com/mig-1g.12gb", "1"}, {"nvidia.com/mig-3g.48gb", "1"}})};
  auto d = pod_demand(pod);
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->count("nvidia.com/mig-1g.12gb"), 3);  // init 3 > 1 + 1
  EXPECT_EQ(d->count("nvidia.com/mig-3g.48gb"), 1);
  EXPECT_EQ(d->count("nvidia.com/gpu.shared"), 1);  // only an init container asks
  pod.containers.push_back(container("c", false, {{"nvidia.com/mig-1g.12gb", "2"}}));
  EXPECT_EQ(pod_demand(pod)->count("nvidia.com/mig-1g.12gb"), 4);  // 1 + 1 + 2 > 3
}

TEST(PodDemand, RequestWinsOverLimitAndOtherResourcesAreIgnored) {
  PodView pod;
  pod.containers = {container("a", false, {{"nvidia.com/gpu.shared", "1"}, {"cpu", "2"}},
                              {{"nvidia.com/gpu.shared", "1"}, {"memory", "1Gi"}}),
                    container("b", false, {}, {{"nvidia.com/gpu.shared", "1"}})};
  auto d = pod_demand(pod);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->resources, (std::map<std::string, std::int64_t>{{"nvidia.com/gpu.shared", 2}}));
}

TEST(PodDemand, ManagedMeansSharedOrMig) {
  EXPECT_TRUE(is_managed_resource("nvidia.com/gpu.shared"));
  EXPECT_TRUE(is_managed_resource("nvidia.com/mig-1g.10gb.me"));
  EXPECT_FALSE(is_managed_resource("nvidia.com/mig-"));
  EXPECT_FALSE(is_managed_resource("nvidia.com/gpu"));
  EXPECT_FALSE(is_managed_resource("example.com/mig-1g.10gb"));
  PodView pod;
  pod.containers = {container("a", false, {{"nvidia.com/gpu", "1"}})};
  EXPECT_FALSE(pod_demand(pod)->managed());
  pod.containers.push_back(container("b", false, {{"nvidia.com/mig-2g.24gb", "1"}}));
  EXPECT_TRUE(pod_demand(pod)->managed());
  EXPECT_EQ(pod_demand(pod)->managed_resources(),
            std::vector<std::string>{"nvidia.com/mig-2g.24gb"});
  EXPECT_FALSE(pod_demand(PodView{})->managed());
}

TEST(PodDemand, ZeroCountsAreDropped) {
  PodView pod;
  pod.containers = {container("a", false, {{"nvidia.com/gpu.shared", "0"}}),
                    container("i", true, {{"nvidia.com/mig-1g.12gb", "0"}})};
  EXPECT_TRUE(pod_demand(pod)->resources.empty());
}

TEST(PodDemand, MalformedQuantityNamesTheContainer) {
  PodView pod;
  pod.containers = {container("trainer", false, {{"nvidia.com/gpu.shared", "one"}})};
  auto d = pod_demand(pod);
  ASSERT_FALSE(d);
  EXPECT_EQ(
      d.error().rfind("container \"trainer\": nvidia.com/gpu.shared=\"one\" is not a quantity", 0),
      0u)
      << d.error();
  pod.containers = {container("setup", true, {{"nvidia.com/gpu.shared", "-1"}})};
  EXPECT_EQ(pod_demand(pod).error(),
            "init container \"setup\": nvidia.com/gpu.shared=\"-1\" is negative");
}

}  // namespace
}  // namespace gpushare::policy
