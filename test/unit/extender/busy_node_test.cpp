// A busy node as the watch cache sees it: `used` summed from the pods bound to it.
#include <gtest/gtest.h>

#include "policy/pod_demand.h"
#include "test/unit/extender/helpers.h"

namespace gpushare::extender {
namespace {

using nlohmann::json;
using namespace gpushare::extender::testing;

// What the node cache does: sum the effective demand of the non-terminated pods bound to a node.
TEST(Filter, BusyNodeWhoseUseComesFromThePodsBoundToIt) {
  policy::NodeView h20 = node_view("h20-mig.json");
  const json pods =
      fixture_json("pods/h20-busy.json");  // named: a range-for over a temporary's member dangles
  for (const json& p : pods["items"]) {
    auto pod = decode_pod(p);
    ASSERT_TRUE(pod) << pod.error();
    if (pod->phase == "Succeeded" || pod->phase == "Failed") continue;
    auto d = policy::pod_demand(*pod);
    ASSERT_TRUE(d) << d.error();
    for (const auto& [resource, n] : d->resources) h20.used[resource] += n;
  }
  EXPECT_EQ(h20.used, (std::map<std::string, std::int64_t>{{"nvidia.com/mig-1g.12gb", 2},
                                                           {"nvidia.com/mig-1g.24gb", 1}}));
  const NodeSource source = node_source_from({h20});
  const ExtenderSettings settings;
  auto verdict = [&](const std::string& resource) {
    return json::parse(
        handle_filter(cache_args(pod_json(resource), {"gpu-h20"}), source, settings).body);
  };
  EXPECT_EQ(verdict("nvidia.com/mig-1g.12gb")["FailedNodes"]["gpu-h20"],
            "needs nvidia.com/mig-1g.12gb: 0 of 2 free");
  EXPECT_EQ(verdict("nvidia.com/mig-1g.24gb")["FailedNodes"]["gpu-h20"],
            "needs nvidia.com/mig-1g.24gb: 0 of 1 free");
  EXPECT_EQ(verdict("nvidia.com/mig-3g.48gb")["NodeNames"], (json{"gpu-h20"}));
}

}  // namespace
}  // namespace gpushare::extender
