// Leader election on a coordination.k8s.io/v1 Lease, so that of several `gpushare serve`
// replicas exactly one repartitions nodes. The protocol and its clock rules are client-go's:
//  - the holder renews spec.renewTime every renew period with a resourceVersion-preconditioned
//    PUT;
//  - another replica takes over only once it has seen the record unchanged for
//    leaseDurationSeconds on its own monotonic clock: renewTime is another machine's wall clock
//    and is never compared with ours;
//  - the holder counts itself leader only until renew_deadline after the start of its last
//    successful renewal (monotonic), which is shorter than any other replica's wait, so two
//    leaders never overlap even while a request hangs; each Lease request times out well within
//    the renew deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
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
  // Each Lease request gives up after this (the shared client waits 30 s, longer than the lease).
  std::chrono::milliseconds request_timeout{4'000};
};

// The two clocks the elector reads; tests set them.
struct LeaseClock {
  std::function<std::chrono::steady_clock::time_point()> monotonic = [] {
    return std::chrono::steady_clock::now();
  };
  std::function<std::chrono::system_clock::time_point()> wall = [] {
    return std::chrono::system_clock::now();
  };
};

// "<POD_NAME or hostname>-<8 random hex digits>": unique per process, readable in kubectl.
std::string default_identity();

// MicroTime as the API writes it: "2024-05-01T12:00:00.000000Z".
std::string micro_time(std::chrono::system_clock::time_point time);
// Parses RFC 3339 with or without a fraction ("...Z" only, as the apiserver writes it).
std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text);

class LeaderElector {
 public:
  // Talks to the API server `client` talks to, through a client of its own with
  // options.request_timeout.
  LeaderElector(const std::shared_ptr<Client>& client, LeaseOptions options, LeaseClock clock = {});
  ~LeaderElector();  // stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // One round at the clock's now: create, renew or take over the Lease when allowed. Returns
  // is_leader() afterwards. The thread calls it; tests call it after setting the clock.
  bool try_acquire_or_renew();

  // Rounds every renew_period on a thread. stop() ends them and, when this replica still holds
  // the Lease, releases it (client-go's ReleaseOnCancel): holderIdentity emptied, duration 1 s,
  // written with the resourceVersion it read, so a standby takes over at its next round rather
  // than a whole lease later. The caller stops acting first (Repartitioner::stop). A crash
  // releases nothing: the lease then expires.
  void start();
  void stop();
  // The release alone; true when the Lease was ours and is now free. Tests call it.
  bool release();

  // Leading, and the last successful renewal started less than renew_deadline ago: false as
  // soon as another replica could be about to take over, whether or not a round has run since.
  bool is_leader() const;
  const std::string& identity() const { return options_.identity; }

 private:
  using Monotonic = std::chrono::steady_clock;
  std::string path() const;
  nlohmann::json fresh_lease(std::chrono::system_clock::time_point wall) const;
  void won(Monotonic::time_point attempt_started, const std::string& how,
           const std::string& previous);
  void lose(const std::string& why);

  const std::shared_ptr<Client> client_;
  LeaseOptions options_;
  LeaseClock clock_;
  // Monotonic nanoseconds until which this replica may act; 0: not leading.
  std::atomic<std::int64_t> leader_until_{0};
  bool acting_ = false;  // for the "stepping down" log line; the loop thread only
  // The other holder's record as last seen (its resourceVersion, or the spec's text), and when
  // it was first seen so on our monotonic clock: the takeover clock of client-go.
  std::string observed_record_;
  Monotonic::time_point observed_at_{};

  base::PeriodicThread loop_;  // last: stopped before the members its rounds read go
};

}  // namespace gpushare::kube
