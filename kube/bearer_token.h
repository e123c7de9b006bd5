// The bearer token to send, from a fixed string or from a file that rotates. Service-account
// tokens are replaced in place (kubelet swaps a symlink) about hourly, so the file is checked
// on every use (one stat) and re-read when its identity or timestamp changed.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <mutex>
#include <string>

namespace gpushare::kube {

class BearerToken {
 public:
  BearerToken(std::string token, std::string token_file);

  // The token now ("" for none). A failed re-read keeps the last good token, so that a
  // rotation caught half-way does not turn into anonymous requests.
  std::string current();
  // Re-read the file on the next current() even if it looks unchanged (after a 401).
  void invalidate();

 private:
  struct Stamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    timespec mtime{};
    bool operator==(const Stamp& o) const {
      return device == o.device && inode == o.inode && size == o.size &&
             mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec;
    }
  };

  std::mutex mu_;
  const std::string fixed_;
  const std::string file_;
  std::string cached_;
  Stamp stamp_;
  bool loaded_ = false;
};

}  // namespace gpushare::kube
