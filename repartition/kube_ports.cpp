#include "repartition/kube_ports.h"

#include "codec/json.h"
#include "codec/mig_parted.h"
#include "codec/plan_json.h"
#include "kube/configmap_entry.h"
#include "kube/lease.h"
#include "kube/paths.h"
#include "kube/update.h"
#include "logging/log.h"

namespace gpushare::repartition {
namespace {

StringMap string_map(const nlohmann::json& object) {
  StringMap out;
  if (!object.is_object()) return out;
  for (const auto& [k, v] : object.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

bool is_our_taint(const nlohmann::json& taint) {
  return codec::string_member(taint, "key") == kTaintKey &&
         codec::string_member(taint, "effect") == "NoSchedule";
}

}  // namespace

NodeEdit node_edit_of(const nlohmann::json& node) {
  NodeEdit edit;
  const auto& metadata = codec::member(node, "metadata");
  edit.labels = string_map(codec::member(metadata, "labels"));
  edit.annotations = string_map(codec::member(metadata, "annotations"));
  const auto& taints = codec::member(codec::member(node, "spec"), "taints");
  if (taints.is_array()) {
    for (const auto& t : taints) edit.tainted = edit.tainted || is_our_taint(t);
  }
  return edit;
}

void apply_node_edit(nlohmann::json& node, const NodeEdit& edit) {
  node["metadata"]["labels"] = edit.labels;
  node["metadata"]["annotations"] = edit.annotations;
  nlohmann::json taints = nlohmann::json::array();
  const auto& old = codec::member(codec::member(node, "spec"), "taints");
  if (old.is_array()) {
    for (const auto& t : old) {
      if (!is_our_taint(t)) taints.push_back(t);
    }
  }
  if (edit.tainted) taints.push_back({{"key", kTaintKey}, {"effect", "NoSchedule"}});
  if (taints.empty()) {
    if (node.contains("spec")) node["spec"].erase("taints");
  } else {
    node["spec"]["taints"] = taints;
  }
}

KubeApiOps::KubeApiOps(std::shared_ptr<kube::Client> client, OperatorConfigMaps config_maps,
                       std::string host, WrittenNode written_node)
    : client_(std::move(client)),
      maps_(std::move(config_maps)),
      host_(std::move(host)),
      written_node_(std::move(written_node)) {}

Result<std::chrono::system_clock::time_point> KubeApiOps::write_entry(
    const Action& action, std::chrono::system_clock::time_point now) {
  // kube::write_*_entry never create the ConfigMap (RBAC grants no create either): a missing
  // one gets an error that says what to do.
  const kube::RmwOptions options;
  const bool mig = action.kind == policy::ActionKind::kMig;
  auto written =
      mig ? kube::write_mig_parted_entry(
                *client_, maps_.namespace_name, maps_.mig_parted, action.config_name,
                codec::mig_config_json<nlohmann::json>(action.mig_config), options, now)
          : kube::write_device_plugin_entry(
                *client_, maps_.namespace_name, maps_.device_plugin, action.config_name,
                codec::device_plugin_config_json<nlohmann::json>(action.device_plugin_config),
                options, now);
  if (written.is(kube::ErrorKind::kNotFound)) {
    const std::string& name = mig ? maps_.mig_parted : maps_.device_plugin;
    return Error{"ConfigMap " + maps_.namespace_name + "/" + name +
                 " does not exist: create it and name it in the ClusterPolicy (" +
                 (mig ? "spec.migManager.config.name" : "spec.devicePlugin.config.name") +
                 "), or set gpuOperator." + (mig ? "migPartedConfigMap" : "devicePluginConfigMap") +
                 " to the one it names"};
  }
  if (!written) return Error{written.error().message};
  // An entry someone else wrote, with no time recorded, is taken as written now: waiting once
  // more is cheaper than a label that names a key the pods cannot see (nvidia.md 1.5).
  return written->written_at.value_or(now);
}

Result<bool> KubeApiOps::update_node(const std::string& node, const NodeMutation& mutate) {
  // On a conflict the mutation runs again on the node as it is now (kube/update.h).
  auto updated = kube::update_object(*client_, kube::paths::node(node),
                                     [&](nlohmann::json& object) -> Result<bool> {
                                       NodeEdit edit = node_edit_of(object);
                                       if (!mutate(edit)) return false;
                                       apply_node_edit(object, edit);
                                       return true;
                                     });
  if (!updated) return Error{"node " + node + ": " + updated.error().message};
  if (updated->written && written_node_) written_node_(updated->object);
  return updated->written;
}

Result<EvictOutcome> KubeApiOps::evict(const std::string& namespace_name, const std::string& name) {
  const nlohmann::json body = {{"apiVersion", "policy/v1"},
                               {"kind", "Eviction"},
                               {"metadata", {{"name", name}, {"namespace", namespace_name}}}};
  auto r = client_->create(kube::paths::pod_eviction(namespace_name, name), body);
  if (r.ok()) return EvictOutcome::kEvicted;
  if (r.is(kube::ErrorKind::kNotFound)) return EvictOutcome::kGone;
  if (r.is(kube::ErrorKind::kTooManyRequests)) return EvictOutcome::kRefused;
  return Error{"evicting " + namespace_name + "/" + name + ": " + r.error().message};
}

void KubeApiOps::event(const kube::EventSpec& event) {
  kube::EventSpec spec = event;
  if (spec.host.empty()) spec.host = host_;
  if (auto r = kube::create_event(*client_, spec); !r) {
    logging::warn(
        "repartition: event not recorded",
        {{"reason", spec.reason}, {"object", spec.object.name}, {"error", r.error().message}});
  }
}

ConfigNames KubeApiOps::config_names() {
  ConfigNames names;
  if (auto dp = client_->get(kube::paths::config_map(maps_.namespace_name, maps_.device_plugin));
      dp) {
    names.device_plugin.emplace();
    for (const auto& [k, v] : codec::member(*dp, "data").items()) names.device_plugin->insert(k);
  } else if (dp.is(kube::ErrorKind::kNotFound)) {
    names.device_plugin.emplace();  // known to be empty
  }
  auto mig = client_->get(kube::paths::config_map(maps_.namespace_name, maps_.mig_parted));
  if (mig.is(kube::ErrorKind::kNotFound)) names.mig_parted.emplace();
  if (!mig) return names;
  auto doc =
      kube::yaml_to_json(codec::string_member(codec::member(*mig, "data"), kube::kMigPartedKey));
  names.mig_parted.emplace();
  if (doc && doc->is_object() && codec::member(*doc, "mig-configs").is_object()) {
    for (const auto& [k, v] : (*doc)["mig-configs"].items()) names.mig_parted->insert(k);
    names.mig_configs = codec::decode_mig_configs((*doc)["mig-configs"]);
  }
  return names;
}

Result<std::vector<std::string>> KubeApiOps::prune_entries(const kube::PruneRule& rule) {
  std::vector<std::string> removed;
  std::string errors;
  // A ConfigMap that does not exist holds nothing to prune; any other error is reported, and
  // the other ConfigMap is still pruned.
  auto collect = [&](const char* which, kube::ApiResult<std::vector<std::string>> r) {
    if (r) {
      removed.insert(removed.end(), r->begin(), r->end());
    } else if (!r.is(kube::ErrorKind::kNotFound)) {
      errors += std::string(errors.empty() ? "" : "; ") + which + ": " + r.error().message;
    }
  };
  collect(
      "device-plugin ConfigMap",
      kube::prune_device_plugin_entries(*client_, maps_.namespace_name, maps_.device_plugin, rule));
  collect("mig-parted ConfigMap",
          kube::prune_mig_parted_entries(*client_, maps_.namespace_name, maps_.mig_parted, rule));
  if (!errors.empty()) return Error{errors};
  return removed;
}

}  // namespace gpushare::repartition
