#include "policy/node_constraints.h"

#include <algorithm>
#include <charconv>
#include <optional>

namespace gpushare::policy {
namespace {

std::optional<long long> to_int(const std::string& text) {
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

bool contains(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

// value: the label's value, or nullopt when the node has no such label.
bool requirement_holds(const NodeSelectorRequirement& r, const std::optional<std::string>& value) {
  if (r.op == "In") return value && contains(r.values, *value);
  if (r.op == "NotIn") return !value || !contains(r.values, *value);
  if (r.op == "Exists") return value.has_value();
  if (r.op == "DoesNotExist") return !value;
  if (r.op == "Gt" || r.op == "Lt") {
    // Exactly one integer value; a label that is not an integer does not match.
    if (!value || r.values.size() != 1) return false;
    auto have = to_int(*value);
    auto bound = to_int(r.values[0]);
    if (!have || !bound) return false;
    return r.op == "Gt" ? *have > *bound : *have < *bound;
  }
  return false;  // an operator the API does not have: match nothing, as the scheduler does
}

}  // namespace

bool tolerates(const Toleration& toleration, const Taint& taint) {
  if (!toleration.effect.empty() && toleration.effect != taint.effect) return false;
  if (!toleration.key.empty() && toleration.key != taint.key) return false;
  return toleration.exists || toleration.value == taint.value;
}

const Taint* untolerated_taint(const std::vector<Toleration>& tolerations,
                               const std::vector<Taint>& taints) {
  for (const auto& taint : taints) {
    // PreferNoSchedule only lowers a score.
    if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
    bool ok = std::any_of(tolerations.begin(), tolerations.end(),
                          [&](const Toleration& t) { return tolerates(t, taint); });
    if (!ok) return &taint;
  }
  return nullptr;
}

bool term_matches(const NodeSelectorTerm& term, const NodeView& node) {
  if (term.match_expressions.empty() && term.match_fields.empty()) return false;
  for (const auto& r : term.match_expressions) {
    auto it = node.labels.find(r.key);
    std::optional<std::string> value;
    if (it != node.labels.end()) value = it->second;
    if (!requirement_holds(r, value)) return false;
  }
  for (const auto& r : term.match_fields) {
    // metadata.name is the only field the API accepts here.
    if (r.key != "metadata.name" || !requirement_holds(r, node.name)) return false;
  }
  return true;
}

bool may_schedule_on(const PodView& pod, const NodeView& node) {
  for (const auto& [key, value] : pod.node_selector) {
    auto it = node.labels.find(key);
    if (it == node.labels.end() || it->second != value) return false;
  }
  if (pod.required_node_terms &&
      std::none_of(pod.required_node_terms->begin(), pod.required_node_terms->end(),
                   [&](const NodeSelectorTerm& t) { return term_matches(t, node); })) {
    return false;
  }
  return untolerated_taint(pod.tolerations, node.taints) == nullptr;
}

}  // namespace gpushare::policy
