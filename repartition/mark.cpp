#include "repartition/mark.h"

#include <nlohmann/json.hpp>

#include "kube/lease.h"

namespace gpushare::repartition {

std::string to_string(Phase phase) {
  switch (phase) {
    case Phase::kPropagating:
      return "propagating";
    case Phase::kDraining:
      return "draining";
    case Phase::kLeavingMps:
      return "leaving-mps";
    case Phase::kLeavingMig:
      return "leaving-mig";
    case Phase::kApplying:
      return "applying";
  }
  return "unknown";
}

std::string format_time(Clock::time_point time) { return kube::micro_time(time); }
std::optional<Clock::time_point> parse_time_text(const std::string& text) {
  return kube::parse_time(text);
}

std::string encode_mark(const Mark& mark) {
  nlohmann::json out = {{"configName", mark.config_name},
                        {"kind", mark.kind},
                        {"phase", to_string(mark.phase)},
                        {"startedAt", format_time(mark.started_at)},
                        {"phaseAt", format_time(mark.phase_at)},
                        {"writtenAt", format_time(mark.written_at)},
                        {"labels", mark.labels},
                        {"serves", mark.serves},
                        {"expect", mark.expect}};
  if (mark.leave_mps_to) out["leaveMpsTo"] = *mark.leave_mps_to;
  if (!mark.restore_labels.empty()) out["restoreLabels"] = mark.restore_labels;
  if (!mark.state_at_flip.empty()) out["stateAtFlip"] = mark.state_at_flip;
  if (!mark.disrupts.empty()) out["disrupts"] = mark.disrupts;
  if (mark.evicted_at != Clock::time_point{}) out["evictedAt"] = format_time(mark.evicted_at);
  return out.dump();
}

Result<Mark> decode_mark(const std::string& text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return Error{"repartition mark is not a JSON object: " + text};
  try {
    Mark m;
    m.config_name = json.at("configName").get<std::string>();
    m.kind = json.at("kind").get<std::string>();
    std::string phase = json.at("phase").get<std::string>();
    if (phase == "propagating") {
      m.phase = Phase::kPropagating;
    } else if (phase == "draining") {
      m.phase = Phase::kDraining;
    } else if (phase == "leaving-mps") {
      m.phase = Phase::kLeavingMps;
    } else if (phase == "leaving-mig") {
      m.phase = Phase::kLeavingMig;
    } else if (phase == "applying") {
      m.phase = Phase::kApplying;
    } else {
      return Error{"repartition mark: unknown phase " + phase};
    }
    for (auto [field, target] :
         {std::pair{"startedAt", &m.started_at}, std::pair{"phaseAt", &m.phase_at},
          std::pair{"writtenAt", &m.written_at}}) {
      auto t = parse_time_text(json.at(field).get<std::string>());
      if (!t) return Error{std::string("repartition mark: bad time in ") + field};
      *target = *t;
    }
    if (m.kind != kKindMig && m.kind != kKindMps)
      return Error{"repartition mark: unknown kind " + m.kind};
    m.labels = json.value("labels", StringMap{});
    m.serves = json.value("serves", std::vector<std::string>{});
    m.expect = json.value("expect", Counts{});
    if (json.contains("leaveMpsTo")) m.leave_mps_to = json["leaveMpsTo"].get<std::string>();
    m.restore_labels = json.value("restoreLabels", StringMap{});
    m.state_at_flip = json.value("stateAtFlip", std::string());
    m.disrupts = json.value("disrupts", std::vector<std::string>{});
    if (json.contains("evictedAt")) {
      auto t = parse_time_text(json["evictedAt"].get<std::string>());
      if (!t) return Error{"repartition mark: bad time in evictedAt"};
      m.evicted_at = *t;
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    return Error{std::string("repartition mark: ") + e.what()};
  }
}

}  // namespace gpushare::repartition
