// extender::node_source_from: the extender's node lookup over a list of NodeViews.
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "extender/extender.h"
#include "test/unit/extender/helpers.h"

namespace gpushare::extender {
namespace {

using namespace gpushare::extender::testing;

TEST(NodeSourceFrom, LooksUpByName) {
  NodeSource source = node_source_from(all_nodes());
  const std::vector<std::string_view> names = {"gpu-4090", "nope", "gpu-4090"};
  std::vector<const policy::NodeView*> found;
  source(names, found);
  ASSERT_EQ(found.size(), 3u);  // one answer per name, in order, repeats included
  ASSERT_NE(found[0], nullptr);
  EXPECT_EQ(found[0]->allocatable.at("nvidia.com/gpu.shared"), 4);
  EXPECT_EQ(found[1], nullptr);
  EXPECT_EQ(found[2], found[0]);
}

}  // namespace
}  // namespace gpushare::extender
