#include "kube/kubeconfig.h"

#include <gtest/gtest.h>

#include "test/unit/kube/temp_dir.h"

namespace gpushare::kube {
namespace {

using testing::base64;
using testing::TempDir;

const char* kCaPem = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const char* kCertPem = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
const char* kKeyPem = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

std::string kubeconfig(const std::string& cluster, const std::string& user,
                       const std::string& context_extra = "") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: main\n"
         "clusters:\n- name: other\n  cluster:\n    server: https://other:6443\n"
         "- name: c1\n  cluster:\n" +
         cluster + "contexts:\n- name: main\n  context:\n    cluster: c1\n    user: u1\n" +
         context_extra +
         "- name: second\n  context:\n    cluster: other\n    user: u1\n"
         "users:\n- name: u1\n  user:\n" +
         user;
}

TEST(Kubeconfig, CertificateDataForms) {
  std::string yaml = kubeconfig(
      "    server: https://10.0.0.1:6443/\n    certificate-authority-data: " + base64(kCaPem) +
          "\n",
      "    client-certificate-data: " + base64(kCertPem) +
          "\n    client-key-data: " + base64(kKeyPem) + "\n",
      "    namespace: gpu\n");
  auto config = parse_kubeconfig(yaml, "/nowhere", "", "test");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");  // trailing slash dropped
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->client_cert_pem, kCertPem);
  EXPECT_EQ(config->client_key_pem, kKeyPem);
  EXPECT_EQ(config->namespace_name, "gpu");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_TRUE(config->token.empty());
  EXPECT_NE(config->origin.find("context main"), std::string::npos);
}

TEST(Kubeconfig, RelativeFilesResolveAgainstTheKubeconfigDirectory) {
  TempDir dir;
  dir.write("pki/ca.crt", kCaPem);
  dir.write("pki/client.crt", kCertPem);
  dir.write("pki/client.key", kKeyPem);
  std::string path =
      dir.write("conf/config",
                kubeconfig("    server: https://k:6443\n    certificate-authority: ../pki/ca.crt\n",
                           "    client-certificate: ../pki/client.crt\n    client-key: " +
                               dir.file("pki/client.key") + "\n"));
  auto config = load_kubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->ca_file, dir.path() + "/conf/../pki/ca.crt");
  EXPECT_EQ(config->client_cert_file, dir.path() + "/conf/../pki/client.crt");
  EXPECT_EQ(config->client_key_file, dir.file("pki/client.key"));  // absolute stays
  EXPECT_TRUE(config->ca_pem.empty());
}

TEST(Kubeconfig, TokenAndTokenFile) {
  TempDir dir;
  dir.write("token", "abc\n");
  std::string path =
      dir.write("config", kubeconfig("    server: https://k\n    insecure-skip-tls-verify: true\n",
                                     "    token: static-token\n    tokenFile: token\n"));
  auto config = load_kubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->token, "static-token");
  EXPECT_EQ(config->token_file, dir.file("token"));
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->namespace_name, "default");
}

TEST(Kubeconfig, ExplicitContextWins) {
  auto config = parse_kubeconfig(kubeconfig("    server: https://c1\n", "    token: t\n"), "/",
                                 "second", "test");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->server, "https://other:6443");
}

TEST(Kubeconfig, MissingContextIsNamed) {
  auto config =
      parse_kubeconfig(kubeconfig("    server: https://c1\n", "    token: t\n"), "/", "nope", "kc");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error(), "kc: contexts: no context named \"nope\"");
}

TEST(Kubeconfig, NoCurrentContext) {
  auto config = parse_kubeconfig("clusters: []\n", "/", "", "kc");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().find("current-context"), std::string::npos);
}

TEST(Kubeconfig, ErrorsNameTheField) {
  struct Case {
    std::string cluster, user, expected;
  };
  std::vector<Case> cases = {
      {"    certificate-authority-data: abc\n", "    token: t\n",
       "clusters[name=\"c1\"].cluster.server: not set"},
      {"    server: ftp://x\n", "    token: t\n",
       "clusters[name=\"c1\"].cluster.server: \"ftp://x\" is not"},
      {"    server: https://x\n    certificate-authority-data: '***'\n", "    token: t\n",
       "clusters[name=\"c1\"].cluster.certificate-authority-data: not valid base64"},
      {"    server: https://x\n    certificate-authority: /no/such/ca.crt\n", "    token: t\n",
       "clusters[name=\"c1\"].cluster.certificate-authority: cannot read \"/no/such/ca.crt\""},
      {"    server: https://x\n    insecure-skip-tls-verify: true\n    "
       "certificate-authority-data: " +
           base64(kCaPem) + "\n",
       "    token: t\n", "certificate-authority and insecure-skip-tls-verify are both set"},
      {"    server: https://x\n    insecure-skip-tls-verify: maybe\n", "    token: t\n",
       "insecure-skip-tls-verify: \"maybe\" is not true or false"},
      {"    server: https://x\n", "    client-certificate-data: " + base64(kCertPem) + "\n",
       "users[name=\"u1\"].user: client-certificate given without client-key"},
      {"    server: https://x\n", "    tokenFile: /no/such/token\n",
       "users[name=\"u1\"].user.tokenFile: cannot read"},
      {"    server: https://x\n", "    exec:\n      command: aws\n",
       "users[name=\"u1\"].user.exec: not supported"},
  };
  for (const auto& c : cases) {
    auto config = parse_kubeconfig(kubeconfig(c.cluster, c.user), "/", "", "kc");
    ASSERT_FALSE(config.ok()) << c.expected;
    EXPECT_NE(config.error().find(c.expected), std::string::npos) << config.error();
  }
}

TEST(Kubeconfig, MissingClusterAndUserEntries) {
  std::string yaml =
      "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: gone\n    user: u\n";
  auto config = parse_kubeconfig(yaml, "/", "", "kc");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().find("no cluster named \"gone\""), std::string::npos) << config.error();
}

TEST(Kubeconfig, NotYaml) {
  auto config = parse_kubeconfig("a: [b\n", "/", "", "kc");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().find("not valid YAML"), std::string::npos);
  EXPECT_FALSE(load_kubeconfig("/no/such/kubeconfig").ok());
}

TEST(InClusterConfig, ServiceAccountFiles) {
  TempDir dir;
  dir.write("token", "sa-token");
  dir.write("ca.crt", kCaPem);
  dir.write("namespace", "gpushare-system\n");
  auto config = in_cluster_config("10.96.0.1", "443", dir.path());
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, dir.file("token"));
  EXPECT_EQ(config->ca_file, dir.file("ca.crt"));
  EXPECT_EQ(config->namespace_name, "gpushare-system");
  EXPECT_EQ(config->origin, "in-cluster");

  auto v6 = in_cluster_config("fd00::1", "443", dir.path());
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
}

TEST(InClusterConfig, MissingPieces) {
  TempDir dir;
  EXPECT_FALSE(in_cluster_config("", "443", dir.path()).ok());
  auto no_token = in_cluster_config("10.96.0.1", "443", dir.path());
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.error().find("token"), std::string::npos);
}

}  // namespace
}  // namespace gpushare::kube
