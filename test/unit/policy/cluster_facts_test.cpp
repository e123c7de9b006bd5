// ClusterFacts: what admission reads of the whole cluster, and the tally that keeps it per change.
#include "policy/cluster_facts.h"

#include <gtest/gtest.h>

namespace gpushare::policy {
namespace {

NodeView node(std::string name, StringMap labels, std::map<std::string, std::int64_t> alloc = {}) {
  NodeView n;
  n.name = std::move(name);
  n.labels = std::move(labels);
  n.allocatable = std::move(alloc);
  return n;
}

NodeView mig_h100(std::string name) {
  return node(std::move(name), {{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"}},
              {{"nvidia.com/mig-1g.10gb", 7},
               {"nvidia.com/mig-1g.10gb.me", 1},
               {"nvidia.com/mig-3g.40gb", 0}});
}

NodeView mps_rtx(std::string name, std::string replicas, std::string memory_mib = "") {
  StringMap labels = {{"nvidia.com/gpu.product", "NVIDIA-GeForce-RTX-4090-SHARED"},
                      {"nvidia.com/gpu.sharing-strategy", "mps"},
                      {"nvidia.com/gpu.replicas", std::move(replicas)}};
  if (!memory_mib.empty()) labels["nvidia.com/gpu.memory"] = std::move(memory_mib);
  return node(std::move(name), std::move(labels), {{"nvidia.com/gpu.shared", 4}});
}

TEST(ClusterFacts, ListsWhatNodesPublishSortedAndDistinct) {
  ClusterView view{
      {mig_h100("b"), mig_h100("a"), mps_rtx("c", "4", "24564"), mps_rtx("d", "4", "24564")}};
  ClusterFacts f = facts_of(view);
  EXPECT_EQ(f.node_count, 4u);
  // Zero allocatable is not published; ".me" in a resource name is "+me" in a profile name.
  EXPECT_EQ(f.published_profiles, (std::vector<std::string>{"1g.10gb", "1g.10gb+me"}));
  EXPECT_TRUE(f.publishes_profile("1g.10gb+me"));
  EXPECT_FALSE(f.publishes_profile("3g.40gb"));
  EXPECT_EQ(f.products,
            (std::vector<std::string>{"NVIDIA-GeForce-RTX-4090-SHARED", "NVIDIA-H100-80GB-HBM3"}));
  ASSERT_EQ(f.mps_shares.size(), 1u);  // two identical MPS nodes are one kind of share
  EXPECT_EQ(f.mps_shares[0].replicas, 4);
  EXPECT_EQ(f.mps_shares[0].memory_bytes, std::int64_t{24564} * 1024 * 1024);
}

TEST(ClusterFacts, MpsNodeWithoutReadableReplicasOffersNothing) {
  struct Case {
    const char* replicas;
    bool offered;
  };
  for (const Case& c : {Case{"4", true}, Case{"0", false}, Case{"-2", false}, Case{"four", false},
                        Case{"4x", false}, Case{"", false}}) {
    ClusterFacts f = facts_of(ClusterView{{mps_rtx("n", c.replicas)}});
    EXPECT_EQ(f.mps_shares.size(), c.offered ? 1u : 0u) << "replicas=\"" << c.replicas << "\"";
    if (c.offered) {
      EXPECT_FALSE(f.mps_shares[0].memory_bytes.has_value());
    }
  }
}

TEST(ClusterFactsTally, RemovingWhatWasAddedLeavesTheOthers) {
  ClusterFactsTally tally;
  NodeView a = mig_h100("a");
  NodeView b = mps_rtx("b", "2");
  tally.add(a);
  tally.add(b);
  tally.add(mig_h100("c"));
  tally.remove(a);  // c still publishes the H100 profiles
  ClusterFacts f = tally.facts();
  EXPECT_EQ(f.node_count, 2u);
  EXPECT_TRUE(f.publishes_profile("1g.10gb"));
  EXPECT_EQ(f.products.size(), 2u);

  tally.remove(mig_h100("c"));
  f = tally.facts();
  EXPECT_FALSE(f.publishes_profile("1g.10gb"));
  EXPECT_EQ(f.products, std::vector<std::string>{"NVIDIA-GeForce-RTX-4090-SHARED"});
  ASSERT_EQ(f.mps_shares.size(), 1u);

  // A node relabelled from MPS to MIG: the old version out, the new one in.
  NodeView relabelled = mig_h100("b");
  tally.remove(b);
  tally.add(relabelled);
  f = tally.facts();
  EXPECT_TRUE(f.mps_shares.empty());
  EXPECT_EQ(f.products, std::vector<std::string>{"NVIDIA-H100-80GB-HBM3"});

  tally.clear();
  EXPECT_EQ(tally.facts().node_count, 0u);
  EXPECT_TRUE(tally.facts().published_profiles.empty());
}

}  // namespace
}  // namespace gpushare::policy
