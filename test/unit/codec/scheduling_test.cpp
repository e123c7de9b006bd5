// Tolerations, required node affinity and taints from Pod and Node JSON as the API serves
// them; what cannot be read errs towards "no node" rather than "any node".
#include "codec/scheduling.h"

#include <gtest/gtest.h>

#include "codec/objects.h"

namespace gpushare::codec {
namespace {

using nlohmann::json;

TEST(PodConstraints, TolerationsAndRequiredAffinityAsServed) {
  const json spec = json::parse(R"({
    "tolerations": [
      {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
      {"key": "dedicated", "operator": "Equal", "value": "ml"},
      {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
       "tolerationSeconds": 300},
      {"operator": "Exists"},
      {"key": "x", "operator": "Sometimes", "value": "y"},
      "not an object"
    ],
    "affinity": {"nodeAffinity": {
      "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]},
                              {"key": "spot", "operator": "DoesNotExist"}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["gpu-9"]}]},
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": [1]}]}
      ]},
      "preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "z", "operator": "Exists"}]}}]
    }}
  })");
  policy::PodView view;
  decode_pod_constraints(spec, view);
  ASSERT_EQ(view.tolerations.size(), 4U);  // the unknown operator and the string are left out
  EXPECT_EQ(view.tolerations[0].key, "nvidia.com/gpu");
  EXPECT_TRUE(view.tolerations[0].exists);
  EXPECT_EQ(view.tolerations[0].effect, "NoSchedule");
  EXPECT_FALSE(view.tolerations[1].exists);
  EXPECT_EQ(view.tolerations[1].value, "ml");
  EXPECT_EQ(view.tolerations[1].effect, "");
  EXPECT_TRUE(view.tolerations[3].key.empty());
  EXPECT_TRUE(view.tolerations[3].exists);

  ASSERT_TRUE(view.required_node_terms.has_value());
  const auto& terms = *view.required_node_terms;
  ASSERT_EQ(terms.size(), 2U);  // the term with a number value is left out
  ASSERT_EQ(terms[0].match_expressions.size(), 2U);
  EXPECT_EQ(terms[0].match_expressions[0].values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(terms[0].match_expressions[1].op, "DoesNotExist");
  EXPECT_EQ(terms[1].match_fields[0].key, "metadata.name");
}

TEST(PodConstraints, NoneOrNull) {
  policy::PodView view;
  decode_pod_constraints(json::parse(R"({"tolerations": null, "affinity": null})"), view);
  EXPECT_TRUE(view.tolerations.empty());
  EXPECT_FALSE(view.required_node_terms.has_value());
  decode_pod_constraints(json::parse(R"({"affinity": {"podAntiAffinity": {}}})"), view);
  EXPECT_FALSE(view.required_node_terms.has_value());
}

TEST(PodConstraints, ThroughBothDecoders) {
  const json pod = json::parse(R"({"metadata": {"name": "p", "namespace": "ml"},
    "spec": {"containers": [{"name": "c"}],
             "tolerations": [{"key": "dedicated", "operator": "Exists"}]}})");
  auto view = decode_pod(pod);
  ASSERT_TRUE(view.ok()) << view.error();
  ASSERT_EQ(view->tolerations.size(), 1U);
  const json node = json::parse(R"({"metadata": {"name": "gpu-1"},
    "spec": {"taints": [{"key": "dedicated", "value": "ml", "effect": "NoSchedule",
                         "timeAdded": null}, {"effect": "NoSchedule"}]}})");
  auto n = decode_node(node);
  ASSERT_TRUE(n.ok()) << n.error();
  ASSERT_EQ(n->taints.size(), 1U);  // a taint without a key is left out
  EXPECT_EQ(n->taints[0].value, "ml");
  EXPECT_EQ(n->taints[0].effect, "NoSchedule");
}

}  // namespace
}  // namespace gpushare::codec
