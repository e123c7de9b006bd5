#include "kube/client.h"

#include <gtest/gtest.h>

#include <thread>

#include "kube/events.h"
#include "test/unit/kube/fake_apiserver.h"
#include "test/unit/kube/temp_dir.h"
#include "test/unit/kube/test_pki.h"

namespace gpushare::kube {
namespace {

using testing::FakeApiServer;
using testing::HttpRequest;
using testing::Responder;
using testing::TempDir;

KubeConfig plain(const FakeApiServer& server) {
  KubeConfig config;
  config.server = server.url();
  return config;
}

std::string status_json(int code, const std::string& reason, const std::string& message) {
  return nlohmann::json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                        {"code", code},     {"reason", reason},   {"message", message}}
      .dump();
}

TEST(Client, GetDecodesJson) {
  FakeApiServer server([](const HttpRequest& req, Responder& r) {
    if (req.path == "/api/v1/nodes/n1") r.send(200, R"({"metadata":{"name":"n1"}})");
  });
  Client client(plain(server));
  auto node = client.get("/api/v1/nodes/n1");
  ASSERT_TRUE(node.ok()) << node.error().message;
  EXPECT_EQ((*node)["metadata"]["name"], "n1");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].header("Accept"), "application/json");
  EXPECT_EQ(requests[0].header("User-Agent"), "gpushare/0.1");
  EXPECT_TRUE(requests[0].header("Authorization").empty());
}

TEST(Client, ReusesConnectionsAcrossRequests) {
  FakeApiServer server([](const HttpRequest&, Responder& r) { r.send(200, "{}"); });
  Client client(plain(server));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.get("/api/v1/nodes").ok());
  EXPECT_EQ(server.connections(), 1u);
}

TEST(Client, ListFollowsContinueTokens) {
  FakeApiServer server([](const HttpRequest& req, Responder& r) {
    if (req.param("continue").empty()) {
      r.send(200, R"({"kind":"PodList","metadata":{"resourceVersion":"100","continue":"tok/+="},
                      "items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})");
    } else if (req.param("continue") == "tok/+=") {
      r.send(200, R"({"kind":"PodList","metadata":{"resourceVersion":"100"},
                      "items":[{"metadata":{"name":"c"}}]})");
    }
  });
  Client client(plain(server));
  auto list = client.list("/api/v1/pods?labelSelector=app%3Dx", 2);
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->items.size(), 3u);
  EXPECT_EQ(list->items[2]["metadata"]["name"], "c");
  EXPECT_EQ(list->resource_version, "100");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].param("limit"), "2");
  EXPECT_EQ(requests[0].param("labelSelector"), "app=x");
  EXPECT_EQ(requests[1].param("continue"), "tok/+=");
  EXPECT_EQ(requests[1].param("limit"), "2");
}

TEST(Client, ExpiredContinueRestartsTheListWithoutPaging) {
  FakeApiServer server([](const HttpRequest& req, Responder& r) {
    if (!req.param("continue").empty()) {
      r.send(410, status_json(410, "Expired", "The provided continue parameter is too old"));
    } else if (!req.param("limit").empty()) {
      r.send(200, R"({"metadata":{"resourceVersion":"5","continue":"c1"},"items":[{"n":1}]})");
    } else {
      r.send(200, R"({"metadata":{"resourceVersion":"9"},"items":[{"n":1},{"n":2},{"n":3}]})");
    }
  });
  Client client(plain(server));
  auto list = client.list("/api/v1/pods", 1);
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->items.size(), 3u);
  EXPECT_EQ(list->resource_version, "9");
}

TEST(Client, PutConflictIsADistinctKind) {
  FakeApiServer server([](const HttpRequest& req, Responder& r) {
    if (req.method == "PUT") {
      r.send(409,
             status_json(409, "Conflict",
                         "Operation cannot be fulfilled on configmaps \"gpushare\": the object "
                         "has been modified; please apply your changes to the latest version"));
    } else if (req.method == "POST") {
      r.send(409, status_json(409, "AlreadyExists", "configmaps \"gpushare\" already exists"));
    }
  });
  Client client(plain(server));
  nlohmann::json cm = {{"metadata", {{"name", "gpushare"}, {"resourceVersion", "41"}}}};
  auto put = client.put("/api/v1/namespaces/gpu/configmaps/gpushare", cm);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.kind(), ErrorKind::kConflict);
  EXPECT_EQ(put.error().status, 409);
  EXPECT_EQ(put.error().reason, "Conflict");
  EXPECT_NE(
      put.error().message.find("PUT /api/v1/namespaces/gpu/configmaps/gpushare: 409 Conflict: "
                               "Operation cannot be fulfilled"),
      std::string::npos)
      << put.error().message;
  EXPECT_EQ(nlohmann::json::parse(server.requests()[0].body)["metadata"]["resourceVersion"], "41");

  auto create = client.create("/api/v1/namespaces/gpu/configmaps", cm);
  EXPECT_EQ(create.kind(), ErrorKind::kAlreadyExists);
}

TEST(Client, StatusErrorsMapToKinds) {
  FakeApiServer server([](const HttpRequest& req, Responder& r) {
    if (req.path == "/forbidden") r.send(403, status_json(403, "Forbidden", "nodes is forbidden"));
    if (req.path == "/broken") r.send(500, "oops", "text/plain");
    if (req.path == "/text") r.send(200, "not json", "text/plain");
  });
  Client client(plain(server));
  EXPECT_EQ(client.get("/missing").kind(), ErrorKind::kNotFound);
  auto forbidden = client.get("/forbidden");
  EXPECT_EQ(forbidden.kind(), ErrorKind::kForbidden);
  EXPECT_NE(forbidden.error().message.find("nodes is forbidden"), std::string::npos);
  auto broken = client.get("/broken");
  EXPECT_EQ(broken.kind(), ErrorKind::kServerError);
  EXPECT_NE(broken.error().message.find("oops"), std::string::npos);
  EXPECT_EQ(client.get("/text").kind(), ErrorKind::kDecode);
}

TEST(Client, ConnectionRefusedIsTransport) {
  std::string url;
  {
    FakeApiServer server([](const HttpRequest&, Responder&) {});
    url = server.url();
  }
  KubeConfig config;
  config.server = url;
  Client client(config);
  auto result = client.get("/api/v1/nodes");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.kind(), ErrorKind::kTransport);
  EXPECT_NE(result.error().message.find(url), std::string::npos) << result.error().message;
}

TEST(Client, PatchSendsTheContentTypeOfEachKind) {
  FakeApiServer server([](const HttpRequest& req, Responder& r) { r.send(200, req.body); });
  Client client(plain(server));
  nlohmann::json merge = {{"metadata", {{"labels", {{"nvidia.com/mig.config", "all-1g.10gb"}}}}}};
  nlohmann::json json_patch = nlohmann::json::array(
      {{{"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", "7"}},
       {{"op", "replace"}, {"path", "/metadata/labels/nvidia.com~1mig.config"}, {"value", "x"}}});
  ASSERT_TRUE(client.patch("/api/v1/nodes/n1", merge, PatchType::kMerge).ok());
  auto echoed = client.patch("/api/v1/nodes/n1", json_patch, PatchType::kJson);
  ASSERT_TRUE(echoed.ok());
  EXPECT_EQ(*echoed, json_patch);
  ASSERT_TRUE(client.patch("/api/v1/nodes/n1", merge, PatchType::kStrategic).ok());
  ASSERT_TRUE(client.remove("/api/v1/namespaces/d/pods/p").ok());
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].method, "PATCH");
  EXPECT_EQ(requests[0].header("Content-Type"), "application/merge-patch+json");
  EXPECT_EQ(requests[1].header("Content-Type"), "application/json-patch+json");
  EXPECT_EQ(requests[2].header("Content-Type"), "application/strategic-merge-patch+json");
  EXPECT_EQ(nlohmann::json::parse(requests[0].body), merge);
  EXPECT_EQ(requests[3].method, "DELETE");
}

TEST(Client, StaticBearerToken) {
  FakeApiServer server([](const HttpRequest&, Responder& r) { r.send(200, "{}"); });
  KubeConfig config = plain(server);
  config.token = "static";
  Client client(config);
  ASSERT_TRUE(client.get("/x").ok());
  EXPECT_EQ(server.requests()[0].header("Authorization"), "Bearer static");
}

TEST(Client, TokenFileIsReReadWhenItRotates) {
  TempDir dir;
  dir.write("token", "first\n");
  FakeApiServer server([](const HttpRequest&, Responder& r) { r.send(200, "{}"); });
  KubeConfig config = plain(server);
  config.token = "ignored-when-a-file-is-given";
  config.token_file = dir.file("token");
  Client client(config);
  ASSERT_TRUE(client.get("/a").ok());
  ASSERT_TRUE(client.get("/b").ok());
  dir.replace("token", "second");
  ASSERT_TRUE(client.get("/c").ok());
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].header("Authorization"), "Bearer first");
  EXPECT_EQ(requests[1].header("Authorization"), "Bearer first");
  EXPECT_EQ(requests[2].header("Authorization"), "Bearer second");
}

TEST(Client, UnauthorizedWithTokenFileRetriesOnceWithAFreshRead) {
  TempDir dir;
  dir.write("token", "good");
  std::atomic<int> calls{0};
  FakeApiServer server([&](const HttpRequest&, Responder& r) {
    // The first answer is a 401 as if the server had just rotated its view of our token.
    if (calls++ == 0) {
      r.send(401, status_json(401, "Unauthorized", "Unauthorized"));
    } else {
      r.send(200, "{}");
    }
  });
  KubeConfig config = plain(server);
  config.token_file = dir.file("token");
  Client client(config);
  EXPECT_TRUE(client.get("/x").ok());
  EXPECT_EQ(calls.load(), 2);
}

TEST(Client, StopFlagAbortsARequest) {
  FakeApiServer server([](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.hold(std::chrono::seconds(10));
  });
  Client client(plain(server));
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
  });
  auto started = std::chrono::steady_clock::now();
  auto result = client.request("GET", "/slow", {}, {}, &stop);
  stopper.join();
  EXPECT_EQ(result.kind(), ErrorKind::kStopped);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST(Events, NodeEventGoesToDefaultNamespace) {
  FakeApiServer server([](const HttpRequest& req, Responder& r) { r.send(201, req.body); });
  Client client(plain(server));
  EventSpec spec;
  spec.object = ObjectReference{"v1", "Node", "", "gpu-node-1", "uid-1"};
  spec.reason = "RepartitionStarted";
  spec.message = "switching nvidia.com/mig.config to all-1g.10gb";
  spec.type = EventType::kWarning;
  spec.host = "gpushare-7d9f";
  spec.time = std::chrono::system_clock::time_point(std::chrono::seconds(1714564800));
  auto created = create_event(client, spec);
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/api/v1/namespaces/default/events");
  auto event = nlohmann::json::parse(requests[0].body);
  EXPECT_EQ(event["kind"], "Event");
  EXPECT_EQ(event["metadata"]["namespace"], "default");
  EXPECT_EQ(event["metadata"]["name"].get<std::string>().rfind("gpu-node-1.", 0), 0u);
  EXPECT_EQ(event["involvedObject"],
            (nlohmann::json{
                {"apiVersion", "v1"}, {"kind", "Node"}, {"name", "gpu-node-1"}, {"uid", "uid-1"}}));
  EXPECT_EQ(event["reason"], "RepartitionStarted");
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["source"]["component"], "gpushare");
  EXPECT_EQ(event["source"]["host"], "gpushare-7d9f");
  EXPECT_EQ(event["firstTimestamp"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(event["lastTimestamp"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(event["count"], 1);
}

TEST(Events, PodEventStaysInThePodsNamespace) {
  EventSpec spec;
  spec.object = ObjectReference{"v1", "Pod", "ml", "trainer-0", ""};
  spec.reason = "GpuAssigned";
  auto event = make_event(spec);
  EXPECT_EQ(event["metadata"]["namespace"], "ml");
  EXPECT_EQ(event["involvedObject"]["namespace"], "ml");
  EXPECT_EQ(event["type"], "Normal");
  EXPECT_FALSE(event["involvedObject"].contains("uid"));
}

// --- TLS ---

testing::TlsOptions server_tls(bool require_client_cert) {
  const auto& pki = testing::test_pki();
  return testing::TlsOptions{pki.server_cert, pki.server_key,
                             require_client_cert ? pki.ca_cert : std::string()};
}

TEST(ClientTls, KubeconfigWithCaAndClientCertificateData) {
  const auto& pki = testing::test_pki();
  FakeApiServer server([](const HttpRequest&, Responder& r) { r.send(200, R"({"ok":true})"); },
                       server_tls(true));
  std::string yaml =
      "current-context: tls\n"
      "clusters:\n- name: c\n  cluster:\n    server: " +
      server.url() + "\n    certificate-authority-data: " + testing::base64(pki.ca_cert) +
      "\nusers:\n- name: u\n  user:\n    client-certificate-data: " +
      testing::base64(pki.client_cert) +
      "\n    client-key-data: " + testing::base64(pki.client_key) +
      "\ncontexts:\n- name: tls\n  context:\n    cluster: c\n    user: u\n";
  auto config = parse_kubeconfig(yaml, "/", "", "test");
  ASSERT_TRUE(config.ok()) << config.error();
  Client client(*config);
  auto answer = client.get("/version");
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ((*answer)["ok"], true);
  EXPECT_EQ(server.requests().at(0).client_cert_cn, "gpushare-test-client");
}

TEST(ClientTls, CertificateFilesAndWatchOverTls) {
  const auto& pki = testing::test_pki();
  TempDir dir;
  FakeApiServer server(
      [](const HttpRequest& req, Responder& r) {
        if (req.param("watch") == "1") {
          r.begin_stream();
          r.chunk(
              testing::event_line("ADDED", R"({"metadata":{"name":"n","resourceVersion":"3"}})"));
          r.end_stream();
        } else {
          r.send(200, "{}");
        }
      },
      server_tls(true));
  KubeConfig config;
  config.server = server.url();
  config.ca_file = dir.write("ca.crt", pki.ca_cert);
  config.client_cert_file = dir.write("client.crt", pki.client_cert);
  config.client_key_file = dir.write("client.key", pki.client_key);
  Client client(config);
  ASSERT_TRUE(client.get("/x").ok());
  std::string rv = "1";
  int events = 0;
  auto ended = client.watch("/api/v1/nodes", rv, [&](const WatchEvent&) { return ++events > 0; });
  ASSERT_TRUE(ended.ok()) << ended.error().message;
  EXPECT_EQ(events, 1);
  EXPECT_EQ(rv, "3");
}

TEST(ClientTls, UnknownCaIsRefusedAndInsecureSkipsVerification) {
  FakeApiServer server([](const HttpRequest&, Responder& r) { r.send(200, "{}"); },
                       server_tls(false));
  KubeConfig wrong;
  wrong.server = server.url();
  wrong.ca_pem = testing::test_pki().client_cert;  // a certificate, but not the server's issuer
  auto refused = Client(wrong).get("/x");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.kind(), ErrorKind::kTransport);

  KubeConfig insecure;
  insecure.server = server.url();
  insecure.insecure_skip_tls_verify = true;
  auto accepted = Client(insecure).get("/x");
  EXPECT_TRUE(accepted.ok()) << accepted.error().message;
}

TEST(ClientTls, ServerRequiringAClientCertificateRefusesAnonymous) {
  FakeApiServer server([](const HttpRequest&, Responder& r) { r.send(200, "{}"); },
                       server_tls(true));
  KubeConfig config;
  config.server = server.url();
  config.ca_pem = testing::test_pki().ca_cert;
  EXPECT_EQ(Client(config).get("/x").kind(), ErrorKind::kTransport);
}

TEST(WithQuery, AppendsAndEncodes) {
  EXPECT_EQ(with_query("/a", "k", "v"), "/a?k=v");
  EXPECT_EQ(with_query("/a?x=1", "continue", "a b/+="), "/a?x=1&continue=a%20b%2F%2B%3D");
}

}  // namespace
}  // namespace gpushare::kube
