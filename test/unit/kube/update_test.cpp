// kube::update_object, the one read-modify-write loop: a 409 re-reads and runs the change again
// on what is there now (the other writer's change survives), nothing is sent when nothing
// changes, and errors come back with their kind.
#include "kube/update.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "test/unit/kube/object_store.h"

namespace gpushare::kube {
namespace {

using testing::FakeApiServer;
using testing::ObjectStore;

const std::string kPath = "/api/v1/nodes/n1";
const RmwOptions kFast{6, std::chrono::milliseconds(1)};

struct Fixture {
  ObjectStore store;
  FakeApiServer server{store.handler()};
  Client client{[this] {
    KubeConfig config;
    config.server = server.url();
    return config;
  }()};
  Fixture() { store.put(kPath, {{"metadata", {{"name", "n1"}, {"labels", {{"a", "1"}}}}}}); }
};

ObjectChange set_label(const std::string& key, const std::string& value) {
  return [=](nlohmann::json& node) -> Result<bool> {
    auto& labels = node["metadata"]["labels"];
    if (labels.value(key, "") == value) return false;
    labels[key] = value;
    return true;
  };
}

TEST(UpdateObject, AConflictRereadsAndKeepsTheOtherWritersChange) {
  Fixture f;
  // Two PUTs meet another writer's label first.
  f.store.race_next_puts(2, [](nlohmann::json& node) {
    node["metadata"]["labels"]["other"] = node["metadata"]["labels"].value("other", "") + "x";
  });
  auto r = update_object(f.client, kPath, set_label("ours", "yes"), kFast);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->written);
  const auto stored = *f.store.get(kPath);
  EXPECT_EQ(stored["metadata"]["labels"]["ours"], "yes");
  EXPECT_EQ(stored["metadata"]["labels"]["other"], "xx");
  EXPECT_EQ(r->object["metadata"]["resourceVersion"], stored["metadata"]["resourceVersion"]);
}

TEST(UpdateObject, NothingToChangeSendsNothing) {
  Fixture f;
  const int before = f.store.writes();
  auto r = update_object(f.client, kPath, set_label("a", "1"), kFast);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->written);
  EXPECT_EQ(f.store.writes(), before);
}

TEST(UpdateObject, ErrorsKeepTheirKind) {
  Fixture f;
  EXPECT_TRUE(update_object(f.client, "/api/v1/nodes/missing", set_label("a", "2"), kFast)
                  .is(ErrorKind::kNotFound));
  auto refused = update_object(
      f.client, kPath, [](nlohmann::json&) -> Result<bool> { return Error{"not a node I know"}; },
      kFast);
  ASSERT_TRUE(refused.is(ErrorKind::kDecode));
  EXPECT_EQ(refused.error().message, kPath + ": not a node I know");
  // A writer that always wins: the last 409 after max_attempts.
  f.store.race_next_puts(100, [](nlohmann::json& node) { node["metadata"]["labels"]["b"] = "z"; });
  auto lost =
      update_object(f.client, kPath, set_label("ours", "yes"), RmwOptions{3, kFast.backoff});
  EXPECT_TRUE(lost.is(ErrorKind::kConflict));
  EXPECT_FALSE((*f.store.get(kPath))["metadata"]["labels"].contains("ours"));
}

// An API server that is briefly unavailable costs attempts, not the write: a GET without an
// answer worth having (429, 5xx) and a PUT refused with 429 start the attempt again; a PUT that
// got a 5xx may have been written, so it comes back to the caller instead.
TEST(UpdateObject, TransientFailuresAreRetriedWithinTheBudget) {
  struct Case {
    const char* name;
    int failures;
    int status;
    const char* method;
    bool written;
    ErrorKind error;  // when not written
  };
  const Case cases[] = {
      {"GET 503 twice", 2, 503, "GET", true, ErrorKind::kOther},
      {"GET 429 twice", 2, 429, "GET", true, ErrorKind::kOther},
      {"PUT 429 twice", 2, 429, "PUT", true, ErrorKind::kOther},
      {"PUT 503 once: maybe written, not retried", 1, 503, "PUT", false, ErrorKind::kServerError},
      {"GET 503 past the budget", 100, 503, "GET", false, ErrorKind::kServerError},
  };
  for (const Case& c : cases) {
    Fixture f;
    f.store.fail_next(c.failures, c.status, c.method);
    auto r = update_object(f.client, kPath, set_label("ours", "yes"), kFast);
    const bool written = (*f.store.get(kPath))["metadata"]["labels"].contains("ours");
    EXPECT_EQ(written, c.written) << c.name;
    if (c.written) {
      EXPECT_TRUE(r.ok() && r->written) << c.name;
    } else {
      EXPECT_TRUE(r.is(c.error)) << c.name << ": " << (r.ok() ? "ok" : r.error().message);
    }
  }
}

}  // namespace
}  // namespace gpushare::kube
