// Where kube-apiserver is and how to prove who we are: from a kubeconfig file or from the
// service account a pod runs as. Only the auth forms gpushare supports are read (client
// certificate, bearer token or token file, CA, insecure-skip-tls-verify); an unsupported form
// (exec plugins, auth-provider) is an error naming its field rather than a silent anonymous client.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace gpushare::kube {

struct KubeConfig {
  std::string server;                      // "https://10.0.0.1:6443", no trailing slash
  std::string namespace_name = "default";  // the context's namespace, or the pod's own in-cluster

  // Trust in the server. PEM text (from *-data fields) or a file path, never both;
  // insecure_skip_tls_verify excludes both (as client-go does).
  std::string ca_pem;
  std::string ca_file;
  bool insecure_skip_tls_verify = false;

  // Client certificate and key: PEM text or file paths (files are read by libcurl on each
  // new connection, so a rotated certificate is picked up without a restart).
  std::string client_cert_pem;
  std::string client_cert_file;
  std::string client_key_pem;
  std::string client_key_file;

  // Bearer token. When token_file is set it wins over token and is re-read whenever the
  // file changes (bound service-account tokens rotate about hourly).
  std::string token;
  std::string token_file;

  std::string
      origin;  // for logs: "kubeconfig /root/.kube/config, context kind-kind" or "in-cluster"
};

// Parses kubeconfig YAML. Relative file paths resolve against base_dir (the kubeconfig's
// directory). An empty context means current-context. origin names the source in messages.
Result<KubeConfig> parse_kubeconfig(std::string_view yaml, const std::string& base_dir,
                                    const std::string& context, const std::string& origin);

// Reads and parses a kubeconfig file.
Result<KubeConfig> load_kubeconfig(const std::string& path, const std::string& context = "");

// The in-cluster config: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with the
// service account's token, ca.crt and namespace from secrets_dir.
inline constexpr std::string_view kServiceAccountDir =
    "/var/run/secrets/kubernetes.io/serviceaccount";
Result<KubeConfig> in_cluster_config(
    const std::string& host, const std::string& port,
    const std::string& secrets_dir = std::string(kServiceAccountDir));
// The same, from the environment.
Result<KubeConfig> in_cluster_config();

// What `serve --kubeconfig` means: an explicit path if given; else in-cluster when
// KUBERNETES_SERVICE_HOST is set; else the first entry of $KUBECONFIG; else ~/.kube/config.
Result<KubeConfig> load_config(const std::string& kubeconfig_path);

}  // namespace gpushare::kube
