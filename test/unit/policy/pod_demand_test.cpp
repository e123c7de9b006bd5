// policy::pod_demand: what GPU resources a pod asks for, as the scheduler counts them.
#include "policy/pod_demand.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

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

TEST(PodDemand, SidecarsRunBesideLaterInitContainersAndTheApp) {
  // The scheduler's rule (k8s.io/component-helpers resource.PodRequests) for restartPolicy:
  // Always init containers: a sidecar adds to the app containers and to every init container
  // after it, not to those before it.
  auto sidecar = [](std::string name, std::string n, std::size_t index) {
    ContainerView c = container(std::move(name), true, {{"nvidia.com/gpu", std::move(n)}});
    c.restartable = true;
    c.index = index;
    return c;
  };
  auto init = [](std::string name, std::string n, std::size_t index) {
    ContainerView c = container(std::move(name), true, {{"nvidia.com/gpu", std::move(n)}});
    c.index = index;
    return c;
  };
  const ContainerView app = container("app", false, {{"nvidia.com/gpu", "1"}});
  const ContainerView big_app = container("app", false, {{"nvidia.com/gpu", "4"}});
  struct Case {
    const char* what;
    std::vector<ContainerView> containers;
    std::int64_t want;
  };
  const std::vector<Case> cases = {
      {"sidecar then init: the init peaks at 2 + 1",
       {sidecar("s", "1", 0), init("i", "2", 1), app},
       3},
      {"the app and the sidecar run together",
       {sidecar("s", "1", 0), init("i", "2", 1), big_app},
       5},
      {"init before the sidecar: no overlap", {init("i", "2", 0), sidecar("s", "1", 1), app}, 2},
      {"order is the spec's index, not the list's",
       {init("i", "2", 1), sidecar("s", "1", 0), app},
       3},
      {"two sidecars add up", {sidecar("s1", "1", 0), sidecar("s2", "2", 1), app}, 4},
      {"without restartPolicy the same init containers only peak",
       {init("s", "1", 0), init("i", "2", 1), app},
       2},
  };
  for (const auto& c : cases) {
    PodView pod;
    pod.containers = c.containers;
    auto d = pod_demand(pod);
    ASSERT_TRUE(d) << c.what << ": " << d.error();
    EXPECT_EQ(d->count("nvidia.com/gpu"), c.want) << c.what;
  }
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
