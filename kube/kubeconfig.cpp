#include "kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdlib>
#include <optional>

#include "base/base64.h"
#include "kube/file_util.h"

namespace gpushare::kube {
namespace {

using ConfigResult = Result<KubeConfig>;

std::string scalar(const YAML::Node& map, const char* key) {
  const YAML::Node n = map[key];
  return n && n.IsScalar() ? n.as<std::string>() : std::string();
}

// The entry of a named list (clusters, users, contexts) with the given name.
YAML::Node find_named(const YAML::Node& root, const char* list, const std::string& name) {
  const YAML::Node entries = root[list];
  if (!entries || !entries.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& entry : entries) {
    if (entry.IsMap() && scalar(entry, "name") == name) return entry;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string field(const char* list, const std::string& name, const char* inner, const char* key) {
  return std::string(list) + "[name=\"" + name + "\"]." + inner + "." + key;
}

// Either the *-data field (base64 PEM) or the file field, resolved against base_dir and checked
// readable now so that a wrong path is reported at startup and not at the first request.
Result<bool> pem_or_file(const YAML::Node& map, const char* data_key, const char* file_key,
                         const std::string& where, const std::string& base_dir, std::string& pem,
                         std::string& file) {
  std::string data = scalar(map, data_key);
  std::string path = scalar(map, file_key);
  if (!data.empty()) {
    auto decoded = base::base64_decode(data);
    if (!decoded.ok()) return Error{where + "." + data_key + ": not valid base64"};
    pem = std::move(*decoded);
    return true;
  }
  if (!path.empty()) {
    file = resolve_path(base_dir, path);
    auto readable = read_file(file);
    if (!readable) return Error{where + "." + file_key + ": " + readable.error()};
    return true;
  }
  return false;
}

ConfigResult fail(const std::string& origin, const std::string& what) {
  return Error{origin + ": " + what};
}

bool valid_server(const std::string& server) {
  return server.rfind("https://", 0) == 0 || server.rfind("http://", 0) == 0;
}

ConfigResult parse_root(const YAML::Node& root, const std::string& base_dir,
                        const std::string& wanted_context, const std::string& origin) {
  if (!root.IsMap()) return fail(origin, "not a kubeconfig (expected a YAML mapping)");
  std::string context_name =
      wanted_context.empty() ? scalar(root, "current-context") : wanted_context;
  if (context_name.empty())
    return fail(origin, "current-context: not set and no context was given");

  YAML::Node context_entry = find_named(root, "contexts", context_name);
  if (!context_entry) return fail(origin, "contexts: no context named \"" + context_name + "\"");
  const YAML::Node context = context_entry["context"];
  if (!context || !context.IsMap()) {
    return fail(origin, "contexts[name=\"" + context_name + "\"].context: missing");
  }

  KubeConfig config;
  config.origin = origin + ", context " + context_name;
  if (std::string ns = scalar(context, "namespace"); !ns.empty()) config.namespace_name = ns;

  std::string cluster_name = scalar(context, "cluster");
  if (cluster_name.empty()) {
    return fail(origin, field("contexts", context_name, "context", "cluster") + ": not set");
  }
  YAML::Node cluster_entry = find_named(root, "clusters", cluster_name);
  if (!cluster_entry || !cluster_entry["cluster"].IsMap()) {
    return fail(origin, "clusters: no cluster named \"" + cluster_name + "\" (used by context \"" +
                            context_name + "\")");
  }
  const YAML::Node cluster = cluster_entry["cluster"];
  const std::string cluster_where = std::string("clusters[name=\"") + cluster_name + "\"].cluster";
  config.server = scalar(cluster, "server");
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  if (config.server.empty()) return fail(origin, cluster_where + ".server: not set");
  if (!valid_server(config.server)) {
    return fail(origin, cluster_where + ".server: \"" + config.server +
                            "\" is not an http:// or https:// URL");
  }
  if (YAML::Node insecure = cluster["insecure-skip-tls-verify"]; insecure && insecure.IsScalar()) {
    std::string v = insecure.as<std::string>();
    if (v != "true" && v != "false") {
      return fail(origin,
                  cluster_where + ".insecure-skip-tls-verify: \"" + v + "\" is not true or false");
    }
    config.insecure_skip_tls_verify = v == "true";
  }
  auto ca = pem_or_file(cluster, "certificate-authority-data", "certificate-authority",
                        cluster_where, base_dir, config.ca_pem, config.ca_file);
  if (!ca) return fail(origin, ca.error());
  if (*ca && config.insecure_skip_tls_verify) {
    // client-go refuses this combination too: it is almost always a mistake.
    return fail(origin, cluster_where +
                            ": certificate-authority and insecure-skip-tls-verify are both set");
  }

  std::string user_name = scalar(context, "user");
  if (user_name.empty()) return config;  // anonymous
  YAML::Node user_entry = find_named(root, "users", user_name);
  if (!user_entry) {
    return fail(origin, "users: no user named \"" + user_name + "\" (used by context \"" +
                            context_name + "\")");
  }
  const YAML::Node user = user_entry["user"];
  if (!user || !user.IsMap()) return config;  // `user: {}` is anonymous
  const std::string user_where = std::string("users[name=\"") + user_name + "\"].user";

  auto cert = pem_or_file(user, "client-certificate-data", "client-certificate", user_where,
                          base_dir, config.client_cert_pem, config.client_cert_file);
  if (!cert) return fail(origin, cert.error());
  auto key = pem_or_file(user, "client-key-data", "client-key", user_where, base_dir,
                         config.client_key_pem, config.client_key_file);
  if (!key) return fail(origin, key.error());
  if (*cert != *key) {
    return fail(origin, user_where + (*cert ? ": client-certificate given without client-key"
                                            : ": client-key given without client-certificate"));
  }

  config.token = scalar(user, "token");
  if (std::string token_file = scalar(user, "tokenFile"); !token_file.empty()) {
    config.token_file = resolve_path(base_dir, token_file);
    auto readable = read_file(config.token_file);
    if (!readable) return fail(origin, user_where + ".tokenFile: " + readable.error());
  }

  bool has_credential = *cert || !config.token.empty() || !config.token_file.empty();
  if (!has_credential) {
    for (const char* unsupported : {"exec", "auth-provider", "username"}) {
      if (user[unsupported]) {
        return fail(origin, user_where + "." + unsupported +
                                ": not supported by gpushare; use a token, tokenFile or a client "
                                "certificate");
      }
    }
  }
  return config;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at startup only
  return v ? std::string(v) : std::string();
}

}  // namespace

Result<KubeConfig> parse_kubeconfig(std::string_view yaml, const std::string& base_dir,
                                    const std::string& context, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return fail(origin, std::string("not valid YAML: ") + e.what());
  }
  try {
    return parse_root(root, base_dir, context, origin);
  } catch (const YAML::Exception& e) {
    // A field of the wrong shape (a list where a string belongs) ends up here.
    return fail(origin, std::string("unexpected structure: ") + e.what());
  }
}

Result<KubeConfig> load_kubeconfig(const std::string& path, const std::string& context) {
  auto text = read_file(path);
  if (!text) return Error{"kubeconfig: " + text.error()};
  return parse_kubeconfig(*text, dir_of(path), context, "kubeconfig " + path);
}

Result<KubeConfig> in_cluster_config(const std::string& host, const std::string& port,
                                     const std::string& secrets_dir) {
  const std::string origin = "in-cluster config";
  if (host.empty() || port.empty()) {
    return fail(origin, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set");
  }
  KubeConfig config;
  config.origin = "in-cluster";
  // An IPv6 service address needs brackets in a URL.
  bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  config.server = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  config.token_file = resolve_path(secrets_dir, "token");
  if (auto t = read_file(config.token_file); !t) return fail(origin, "token: " + t.error());
  config.ca_file = resolve_path(secrets_dir, "ca.crt");
  if (auto c = read_file(config.ca_file); !c) return fail(origin, "ca.crt: " + c.error());
  if (auto ns = read_file(resolve_path(secrets_dir, "namespace")); ns && !ns->empty()) {
    std::string n = *ns;
    while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
    if (!n.empty()) config.namespace_name = n;
  }
  return config;
}

Result<KubeConfig> in_cluster_config() {
  return in_cluster_config(env("KUBERNETES_SERVICE_HOST"), env("KUBERNETES_SERVICE_PORT"));
}

Result<KubeConfig> load_config(const std::string& kubeconfig_path) {
  if (!kubeconfig_path.empty()) return load_kubeconfig(kubeconfig_path);
  if (!env("KUBERNETES_SERVICE_HOST").empty()) return in_cluster_config();
  std::string list = env("KUBECONFIG");
  if (!list.empty()) return load_kubeconfig(list.substr(0, list.find(':')));
  std::string home = env("HOME");
  if (home.empty()) {
    return Error{"no kubeconfig given, not in a cluster, and neither KUBECONFIG nor HOME is set"};
  }
  return load_kubeconfig(home + "/.kube/config");
}

}  // namespace gpushare::kube
