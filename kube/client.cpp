#include "kube/client.h"

#include <utility>

#include "codec/json.h"
#include "kube/client_impl.h"

namespace gpushare::kube {

using codec::member;
using codec::string_member;
namespace {

std::string_view patch_content_type(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategic:
      return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string with_query(const std::string& path, std::string_view key, std::string_view value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out = path;
  out += path.find('?') == std::string::npos ? '?' : '&';
  out += key;
  out += '=';
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (unreserved(c)) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

Client::Client(KubeConfig config, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}

Client::~Client() = default;

const KubeConfig& Client::config() const { return impl_->transport.config(); }

ApiResult<Response> Client::request(std::string_view method, const std::string& path,
                                    const std::string& body, std::string_view content_type,
                                    const std::atomic<bool>* stop) {
  Transport& t = impl_->transport;
  Exchange ex = t.perform(method, path, body, content_type, stop);
  if (ex.code == CURLE_OK && ex.status == 401 && !t.config().token_file.empty()) {
    // The token may have rotated between our stat and the server's check: read it again once.
    t.token().invalidate();
    ex = t.perform(method, path, body, content_type, stop);
  }
  if (ex.code != CURLE_OK || ex.stopped || ex.status < 200 || ex.status >= 300) {
    return t.error_for(method, path, ex);
  }
  return Response{ex.status, std::move(ex.body)};
}

namespace {

ApiResult<nlohmann::json> as_json(std::string_view method, const std::string& path,
                                  ApiResult<Response> response) {
  if (!response) return response.error();
  if (response->body.empty()) return nlohmann::json();
  auto parsed = nlohmann::json::parse(response->body, nullptr, false);
  if (parsed.is_discarded()) {
    return ApiError{ErrorKind::kDecode, response->status, "",
                    std::string(method) + " " + path + ": answer is not JSON"};
  }
  return parsed;
}

}  // namespace

ApiResult<nlohmann::json> Client::get(const std::string& path) {
  return as_json("GET", path, request("GET", path));
}

ApiResult<nlohmann::json> Client::create(const std::string& path, const nlohmann::json& object) {
  return as_json("POST", path, request("POST", path, object.dump()));
}

ApiResult<nlohmann::json> Client::put(const std::string& path, const nlohmann::json& object) {
  return as_json("PUT", path, request("PUT", path, object.dump()));
}

ApiResult<nlohmann::json> Client::patch(const std::string& path, const nlohmann::json& patch,
                                        PatchType type) {
  return as_json("PATCH", path, request("PATCH", path, patch.dump(), patch_content_type(type)));
}

ApiResult<nlohmann::json> Client::remove(const std::string& path) {
  return as_json("DELETE", path, request("DELETE", path));
}

ApiResult<ListResult> Client::list(const std::string& path, int limit,
                                   const std::atomic<bool>* stop) {
  ListResult out;
  std::string next;  // metadata.continue of the last page
  bool paged = limit > 0;
  bool restarted = false;
  for (;;) {
    std::string page = path;
    if (paged) page = with_query(page, "limit", std::to_string(limit));
    if (!next.empty()) page = with_query(page, "continue", next);
    auto answer = as_json("GET", page, request("GET", page, {}, {}, stop));
    if (!answer) {
      // A continue token expires (410) when the list takes longer than etcd keeps history;
      // one full list without paging gives a consistent answer instead.
      if (answer.is(ErrorKind::kGone) && !next.empty() && !restarted) {
        restarted = true;
        paged = false;
        next.clear();
        out = ListResult{};
        continue;
      }
      return answer.error();
    }
    const nlohmann::json& items = member(*answer, "items");
    if (!items.is_array() && !items.is_null()) {
      return ApiError{ErrorKind::kDecode, 200, "", "GET " + page + ": items is not a list"};
    }
    if (items.is_array()) {
      for (auto& item : answer->at("items")) out.items.push_back(std::move(item));
    }
    const nlohmann::json& metadata = member(*answer, "metadata");
    if (out.resource_version.empty())
      out.resource_version = string_member(metadata, "resourceVersion");
    next = string_member(metadata, "continue");
    if (next.empty()) return out;
  }
}

}  // namespace gpushare::kube
