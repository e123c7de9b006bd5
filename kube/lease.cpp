#include "kube/lease.h"

#include <unistd.h>

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

LeaderElector::LeaderElector(std::shared_ptr<Client> client, LeaseOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  if (options_.identity.empty()) options_.identity = default_identity();
}

LeaderElector::~LeaderElector() { stop(); }

std::string LeaderElector::path() const {
  return paths::lease(options_.namespace_name, options_.name);
}

nlohmann::json LeaderElector::fresh_lease(Clock::time_point now) const {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", options_.name}, {"namespace", options_.namespace_name}}},
          {"spec",
           {{"holderIdentity", options_.identity},
            {"leaseDurationSeconds", options_.lease_duration.count()},
            {"acquireTime", micro_time(now)},
            {"renewTime", micro_time(now)},
            {"leaseTransitions", 0}}}};
}

void LeaderElector::lose(const std::string& why) {
  if (leader_.exchange(false)) {
    logging::warn("lease: stepping down", {{"lease", options_.name}, {"why", why}});
  }
}

bool LeaderElector::try_acquire_or_renew(Clock::time_point now) {
  auto current = client_->get(path());
  if (current.is(ErrorKind::kNotFound)) {
    auto created = client_->create(paths::leases(options_.namespace_name), fresh_lease(now));
    if (created.ok()) {
      last_renew_ = now;
      if (!leader_.exchange(true))
        logging::info("lease: acquired (created)",
                      {{"lease", options_.name}, {"identity", options_.identity}});
      return true;
    }
    lose("create failed: " + created.error().message);  // another replica won the race
    return false;
  }
  if (!current.ok()) {
    // The apiserver is unreachable: keep acting only while our last renewal is surely valid.
    if (leader_ && now - last_renew_ >= options_.renew_deadline)
      lose("cannot renew: " + current.error().message);
    return is_leader();
  }

  nlohmann::json lease = std::move(*current);
  const nlohmann::json& spec = member(lease, "spec");
  std::string holder = string_member(spec, "holderIdentity");
  const nlohmann::json& duration_json = member(spec, "leaseDurationSeconds");
  auto duration = duration_json.is_number_integer()
                      ? std::chrono::seconds(duration_json.get<long long>())
                      : options_.lease_duration;
  auto renewed = parse_time(string_member(spec, "renewTime"));
  bool mine = holder == options_.identity;
  bool expired = holder.empty() || !renewed || *renewed + duration < now;
  if (!mine && !expired) {
    lose("held by " + holder);
    return false;
  }

  nlohmann::json& out = lease["spec"];
  out["renewTime"] = micro_time(now);
  out["leaseDurationSeconds"] = options_.lease_duration.count();
  if (!mine) {
    out["holderIdentity"] = options_.identity;
    out["acquireTime"] = micro_time(now);
    const nlohmann::json& transitions = member(spec, "leaseTransitions");
    out["leaseTransitions"] =
        (transitions.is_number_integer() ? transitions.get<long long>() : 0) + 1;
  }
  auto put = client_->put(path(), lease);  // carries the resourceVersion we read: a precondition
  if (put.ok()) {
    last_renew_ = now;
    if (!leader_.exchange(true)) {
      logging::info("lease: acquired", {{"lease", options_.name},
                                        {"identity", options_.identity},
                                        {"previousHolder", holder.empty() ? "none" : holder}});
    }
    return true;
  }
  if (put.is(ErrorKind::kConflict)) {
    // Someone else wrote the lease since we read it: if it was a takeover, it is theirs now.
    lose("lease changed under us");
  } else if (leader_ && now - last_renew_ >= options_.renew_deadline) {
    lose("cannot renew: " + put.error().message);
  }
  return is_leader();
}

void LeaderElector::start() {
  // A leader renews every period; a follower retries as often, to take over promptly.
  loop_.start(std::chrono::duration_cast<std::chrono::milliseconds>(options_.renew_period),
              base::PeriodicThread::FirstRound::kNow,
              [this] { try_acquire_or_renew(Clock::now()); });
}

void LeaderElector::stop() {
  loop_.stop();
  leader_ = false;
}

}  // namespace gpushare::kube
