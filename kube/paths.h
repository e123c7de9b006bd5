// Every REST path gpushare calls, built in one place (kube/ is the only API edge). Names are
// used as given: Kubernetes object names are DNS subdomains or labels, which need no escaping.
#pragma once

#include <string>

namespace gpushare::kube::paths {

inline std::string node(const std::string& name) { return "/api/v1/nodes/" + name; }
inline std::string nodes() { return "/api/v1/nodes"; }
// Pods that may still hold something: Succeeded and Failed ones are filtered by the apiserver.
inline std::string live_pods() {
  return "/api/v1/pods?fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed";
}
inline std::string pod_eviction(const std::string& ns, const std::string& name) {
  return "/api/v1/namespaces/" + ns + "/pods/" + name + "/eviction";
}
inline std::string config_map(const std::string& ns, const std::string& name) {
  return "/api/v1/namespaces/" + ns + "/configmaps/" + name;
}
inline std::string secrets(const std::string& ns) {
  return "/api/v1/namespaces/" + ns + "/secrets";
}
inline std::string secret(const std::string& ns, const std::string& name) {
  return secrets(ns) + "/" + name;
}
inline std::string mutating_webhook_configuration(const std::string& name) {
  return "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/" + name;
}
inline std::string events(const std::string& ns) { return "/api/v1/namespaces/" + ns + "/events"; }
inline std::string leases(const std::string& ns) {
  return "/apis/coordination.k8s.io/v1/namespaces/" + ns + "/leases";
}
inline std::string resource_slices() { return "/apis/resource.k8s.io/v1/resourceslices"; }
inline std::string lease(const std::string& ns, const std::string& name) {
  return leases(ns) + "/" + name;
}

}  // namespace gpushare::kube::paths
