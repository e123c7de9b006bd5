// A stateful stand-in for the apiserver's storage behind FakeApiServer: GET, POST (create)
// and PUT with the resourceVersion precondition, so that read-modify-write code meets real
// 404s, 409 Conflicts and 409 AlreadyExists. Tests can also change objects "behind the
// client's back" (another writer) with edit(), or force the next N PUTs to conflict.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "test/unit/kube/fake_apiserver.h"

namespace gpushare::kube::testing {

class ObjectStore {
 public:
  // Stores `object` at `path` ("/api/v1/namespaces/ns/configmaps/name") with a fresh version.
  void put(const std::string& path, nlohmann::json object) {
    std::lock_guard lock(mu_);
    store(path, std::move(object));
  }
  std::optional<nlohmann::json> get(const std::string& path) const {
    std::lock_guard lock(mu_);
    auto it = objects_.find(path);
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  // Another writer's change: bumps the resourceVersion.
  void edit(const std::string& path, const std::function<void(nlohmann::json&)>& change) {
    std::lock_guard lock(mu_);
    nlohmann::json object = objects_.at(path);
    change(object);
    store(path, std::move(object));
  }
  // Before answering each of the next `n` PUTs, the object is changed by `change` (a racing
  // writer), so the PUT meets a stale resourceVersion.
  void race_next_puts(int n, std::function<void(nlohmann::json&)> change) {
    std::lock_guard lock(mu_);
    races_ = n;
    race_change_ = std::move(change);
  }
  // Before answering the next POST, another writer creates `object` under the posted name (a
  // racing creator that read the same 404), so the POST meets 409 AlreadyExists.
  void race_next_create(nlohmann::json object) {
    std::lock_guard lock(mu_);
    create_race_ = std::move(object);
  }
  int writes() const {
    std::lock_guard lock(mu_);
    return writes_;
  }
  // The next `n` requests (of `method` only, when given) are answered `status` (429, 503, ...)
  // without touching anything.
  void fail_next(int n, int status, std::string method = {}) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
    fail_status_ = status;
    fail_method_ = std::move(method);
  }
  // Every request waits this long before it is answered (a hung API server); 0: none.
  void set_hang(std::chrono::milliseconds hang) {
    std::lock_guard lock(mu_);
    hang_ = hang;
  }
  void set_unavailable(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }

  Handler handler() {
    return [this](const HttpRequest& req, Responder& r) { serve(req, r); };
  }

 private:
  static std::string status(int code, const std::string& reason) {
    return nlohmann::json{{"kind", "Status"},
                          {"status", "Failure"},
                          {"code", code},
                          {"reason", reason},
                          {"message", reason}}
        .dump();
  }

  void store(const std::string& path, nlohmann::json object) {
    object["metadata"]["resourceVersion"] = std::to_string(++version_);
    objects_[path] = std::move(object);
  }

  void serve(const HttpRequest& req, Responder& r) {
    std::chrono::milliseconds hang;
    {
      std::lock_guard lock(mu_);
      hang = hang_;
    }
    if (hang.count() > 0) std::this_thread::sleep_for(hang);
    std::lock_guard lock(mu_);
    if (down_) return r.send(503, status(503, "ServiceUnavailable"));
    if (fail_next_ > 0 && (fail_method_.empty() || fail_method_ == req.method)) {
      --fail_next_;
      return r.send(fail_status_, status(fail_status_, fail_status_ == 429 ? "TooManyRequests"
                                                                           : "ServiceUnavailable"));
    }
    if (req.method == "GET") {
      auto it = objects_.find(req.path);
      if (it == objects_.end()) return r.send(404, status(404, "NotFound"));
      return r.send(200, it->second.dump());
    }
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (req.method == "POST") {
      std::string path = req.path + "/" + body["metadata"]["name"].get<std::string>();
      if (create_race_) {
        store(path, *std::exchange(create_race_, std::nullopt));
        ++writes_;
      }
      if (objects_.count(path) != 0) return r.send(409, status(409, "AlreadyExists"));
      ++writes_;
      store(path, body);
      return r.send(201, objects_[path].dump());
    }
    if (req.method == "PUT") {
      auto it = objects_.find(req.path);
      if (it == objects_.end()) return r.send(404, status(404, "NotFound"));
      if (races_ > 0) {
        --races_;
        nlohmann::json raced = it->second;
        race_change_(raced);
        store(req.path, std::move(raced));
      }
      if (body["metadata"].value("resourceVersion", "") !=
          objects_[req.path]["metadata"]["resourceVersion"].get<std::string>()) {
        return r.send(409, status(409, "Conflict"));
      }
      ++writes_;
      store(req.path, body);
      return r.send(200, objects_[req.path].dump());
    }
    r.send(405, status(405, "MethodNotAllowed"));
  }

  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> objects_;
  long version_ = 0;
  int writes_ = 0;
  int races_ = 0;
  bool down_ = false;
  std::chrono::milliseconds hang_{0};
  int fail_next_ = 0;
  int fail_status_ = 503;
  std::string fail_method_;
  std::function<void(nlohmann::json&)> race_change_;
  std::optional<nlohmann::json> create_race_;
};

}  // namespace gpushare::kube::testing
