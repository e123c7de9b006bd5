// Where kube-scheduler may put a pod, as far as labels, name and taints go: the rules of its
// NodeAffinity and TaintToleration plugins, case by case.
#include "policy/node_constraints.h"

#include <gtest/gtest.h>

namespace gpushare::policy {
namespace {

Taint taint(std::string key, std::string value, std::string effect) {
  return {std::move(key), std::move(value), std::move(effect)};
}

TEST(Tolerates, EveryRuleOfToleratesTaint) {
  struct Case {
    const char* name;
    Toleration toleration;
    Taint taint;
    bool want;
  };
  const Case cases[] = {
      {"Equal: key and value",
       {"dedicated", false, "ml", "NoSchedule"},
       taint("dedicated", "ml", "NoSchedule"),
       true},
      {"Equal: other value",
       {"dedicated", false, "web", "NoSchedule"},
       taint("dedicated", "ml", "NoSchedule"),
       false},
      {"Exists: any value",
       {"dedicated", true, "", "NoSchedule"},
       taint("dedicated", "ml", "NoSchedule"),
       true},
      {"other key", {"gpu", true, "", ""}, taint("dedicated", "ml", "NoSchedule"), false},
      {"empty effect: every effect",
       {"dedicated", false, "ml", ""},
       taint("dedicated", "ml", "NoExecute"),
       true},
      {"other effect",
       {"dedicated", false, "ml", "NoExecute"},
       taint("dedicated", "ml", "NoSchedule"),
       false},
      {"empty key with Exists: every taint",
       {"", true, "", ""},
       taint("anything", "x", "NoSchedule"),
       true},
      {"Equal with empty value vs a valued taint",
       {"nvidia.com/gpu", false, "", ""},
       taint("nvidia.com/gpu", "present", "NoSchedule"),
       false},
      {"Equal with empty value vs a key-only taint",
       {"nvidia.com/gpu", false, "", ""},
       taint("nvidia.com/gpu", "", "NoSchedule"),
       true},
  };
  for (const auto& c : cases) EXPECT_EQ(tolerates(c.toleration, c.taint), c.want) << c.name;
}

TEST(UntoleratedTaint, OnlyNoScheduleAndNoExecuteCount) {
  const std::vector<Taint> taints = {taint("soft", "", "PreferNoSchedule"),
                                     taint("dedicated", "ml", "NoSchedule")};
  EXPECT_EQ(untolerated_taint({}, {taints[0]}), nullptr);
  const Taint* t = untolerated_taint({}, taints);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->key, "dedicated");
  EXPECT_EQ(untolerated_taint({{"dedicated", true, "", ""}}, taints), nullptr);
}

NodeView node(StringMap labels) {
  NodeView n;
  n.name = "gpu-1";
  n.labels = std::move(labels);
  return n;
}

TEST(TermMatches, EveryOperator) {
  const NodeView n = node({{"zone", "a"}, {"gpus", "8"}, {"bad", "x8"}});
  struct Case {
    const char* name;
    NodeSelectorRequirement r;
    bool want;
  };
  const Case cases[] = {
      {"In: value listed", {"zone", "In", {"a", "b"}}, true},
      {"In: not listed", {"zone", "In", {"b"}}, false},
      {"In: no label", {"rack", "In", {"a"}}, false},
      {"NotIn: not listed", {"zone", "NotIn", {"b"}}, true},
      {"NotIn: listed", {"zone", "NotIn", {"a"}}, false},
      {"NotIn: no label matches", {"rack", "NotIn", {"a"}}, true},
      {"Exists", {"zone", "Exists", {}}, true},
      {"Exists: no label", {"rack", "Exists", {}}, false},
      {"DoesNotExist", {"rack", "DoesNotExist", {}}, true},
      {"DoesNotExist: has it", {"zone", "DoesNotExist", {}}, false},
      {"Gt", {"gpus", "Gt", {"4"}}, true},
      {"Gt: equal is not greater", {"gpus", "Gt", {"8"}}, false},
      {"Lt", {"gpus", "Lt", {"9"}}, true},
      {"Lt: not less", {"gpus", "Lt", {"8"}}, false},
      {"Gt: label not an integer", {"bad", "Gt", {"1"}}, false},
      {"Gt: two values", {"gpus", "Gt", {"1", "2"}}, false},
      {"unknown operator", {"zone", "Like", {"a"}}, false},
  };
  for (const auto& c : cases) {
    NodeSelectorTerm term;
    term.match_expressions = {c.r};
    EXPECT_EQ(term_matches(term, n), c.want) << c.name;
  }
  NodeSelectorTerm by_name;
  by_name.match_fields = {{"metadata.name", "In", {"gpu-1"}}};
  EXPECT_TRUE(term_matches(by_name, n));
  by_name.match_fields = {{"metadata.name", "NotIn", {"gpu-1"}}};
  EXPECT_FALSE(term_matches(by_name, n));
  by_name.match_fields = {{"metadata.uid", "In", {"gpu-1"}}};
  EXPECT_FALSE(term_matches(by_name, n)) << "only metadata.name is a field";
  EXPECT_FALSE(term_matches(NodeSelectorTerm{}, n)) << "an empty term matches nothing";
  NodeSelectorTerm both;
  both.match_expressions = {{"zone", "In", {"a"}}, {"gpus", "Gt", {"16"}}};
  EXPECT_FALSE(term_matches(both, n)) << "every requirement of a term must hold";
}

TEST(MayScheduleOn, SelectorAffinityAndTaintsEachRuleANodeOut) {
  NodeView n = node({{"zone", "a"}});
  n.taints = {taint("dedicated", "ml", "NoSchedule")};
  PodView pod;
  pod.tolerations = {{"dedicated", false, "ml", "NoSchedule"}};
  EXPECT_TRUE(may_schedule_on(pod, n));

  pod.node_selector = {{"zone", "b"}};
  EXPECT_FALSE(may_schedule_on(pod, n)) << "spec.nodeSelector asks for zone=b";
  pod.node_selector = {{"zone", "a"}};
  EXPECT_TRUE(may_schedule_on(pod, n));

  // Terms are ORed: one that matches is enough.
  NodeSelectorTerm other, mine;
  other.match_expressions = {{"zone", "In", {"b"}}};
  mine.match_expressions = {{"zone", "In", {"a"}}};
  pod.required_node_terms = std::vector<NodeSelectorTerm>{other};
  EXPECT_FALSE(may_schedule_on(pod, n)) << "its required node affinity rules the node out";
  pod.required_node_terms = std::vector<NodeSelectorTerm>{other, mine};
  EXPECT_TRUE(may_schedule_on(pod, n));
  pod.required_node_terms->clear();  // present but nothing readable: no node
  EXPECT_FALSE(may_schedule_on(pod, n));
  pod.required_node_terms.reset();

  pod.tolerations.clear();
  EXPECT_FALSE(may_schedule_on(pod, n)) << "taint dedicated=ml:NoSchedule not tolerated";
}

}  // namespace
}  // namespace gpushare::policy
