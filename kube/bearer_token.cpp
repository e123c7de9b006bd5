#include "kube/bearer_token.h"

#include <sys/stat.h>

#include <utility>

#include "kube/file_util.h"

namespace gpushare::kube {

BearerToken::BearerToken(std::string token, std::string token_file)
    : fixed_(std::move(token)), file_(std::move(token_file)) {}

std::string BearerToken::current() {
  if (file_.empty()) return fixed_;
  std::lock_guard lock(mu_);
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) return loaded_ ? cached_ : fixed_;
  Stamp now{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  if (loaded_ && now == stamp_) return cached_;
  auto text = read_file(file_);
  if (!text) return loaded_ ? cached_ : fixed_;
  std::string token = std::move(*text);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  // An empty read is a writer caught mid-way; keep the old token and look again next time.
  if (token.empty()) return loaded_ ? cached_ : fixed_;
  cached_ = std::move(token);
  stamp_ = now;
  loaded_ = true;
  return cached_;
}

void BearerToken::invalidate() {
  std::lock_guard lock(mu_);
  stamp_ = Stamp{};
}

}  // namespace gpushare::kube
