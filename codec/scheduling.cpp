#include "codec/scheduling.h"

#include <string>

namespace gpushare::codec {
namespace {

using nlohmann::json;

const json& field(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string text(const json& object, const char* key) {
  const json& v = field(object, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

// false: the requirement could not be read.
bool requirement(const json& in, policy::NodeSelectorRequirement& out) {
  if (!in.is_object() || !field(in, "key").is_string() || !field(in, "operator").is_string())
    return false;
  out.key = text(in, "key");
  out.op = text(in, "operator");
  const json& values = field(in, "values");
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
  const json& tolerations = field(spec, "tolerations");
  if (tolerations.is_array()) {
    for (const auto& t : tolerations) {
      if (!t.is_object()) continue;
      policy::Toleration tol;
      tol.key = text(t, "key");
      tol.exists = text(t, "operator") == "Exists";
      if (!tol.exists && !text(t, "operator").empty() && text(t, "operator") != "Equal")
        continue;  // an operator the API does not have tolerates nothing
      tol.value = text(t, "value");
      tol.effect = text(t, "effect");
      view.tolerations.push_back(std::move(tol));
    }
  }
  const json& required = field(field(field(spec, "affinity"), "nodeAffinity"),
                               "requiredDuringSchedulingIgnoredDuringExecution");
  if (required.is_null()) return;
  view.has_required_node_affinity = true;
  const json& terms = field(required, "nodeSelectorTerms");
  if (!terms.is_array()) return;
  for (const auto& t : terms) {
    policy::NodeSelectorTerm term;
    if (!t.is_object() || !requirements(field(t, "matchExpressions"), term.match_expressions) ||
        !requirements(field(t, "matchFields"), term.match_fields)) {
      continue;
    }
    view.required_node_terms.push_back(std::move(term));
  }
}

std::vector<policy::Taint> decode_taints(const json& spec) {
  std::vector<policy::Taint> out;
  const json& taints = field(spec, "taints");
  if (!taints.is_array()) return out;
  for (const auto& t : taints) {
    if (!t.is_object() || !field(t, "key").is_string()) continue;
    out.push_back({text(t, "key"), text(t, "value"), text(t, "effect")});
  }
  return out;
}

}  // namespace gpushare::codec
