// extender::node_source_from: the extender's node lookup over a list of NodeViews.
#include <gtest/gtest.h>

#include "extender/extender.h"
#include "test/unit/extender/helpers.h"

namespace gpushare::extender {
namespace {

using namespace gpushare::extender::testing;

TEST(NodeSourceFrom, LooksUpByName) {
  NodeSource source = node_source_from(all_nodes());
  ASSERT_TRUE(source("gpu-4090"));
  EXPECT_EQ(source("gpu-4090")->allocatable.at("nvidia.com/gpu.shared"), 4);
  EXPECT_FALSE(source("nope"));
}

}  // namespace
}  // namespace gpushare::extender
