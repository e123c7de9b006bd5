#include "server/cluster_certs.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "base/base64.h"
#include "kube/paths.h"
#include "kube/update.h"

namespace gpushare::server {
namespace {

using nlohmann::json;

std::string secret_field(const json& secret, const char* key) {
  const auto data = secret.find("data");
  if (data == secret.end() || !data->is_object()) return {};
  const auto it = data->find(key);
  if (it == data->end() || !it->is_string()) return {};
  auto decoded = base::base64_decode(it->get<std::string>());
  return decoded ? *decoded : std::string{};
}

bool written_here(const json& secret) {
  const json* labels = nullptr;
  if (auto m = secret.find("metadata"); m != secret.end() && m->is_object()) {
    if (auto l = m->find("labels"); l != m->end() && l->is_object()) labels = &*l;
  }
  if (labels == nullptr) return false;
  const auto it = labels->find(kCertsManagedByLabel);
  return it != labels->end() && it->is_string() && *it == kCertsManagedByValue;
}

json secret_object(const ClusterCertsRequest& r, const certs::StoredCertificates& c) {
  return json{
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata",
       {{"name", r.secret},
        {"namespace", r.request.namespace_name},
        {"labels",
         {{"app.kubernetes.io/name", "gpushare"}, {kCertsManagedByLabel, kCertsManagedByValue}}}}},
      {"type", "kubernetes.io/tls"},
      {"data",
       {{"ca.crt", base::base64_encode(c.ca_cert_pem)},
        {"tls.crt", base::base64_encode(c.serving_cert_pem)},
        {"tls.key", base::base64_encode(c.serving_key_pem)}}}};
}

std::string api_message(const kube::ApiError& e) { return e.message; }

// Sets clientConfig.caBundle on every webhook of the configuration. NotFound is no error: before
// an install the configuration does not exist yet.
Result<std::pair<bool, bool>> set_webhook_ca_bundle(kube::Client& client, const std::string& name,
                                                    const std::string& ca_bundle) {
  auto updated = kube::update_object(client, kube::paths::mutating_webhook_configuration(name),
                                     [&](json& object) -> Result<bool> {
                                       auto hooks = object.find("webhooks");
                                       if (hooks == object.end() || !hooks->is_array())
                                         return false;
                                       bool changed = false;
                                       for (auto& hook : *hooks) {
                                         if (!hook.is_object()) continue;
                                         json& cc = hook["clientConfig"];
                                         if (!cc.is_object())
                                           return Error{"webhook without a clientConfig object"};
                                         if (cc.value("caBundle", std::string{}) != ca_bundle) {
                                           cc["caBundle"] = ca_bundle;
                                           changed = true;
                                         }
                                       }
                                       return changed;
                                     });
  if (!updated) {
    if (updated.error().kind == kube::ErrorKind::kNotFound) return std::pair{false, false};
    return Error{"MutatingWebhookConfiguration " + name + ": " + api_message(updated.error())};
  }
  return std::pair{true, updated->written};
}

}  // namespace

Result<ClusterCertsOutcome> ensure_cluster_certificates(kube::Client& client,
                                                        const ClusterCertsRequest& request,
                                                        std::chrono::system_clock::time_point now) {
  const std::string where = "Secret " + request.request.namespace_name + "/" + request.secret;
  const std::string path = kube::paths::secret(request.request.namespace_name, request.secret);
  auto current = client.get(path);
  const bool exists = static_cast<bool>(current);
  if (!exists && current.error().kind != kube::ErrorKind::kNotFound) {
    return Error{where + ": " + api_message(current.error())};
  }
  certs::StoredCertificates stored;
  if (exists) {
    stored = {secret_field(*current, "ca.crt"), secret_field(*current, "tls.crt"),
              secret_field(*current, "tls.key")};
  }
  auto reason = certs::renewal_reason(stored, request.request, now, request.renew_before);
  if (!reason) return Error{reason.error()};

  ClusterCertsOutcome out;
  certs::StoredCertificates wanted = stored;
  if (!exists) {
    out.renewed = true;
    out.why = "created (there was none)";
  } else if (reason->has_value()) {
    if (!written_here(*current)) {
      return Error{where + " was not written by gpushare certs (no label " +
                   std::string(kCertsManagedByLabel) + "=" + kCertsManagedByValue +
                   ") and cannot be kept: " + reason->value() +
                   "; fix or delete it, or let cert-manager or you provide it (chart value "
                   "certificates.mode)"};
    }
    out.renewed = true;
    out.why = "renewed: " + reason->value();
  } else {
    out.why = "kept: it serves the Service's names for longer than the margin";
  }
  if (out.renewed) {
    auto fresh = certs::generate_certificates(request.request);
    if (!fresh) return Error{fresh.error()};
    wanted = {fresh->ca_cert_pem, fresh->serving_cert_pem, fresh->serving_key_pem};
    wanted.ca_cert_pem = certs::overlap_ca_bundle(wanted, stored, now);
  }
  out.ca_bundle = base::base64_encode(wanted.ca_cert_pem);

  // The caBundle first (it trusts both the served and the new certificate), the Secret second.
  if (!request.webhook.empty()) {
    auto set = set_webhook_ca_bundle(client, request.webhook, out.ca_bundle);
    if (!set) return Error{set.error()};
    out.webhook_found = set->first;
    out.webhook_written = set->second;
  }
  if (!out.renewed) return out;
  json object = secret_object(request, wanted);
  if (!exists) {
    auto created = client.create(kube::paths::secrets(request.request.namespace_name), object);
    if (!created) return Error{where + ": " + api_message(created.error())};
    return out;
  }
  // A PUT preconditioned on what was read: if someone changed the Secret meanwhile, nothing is
  // overwritten and the run fails (the Job retries and decides again on what is there).
  object["metadata"]["resourceVersion"] = (*current)["metadata"].value("resourceVersion", "");
  auto written = client.put(path, object);
  if (!written) return Error{where + ": " + api_message(written.error())};
  return out;
}

Result<bool> remove_cluster_certificates(kube::Client& client, const std::string& namespace_name,
                                         const std::string& secret) {
  const std::string where = "Secret " + namespace_name + "/" + secret;
  const std::string path = kube::paths::secret(namespace_name, secret);
  auto current = client.get(path);
  if (!current) {
    if (current.error().kind == kube::ErrorKind::kNotFound) return false;
    return Error{where + ": " + api_message(current.error())};
  }
  if (!written_here(*current)) return false;
  auto removed = client.remove(path);
  if (!removed && removed.error().kind != kube::ErrorKind::kNotFound) {
    return Error{where + ": " + api_message(removed.error())};
  }
  return static_cast<bool>(removed);
}

}  // namespace gpushare::server
