#include "kube/lease.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>

#include "codec/json.h"
#include "kube/paths.h"
#include "logging/log.h"

namespace gpushare::kube {

using codec::member;
using codec::string_member;

using Clock = std::chrono::system_clock;

std::string default_identity() {
  std::string base;
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') base = pod;
  if (base.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) base = host;
  }
  if (base.empty()) base = "gpushare";
  // Two processes on one host (or a restarted pod with the same name) must not mistake each
  // other's lease for their own.
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(rd()));
  return base + "-" + suffix;
}

std::string micro_time(Clock::time_point time) {
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", text, static_cast<long long>(micros % 1'000'000));
  return out;
}

std::optional<Clock::time_point> parse_time(const std::string& text) {
  std::tm utc{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon,
                  &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  long long micros = 0;
  std::size_t i = static_cast<std::size_t>(consumed);
  if (i < text.size() && text[i] == '.') {
    long long scale = 100'000;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      micros += (text[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (i >= text.size() || text[i] != 'Z') return std::nullopt;
  std::time_t seconds = timegm(&utc);
  return Clock::time_point(std::chrono::seconds(seconds)) + std::chrono::microseconds(micros);
}

namespace {

ClientOptions lease_client_options(const LeaseOptions& options) {
  ClientOptions o;
  o.request_timeout = options.request_timeout;
  o.connect_timeout = std::min(o.connect_timeout, options.request_timeout);
  return o;
}

std::int64_t ticks(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

LeaderElector::LeaderElector(const std::shared_ptr<Client>& client, LeaseOptions options,
                             LeaseClock clock)
    : client_(std::make_shared<Client>(client->config(), lease_client_options(options))),
      options_(std::move(options)),
      clock_(std::move(clock)) {
  if (options_.identity.empty()) options_.identity = default_identity();
}

LeaderElector::~LeaderElector() { stop(); }

bool LeaderElector::is_leader() const {
  const std::int64_t until = leader_until_.load();
  return until != 0 && ticks(clock_.monotonic()) < until;
}

std::string LeaderElector::path() const {
  return paths::lease(options_.namespace_name, options_.name);
}

nlohmann::json LeaderElector::fresh_lease(Clock::time_point wall) const {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", options_.name}, {"namespace", options_.namespace_name}}},
          {"spec",
           {{"holderIdentity", options_.identity},
            {"leaseDurationSeconds", options_.lease_duration.count()},
            {"acquireTime", micro_time(wall)},
            {"renewTime", micro_time(wall)},
            {"leaseTransitions", 0}}}};
}

void LeaderElector::won(Monotonic::time_point attempt_started, const std::string& how,
                        const std::string& previous) {
  // Counted from before the request went out: the API server may have written it at any time
  // after that, and every other replica waits lease_duration from when it sees the write.
  leader_until_ = ticks(attempt_started + options_.renew_deadline);
  if (!acting_) {
    acting_ = true;
    logging::info("lease: acquired", {{"lease", options_.name},
                                      {"identity", options_.identity},
                                      {"how", how},
                                      {"previousHolder", previous.empty() ? "none" : previous}});
  }
}

void LeaderElector::lose(const std::string& why) {
  leader_until_ = 0;
  if (acting_) {
    acting_ = false;
    logging::warn("lease: stepping down", {{"lease", options_.name}, {"why", why}});
  }
}

bool LeaderElector::release() {
  leader_until_ = 0;  // whatever the API says, this replica acts no more
  auto current = client_->get(path());
  if (!current.ok()) {
    logging::warn("lease: not released",
                  {{"lease", options_.name}, {"why", current.error().message}});
    return false;
  }
  nlohmann::json lease = std::move(*current);
  nlohmann::json& spec = lease["spec"];
  if (string_member(spec, "holderIdentity") != options_.identity) return false;
  // As client-go writes a released record: no holder, and a one-second lease from now.
  const std::string now = micro_time(clock_.wall());
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["acquireTime"] = now;
  spec["renewTime"] = now;
  auto put = client_->put(path(), lease);  // resourceVersion precondition: only our own record
  if (!put.ok()) {
    logging::warn("lease: not released", {{"lease", options_.name}, {"why", put.error().message}});
    return false;
  }
  logging::info("lease: released", {{"lease", options_.name}, {"identity", options_.identity}});
  return true;
}

bool LeaderElector::try_acquire_or_renew() {
  const Monotonic::time_point started = clock_.monotonic();
  const Clock::time_point wall = clock_.wall();
  auto current = client_->get(path());
  if (current.is(ErrorKind::kNotFound)) {
    auto created = client_->create(paths::leases(options_.namespace_name), fresh_lease(wall));
    if (created.ok()) {
      won(started, "created", "");
      return is_leader();
    }
    lose("create failed: " + created.error().message);  // another replica won the race
    return false;
  }
  if (!current.ok()) {
    // The API server does not answer: is_leader() runs out by itself at the renew deadline.
    if (acting_ && !is_leader()) lose("cannot renew: " + current.error().message);
    return is_leader();
  }

  nlohmann::json lease = std::move(*current);
  const nlohmann::json& spec = member(lease, "spec");
  std::string holder = string_member(spec, "holderIdentity");
  const nlohmann::json& duration_json = member(spec, "leaseDurationSeconds");
  auto duration = duration_json.is_number_integer()
                      ? std::chrono::seconds(duration_json.get<long long>())
                      : options_.lease_duration;
  const bool mine = holder == options_.identity;
  if (!mine) {
    // client-go's takeover clock: how long the record has stayed as it is, seen from here.
    std::string record = string_member(member(lease, "metadata"), "resourceVersion");
    if (record.empty()) record = spec.dump();
    if (record != observed_record_) {
      observed_record_ = std::move(record);
      observed_at_ = started;
    }
    const bool expired = holder.empty() || started - observed_at_ > duration;
    if (!expired) {
      lose("held by " + holder);
      return false;
    }
  }

  nlohmann::json& out = lease["spec"];
  out["renewTime"] = micro_time(wall);
  out["leaseDurationSeconds"] = options_.lease_duration.count();
  if (!mine) {
    out["holderIdentity"] = options_.identity;
    out["acquireTime"] = micro_time(wall);
    const nlohmann::json& transitions = member(spec, "leaseTransitions");
    out["leaseTransitions"] =
        (transitions.is_number_integer() ? transitions.get<long long>() : 0) + 1;
  }
  auto put = client_->put(path(), lease);  // carries the resourceVersion we read: a precondition
  if (put.ok()) {
    won(started, mine ? "renewed" : "taken over", holder);
    return is_leader();
  }
  if (put.is(ErrorKind::kConflict)) {
    // Someone else wrote the lease since we read it: if it was a takeover, it is theirs now.
    lose("lease changed under us");
  } else if (acting_ && !is_leader()) {
    lose("cannot renew: " + put.error().message);
  }
  return is_leader();
}

void LeaderElector::start() {
  // A leader renews every period; a follower retries as often, to take over promptly.
  loop_.start(std::chrono::duration_cast<std::chrono::milliseconds>(options_.renew_period),
              base::PeriodicThread::FirstRound::kNow, [this] { try_acquire_or_renew(); });
}

void LeaderElector::stop() {
  loop_.stop();
  if (leader_until_ != 0) release();
  leader_until_ = 0;
  acting_ = false;
}

}  // namespace gpushare::kube
