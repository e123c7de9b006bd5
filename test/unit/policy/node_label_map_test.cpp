// NodeLabels answers as the map it wraps, through every way of changing it: its index of GFD
// labels must never point at a removed entry or miss an added one.
#include "policy/node_label_map.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace gpushare::policy {
namespace {

// Every indexed key and one ordinary key: what find_value says, and what the map says.
void expect_agrees(const NodeLabels& labels) {
  std::vector<std::string_view> keys(gfd::kIndexed.begin(), gfd::kIndexed.end());
  keys.push_back("kubernetes.io/hostname");
  for (std::string_view key : keys) {
    auto it = labels.map().find(key);
    const std::string* value = labels.find_value(key);
    if (it == labels.map().end()) {
      EXPECT_EQ(value, nullptr) << key;
      EXPECT_FALSE(labels.contains(key)) << key;
    } else {
      ASSERT_NE(value, nullptr) << key;
      EXPECT_EQ(value, &it->second) << key << ": points at the map's own entry";
      EXPECT_EQ(labels.at(key), it->second) << key;
    }
  }
}

TEST(NodeLabels, TheIndexFollowsEveryChange) {
  NodeLabels labels{{std::string(gfd::kProduct), "NVIDIA-H100-80GB-HBM3"},
                    {"kubernetes.io/hostname", "n1"}};
  expect_agrees(labels);
  EXPECT_EQ(*labels.find_value(gfd::kProduct), "NVIDIA-H100-80GB-HBM3");

  labels[gfd::kMigConfigState] = "pending";  // inserted by operator[]
  expect_agrees(labels);
  EXPECT_EQ(*labels.find_value(gfd::kMigConfigState), "pending");
  labels[gfd::kMigConfigState] = "success";  // changed in place through the reference
  EXPECT_EQ(*labels.find_value(gfd::kMigConfigState), "success");

  EXPECT_TRUE(labels.emplace(gfd::kCount, "8"));
  EXPECT_FALSE(labels.emplace(gfd::kCount, "4"));  // present: unchanged
  EXPECT_EQ(*labels.find_value(gfd::kCount), "8");
  expect_agrees(labels);

  labels.set(gfd::kProduct, "NVIDIA-H20");
  EXPECT_EQ(*labels.find_value(gfd::kProduct), "NVIDIA-H20");

  EXPECT_EQ(labels.erase(gfd::kProduct), 1u);
  EXPECT_EQ(labels.erase(gfd::kProduct), 0u);
  expect_agrees(labels);
  EXPECT_EQ(labels.find_value(gfd::kProduct), nullptr);

  EXPECT_EQ(erase_if(labels, [](const auto& kv) { return kv.first == gfd::kCount; }), 1u);
  expect_agrees(labels);

  labels.clear();
  expect_agrees(labels);
  EXPECT_TRUE(labels.empty());
}

TEST(NodeLabels, CopiesAndMovesPointIntoTheirOwnMap) {
  NodeLabels a{{std::string(gfd::kProduct), "NVIDIA-H20"}, {std::string(gfd::kCount), "8"}};
  NodeLabels copy = a;
  a.set(gfd::kProduct, "changed");  // the copy must not see it
  EXPECT_EQ(*copy.find_value(gfd::kProduct), "NVIDIA-H20");
  expect_agrees(copy);

  NodeLabels moved = std::move(copy);
  expect_agrees(moved);
  EXPECT_EQ(*moved.find_value(gfd::kCount), "8");
  expect_agrees(copy);  // NOLINT(bugprone-use-after-move): a moved-from NodeLabels is empty
  EXPECT_TRUE(copy.empty());

  NodeLabels assigned;
  assigned = a;
  expect_agrees(assigned);
  EXPECT_EQ(*assigned.find_value(gfd::kProduct), "changed");
  assigned = StringMap{{std::string(gfd::kMigStrategy), "mixed"}};
  expect_agrees(assigned);
  EXPECT_EQ(assigned.find_value(gfd::kProduct), nullptr);
  EXPECT_EQ(*assigned.find_value(gfd::kMigStrategy), "mixed");
  EXPECT_TRUE(assigned == (NodeLabels{{std::string(gfd::kMigStrategy), "mixed"}}));
}

TEST(NodeLabels, IndexedSlotFindsEachKeyOnce) {
  for (std::size_t i = 0; i < gfd::kIndexed.size(); ++i)
    EXPECT_EQ(gfd::indexed_slot(gfd::kIndexed[i]), i) << gfd::kIndexed[i];
  EXPECT_EQ(gfd::indexed_slot("nvidia.com/gpu.product.x"), gfd::kIndexed.size());
  static_assert(gfd::indexed_slot(gfd::kMigStrategy) == 7);
}

}  // namespace
}  // namespace gpushare::policy
