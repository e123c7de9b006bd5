// Client::watch against scripted streams: how events are cut into chunks, bookmarks, 410s,
// dropped connections and stopping.
#include <gtest/gtest.h>

#include <thread>

#include "kube/client.h"
#include "test/unit/kube/fake_apiserver.h"

namespace gpushare::kube {
namespace {

using testing::event_line;
using testing::FakeApiServer;
using testing::HttpRequest;
using testing::Responder;

std::string node(const std::string& name, const std::string& rv) {
  return R"({"kind":"Node","metadata":{"name":")" + name + R"(","resourceVersion":")" + rv +
         R"("}})";
}

KubeConfig config_for(const FakeApiServer& server) {
  KubeConfig config;
  config.server = server.url();
  return config;
}

void pause_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

struct Seen {
  std::vector<std::string> types;
  std::vector<std::string> names;
  WatchHandler handler() {
    return [this](const WatchEvent& e) {
      types.push_back(e.type);
      names.push_back(e.object["metadata"].value("name", ""));
      return true;
    };
  }
};

TEST(Watch, EventsSplitAcrossChunksAndSeveralInOne) {
  FakeApiServer server([](const HttpRequest&, Responder& r) {
    std::string first = event_line("ADDED", node("a", "11"));
    r.begin_stream();
    // One event in three pieces, with pauses so that libcurl sees them as separate writes.
    r.chunk(first.substr(0, 5));
    pause_ms(20);
    r.chunk(first.substr(5, 20));
    pause_ms(20);
    r.chunk(first.substr(25));
    pause_ms(20);
    // Two events and the start of a third in one chunk, then the rest.
    std::string third = event_line("DELETED", node("a", "13"));
    r.chunk(event_line("MODIFIED", node("a", "12")) + third.substr(0, 10));
    pause_ms(20);
    r.chunk(third.substr(10));
    r.end_stream();
  });
  Client client(config_for(server));
  Seen seen;
  std::string rv = "10";
  auto ended = client.watch("/api/v1/nodes", rv, seen.handler(), nullptr, WatchOptions{42, true});
  ASSERT_TRUE(ended.ok()) << ended.error().message;
  EXPECT_EQ(*ended, WatchEnd::kClosed);
  EXPECT_EQ(seen.types, (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}));
  EXPECT_EQ(rv, "13");
  auto req = server.requests().at(0);
  EXPECT_EQ(req.path, "/api/v1/nodes");
  EXPECT_EQ(req.param("watch"), "1");
  EXPECT_EQ(req.param("allowWatchBookmarks"), "true");
  EXPECT_EQ(req.param("resourceVersion"), "10");
  EXPECT_EQ(req.param("timeoutSeconds"), "42");
}

TEST(Watch, BookmarkAdvancesResourceVersion) {
  FakeApiServer server([](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("ADDED", node("a", "20")));
    r.chunk(event_line("BOOKMARK", R"({"kind":"Node","metadata":{"resourceVersion":"500"}})"));
    r.end_stream();
  });
  Client client(config_for(server));
  Seen seen;
  std::string rv = "1";
  ASSERT_TRUE(client.watch("/api/v1/nodes", rv, seen.handler()).ok());
  EXPECT_EQ(rv, "500");
  EXPECT_EQ(seen.types, (std::vector<std::string>{"ADDED", "BOOKMARK"}));
}

TEST(Watch, ErrorEvent410IsGone) {
  FakeApiServer server([](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("ADDED", node("a", "30")));
    r.chunk(event_line(
        "ERROR",
        R"j({"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (30)","reason":"Expired","code":410})j"));
    r.hold(std::chrono::seconds(5));  // the apiserver may keep the stream a moment
  });
  Client client(config_for(server));
  Seen seen;
  std::string rv = "1";
  auto started = std::chrono::steady_clock::now();
  auto ended = client.watch("/api/v1/nodes", rv, seen.handler());
  ASSERT_FALSE(ended.ok());
  EXPECT_EQ(ended.kind(), ErrorKind::kGone);
  EXPECT_EQ(ended.error().status, 410);
  EXPECT_NE(ended.error().message.find("too old resource version"), std::string::npos);
  EXPECT_EQ(rv, "30");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST(Watch, Http410IsGone) {
  FakeApiServer server([](const HttpRequest&, Responder& r) {
    r.send(410, R"({"kind":"Status","code":410,"reason":"Gone","message":"too old"})");
  });
  Client client(config_for(server));
  std::string rv = "1";
  auto ended = client.watch("/api/v1/pods", rv, [](const WatchEvent&) { return true; });
  EXPECT_EQ(ended.kind(), ErrorKind::kGone);
  EXPECT_EQ(rv, "1");
}

TEST(Watch, OtherErrorEventsKeepTheirKind) {
  FakeApiServer server([](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("ERROR", R"({"kind":"Status","code":500,"message":"etcd is sad"})"));
    r.end_stream();
  });
  Client client(config_for(server));
  std::string rv;
  auto ended = client.watch("/api/v1/pods", rv, [](const WatchEvent&) { return true; });
  EXPECT_EQ(ended.kind(), ErrorKind::kServerError);
}

TEST(Watch, DroppedConnectionIsTransportAndKeepsLastVersion) {
  FakeApiServer server([](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("ADDED", node("a", "41")));
    r.chunk(event_line("MODIFIED", node("a", "42")).substr(0, 15));  // cut mid-event
    pause_ms(20);
    r.drop();
  });
  Client client(config_for(server));
  Seen seen;
  std::string rv = "40";
  auto ended = client.watch("/api/v1/nodes", rv, seen.handler());
  ASSERT_FALSE(ended.ok());
  EXPECT_EQ(ended.kind(), ErrorKind::kTransport);
  EXPECT_EQ(seen.types, (std::vector<std::string>{"ADDED"}));
  EXPECT_EQ(rv, "41");
}

TEST(Watch, HandlerCanEndTheWatch) {
  FakeApiServer server([](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("ADDED", node("a", "1")) + event_line("ADDED", node("b", "2")));
    r.hold(std::chrono::seconds(5));
  });
  Client client(config_for(server));
  std::string rv;
  int calls = 0;
  auto ended = client.watch("/api/v1/nodes", rv, [&](const WatchEvent&) { return ++calls < 1; });
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*ended, WatchEnd::kHandlerStopped);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(rv, "1");
}

TEST(Watch, StopFlagEndsAQuietWatchPromptly) {
  FakeApiServer server([](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.hold(std::chrono::seconds(20));
  });
  Client client(config_for(server));
  std::atomic<bool> stop{false};
  std::chrono::steady_clock::time_point stopped_at;
  std::thread stopper([&] {
    pause_ms(200);
    stopped_at = std::chrono::steady_clock::now();
    stop = true;
  });
  std::string rv;
  auto ended = client.watch(
      "/api/v1/nodes", rv, [](const WatchEvent&) { return true; }, &stop);
  auto returned_at = std::chrono::steady_clock::now();
  stopper.join();
  ASSERT_TRUE(ended.ok()) << ended.error().message;
  EXPECT_EQ(*ended, WatchEnd::kStopped);
  EXPECT_LT(returned_at - stopped_at, std::chrono::milliseconds(500));
}

TEST(Watch, GarbageAndOversizedEventsAreDecodeErrors) {
  FakeApiServer server([](const HttpRequest& req, Responder& r) {
    r.begin_stream();
    if (req.path == "/garbage") {
      r.chunk("this is not json\n");
    } else {
      r.chunk(std::string(4096, 'x'));
    }
    r.end_stream();
  });
  ClientOptions options;
  options.max_body_bytes = 1024;
  Client client(config_for(server), options);
  std::string rv;
  auto handler = [](const WatchEvent&) { return true; };
  EXPECT_EQ(client.watch("/garbage", rv, handler).kind(), ErrorKind::kDecode);
  EXPECT_EQ(client.watch("/huge", rv, handler).kind(), ErrorKind::kDecode);
}

TEST(Watch, LastEventWithoutNewlineIsStillDelivered) {
  FakeApiServer server([](const HttpRequest&, Responder& r) {
    r.begin_stream();
    std::string line = event_line("ADDED", node("a", "7"));
    line.pop_back();
    r.chunk(line);
    r.end_stream();
  });
  Client client(config_for(server));
  Seen seen;
  std::string rv;
  ASSERT_TRUE(client.watch("/api/v1/nodes", rv, seen.handler()).ok());
  EXPECT_EQ(seen.names, (std::vector<std::string>{"a"}));
  EXPECT_EQ(rv, "7");
}

}  // namespace
}  // namespace gpushare::kube
