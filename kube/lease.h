// Leader election on a coordination.k8s.io/v1 Lease, so that of several `gpushare serve`
// replicas exactly one repartitions nodes. The protocol is client-go's: the holder renews
// spec.renewTime every renew period with a resourceVersion-preconditioned PUT; another replica
// takes over only once renewTime + leaseDurationSeconds has passed; a holder that cannot
// renew steps down before its lease could expire, so two leaders never overlap.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "base/periodic_thread.h"
#include "kube/client.h"

namespace gpushare::kube {

struct LeaseOptions {
  std::string namespace_name;
  std::string name;
  std::string identity;  // holderIdentity; default_identity() when empty
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_period{5};
  // A holder that has not renewed for this long steps down. Shorter than lease_duration, so
  // it stops acting before anyone else may take over.
  std::chrono::seconds renew_deadline{10};
};

// "<POD_NAME or hostname>-<8 random hex digits>": unique per process, readable in kubectl.
std::string default_identity();

// MicroTime as the API writes it: "2024-05-01T12:00:00.000000Z".
std::string micro_time(std::chrono::system_clock::time_point time);
// Parses RFC 3339 with or without a fraction ("...Z" only, as the apiserver writes it).
std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text);

class LeaderElector {
 public:
  LeaderElector(std::shared_ptr<Client> client, LeaseOptions options);
  ~LeaderElector();  // stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // One round at `now`: create, renew or take over the Lease when allowed. Returns
  // is_leader() afterwards. The thread calls it; tests call it with a chosen clock.
  bool try_acquire_or_renew(std::chrono::system_clock::time_point now);

  // Rounds every renew_period on a thread; stop() releases nothing (the lease simply
  // expires), so a crash and a clean stop look the same to the others.
  void start();
  void stop();

  bool is_leader() const { return leader_.load(); }
  const std::string& identity() const { return options_.identity; }

 private:
  std::string path() const;
  nlohmann::json fresh_lease(std::chrono::system_clock::time_point now) const;
  void lose(const std::string& why);

  const std::shared_ptr<Client> client_;
  LeaseOptions options_;
  std::atomic<bool> leader_{false};
  std::chrono::system_clock::time_point last_renew_{};

  base::PeriodicThread loop_;  // last: stopped before the members its rounds read go
};

}  // namespace gpushare::kube
