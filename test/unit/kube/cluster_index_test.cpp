// ClusterIndex: per-node immutable views shared with readers, `used` summed from pods, facts
// kept per change.
#include "kube/cluster_index.h"

#include <gtest/gtest.h>

namespace gpushare::kube {
namespace {

const std::string k1g = "nvidia.com/mig-1g.10gb";

NodeRecord node(const std::string& name, std::string product = "NVIDIA-H100-80GB-HBM3") {
  NodeRecord r;
  r.view.name = name;
  r.view.labels = {{"nvidia.com/gpu.product", std::move(product)}};
  r.view.allocatable = {{k1g, 7}};
  return r;
}

PodRecord pod(const std::string& name, const std::string& node_name, std::int64_t n = 1) {
  PodRecord p;
  p.view.namespace_name = "ml";
  p.view.name = name;
  p.view.node_name = node_name;
  p.gpu_requests = {{k1g, n}};
  return p;
}

TEST(ClusterIndex, NodesAnswersEachNameInOrder) {
  ClusterIndex index;
  index.replace_nodes({node("n1"), node("n2")});
  const std::vector<std::string_view> names = {"n2", "nope", "n1", "n2"};
  std::vector<std::shared_ptr<const policy::NodeView>> out = {nullptr};  // appended to
  index.nodes(names, out);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], nullptr);
  EXPECT_EQ(out[1], index.node("n2"));  // the shared view itself, not a copy
  EXPECT_EQ(out[2], nullptr);
  EXPECT_EQ(out[3], index.node("n1"));
  EXPECT_EQ(out[4], out[1]);
}

TEST(ClusterIndex, UsedFollowsPodsWhicheverComesFirst) {
  ClusterIndex index;
  index.upsert_pod(pod("early", "n1", 2));  // before its node is known
  index.replace_nodes({node("n1"), node("n2")});
  EXPECT_EQ(index.node("n1")->used.at(k1g), 2);
  EXPECT_TRUE(index.node("n2")->used.empty());

  EXPECT_FALSE(index.upsert_pod(pod("late", "n2")));
  EXPECT_EQ(index.node("n2")->free(k1g), 6);
  EXPECT_TRUE(index.upsert_pod(pod("late", "n1", 3)));  // the pod moved: n2 frees it
  EXPECT_TRUE(index.node("n2")->used.empty());
  EXPECT_EQ(index.node("n1")->used.at(k1g), 5);
  EXPECT_TRUE(index.remove_pod("ml/early"));
  EXPECT_FALSE(index.remove_pod("ml/early"));
  EXPECT_EQ(index.node("n1")->used.at(k1g), 3);

  // A node event keeps what its pods hold.
  NodeRecord relabelled = node("n1");
  relabelled.view.labels["nvidia.com/mig.config.state"] = "success";
  EXPECT_EQ(index.upsert_node(relabelled), ClusterIndex::NodeUpsert::kModified);
  EXPECT_EQ(index.node("n1")->used.at(k1g), 3);
  EXPECT_EQ(index.node("n1")->label("nvidia.com/mig.config.state"), "success");

  index.replace_pods({pod("only", "n2")});
  EXPECT_TRUE(index.node("n1")->used.empty());
  EXPECT_EQ(index.node("n2")->used.at(k1g), 1);
  EXPECT_EQ(index.pods_on_node("n2").size(), 1u);
}

// What the repartition controller reads on every pass: only the annotated nodes, where one pod
// is, and the bound pods in one pass.
TEST(ClusterIndex, AnnotatedNodesPodWhereaboutsAndBoundPods) {
  ClusterIndex index;
  NodeRecord marked = node("n2");
  marked.view.annotations["gpushare.io/repartition"] = "{}";
  NodeRecord backed_off = node("n3");
  backed_off.view.annotations["gpushare.io/repartition-backoff-until"] = "2026-12-06T20:00:00Z";
  index.replace_nodes({node("n1"), backed_off, marked});
  const auto annotated =
      index.nodes_annotated({"gpushare.io/repartition", "gpushare.io/repartition-backoff-until"});
  ASSERT_EQ(annotated.size(), 2u);
  EXPECT_EQ(annotated[0].name, "n2");
  EXPECT_EQ(annotated[1].name, "n3");
  EXPECT_TRUE(index.nodes_annotated({"other"}).empty());

  index.replace_pods({pod("a", "n1"), pod("b", ""), pod("c", "n2")});
  EXPECT_EQ(index.pod_node("ml/a"), "n1");
  EXPECT_EQ(index.pod_node("ml/b"), "");
  EXPECT_EQ(index.pod_node("ml/gone"), std::nullopt);
  const auto bound = index.bound_pods();
  ASSERT_EQ(bound.size(), 2u);
  EXPECT_EQ(bound[0].key(), "ml/a");
  EXPECT_EQ(bound[1].key(), "ml/c");
}

TEST(ClusterIndex, ReadersKeepTheViewTheyHoldAndUntouchedNodesAreNotCopied) {
  ClusterIndex index;
  index.replace_nodes({node("n1"), node("n2")});
  auto held = index.node("n1");
  auto other = index.node("n2");
  index.upsert_pod(pod("p", "n1"));
  EXPECT_TRUE(held->used.empty());               // the old view is unchanged...
  EXPECT_EQ(index.node("n1")->used.at(k1g), 1);  // ...and the new one has the pod
  EXPECT_NE(index.node("n1").get(), held.get());
  EXPECT_EQ(index.node("n2").get(), other.get());  // a change elsewhere shares this one
  EXPECT_EQ(index.node("missing"), nullptr);
}

TEST(ClusterIndex, FactsFollowNodeChanges) {
  ClusterIndex index;
  EXPECT_EQ(index.facts()->node_count, 0u);
  index.replace_nodes({node("a"), node("b", "NVIDIA-H20")});
  auto before = index.facts();
  EXPECT_EQ(before->products.size(), 2u);
  EXPECT_TRUE(before->publishes_profile("1g.10gb"));

  index.upsert_pod(pod("p", "a"));  // pods do not change the facts
  EXPECT_EQ(index.facts().get(), before.get());

  EXPECT_EQ(index.upsert_node(node("b")), ClusterIndex::NodeUpsert::kModified);  // other product
  EXPECT_EQ(index.facts()->products, std::vector<std::string>{"NVIDIA-H100-80GB-HBM3"});
  EXPECT_EQ(before->products.size(), 2u);  // what a request already holds does not move
  EXPECT_TRUE(index.remove_node("a"));
  EXPECT_FALSE(index.remove_node("a"));
  EXPECT_EQ(index.facts()->node_count, 1u);
  EXPECT_EQ(index.node_count(), 1u);

  // A relist with a name twice counts it once.
  index.replace_nodes({node("x", "NVIDIA-H20"), node("x")});
  EXPECT_EQ(index.facts()->node_count, 1u);
  EXPECT_EQ(index.facts()->products, std::vector<std::string>{"NVIDIA-H100-80GB-HBM3"});
  EXPECT_EQ(index.snapshot().nodes.size(), 1u);
}

TEST(ClusterIndex, AnOlderNodeVersionDoesNotUndoANewerOne) {
  struct Case {
    const char* held;
    const char* arriving;
    ClusterIndex::NodeUpsert want;
  };
  const Case cases[] = {
      {"120", "119", ClusterIndex::NodeUpsert::kStale},     // the watch lags our own write
      {"120", "120", ClusterIndex::NodeUpsert::kModified},  // the same version again
      {"120", "121", ClusterIndex::NodeUpsert::kModified},
      {"99", "100", ClusterIndex::NodeUpsert::kModified},  // numbers, not strings
      {"120", "", ClusterIndex::NodeUpsert::kModified},    // no version: taken as is
      {"abc", "1", ClusterIndex::NodeUpsert::kModified},   // opaque: not compared
  };
  for (const Case& c : cases) {
    ClusterIndex index;
    NodeRecord held = node("n1");
    held.resource_version = c.held;
    held.view.labels["state"] = "held";
    index.replace_nodes({held});
    NodeRecord arriving = node("n1");
    arriving.resource_version = c.arriving;
    arriving.view.labels["state"] = "arriving";
    EXPECT_EQ(index.upsert_node(arriving), c.want) << c.held << " then " << c.arriving;
    EXPECT_EQ(index.node("n1")->label("state"),
              c.want == ClusterIndex::NodeUpsert::kStale ? "held" : "arriving");
  }
  ClusterIndex index;
  EXPECT_EQ(index.upsert_node(node("new")), ClusterIndex::NodeUpsert::kAdded);
}

}  // namespace
}  // namespace gpushare::kube
