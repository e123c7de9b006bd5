#include "codec/scheduling.h"

#include <string>

#include "codec/json.h"

namespace gpushare::codec {
namespace {

using nlohmann::json;

// false: the requirement could not be read.
bool requirement(const json& in, policy::NodeSelectorRequirement& out) {
  if (!in.is_object() || !member(in, "key").is_string() || !member(in, "operator").is_string())
    return false;
  out.key = string_member(in, "key");
  out.op = string_member(in, "operator");
  const json& values = member(in, "values");
  if (values.is_array()) {
    for (const auto& v : values) {
      if (!v.is_string()) return false;
      out.values.push_back(v.get<std::string>());
    }
  } else if (!values.is_null()) {
    return false;
  }
  return true;
}

// false: a requirement of the term could not be read (the term is then left out: a term
// missing a requirement would match more nodes than the pod allows).
bool requirements(const json& list, std::vector<policy::NodeSelectorRequirement>& out) {
  if (list.is_null()) return true;
  if (!list.is_array()) return false;
  for (const auto& r : list) {
    policy::NodeSelectorRequirement req;
    if (!requirement(r, req)) return false;
    out.push_back(std::move(req));
  }
  return true;
}

}  // namespace

void decode_pod_constraints(const json& spec, policy::PodView& view) {
  const json& tolerations = member(spec, "tolerations");
  if (tolerations.is_array()) {
    for (const auto& t : tolerations) {
      if (!t.is_object()) continue;
      policy::Toleration tol;
      tol.key = string_member(t, "key");
      tol.exists = string_member(t, "operator") == "Exists";
      if (!tol.exists && !string_member(t, "operator").empty() &&
          string_member(t, "operator") != "Equal")
        continue;  // an operator the API does not have tolerates nothing
      tol.value = string_member(t, "value");
      tol.effect = string_member(t, "effect");
      view.tolerations.push_back(std::move(tol));
    }
  }
  const json& required = member(member(member(spec, "affinity"), "nodeAffinity"),
                                "requiredDuringSchedulingIgnoredDuringExecution");
  if (required.is_null()) return;
  view.required_node_terms.emplace();
  const json& terms = member(required, "nodeSelectorTerms");
  if (!terms.is_array()) return;
  for (const auto& t : terms) {
    policy::NodeSelectorTerm term;
    if (!t.is_object() || !requirements(member(t, "matchExpressions"), term.match_expressions) ||
        !requirements(member(t, "matchFields"), term.match_fields)) {
      continue;
    }
    view.required_node_terms->push_back(std::move(term));
  }
}

std::vector<policy::Taint> decode_taints(const json& spec) {
  std::vector<policy::Taint> out;
  const json& taints = member(spec, "taints");
  if (!taints.is_array()) return out;
  for (const auto& t : taints) {
    if (!t.is_object() || !member(t, "key").is_string()) continue;
    out.push_back({string_member(t, "key"), string_member(t, "value"), string_member(t, "effect")});
  }
  return out;
}

}  // namespace gpushare::codec
