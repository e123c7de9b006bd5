// The mark annotation round-trips, and anything else is an error rather than a guess.
#include "repartition/mark.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace gpushare::repartition {
namespace {

TEST(Mark, RoundTrips) {
  Mark m;
  m.config_name = "gpushare-abc";
  m.kind = kKindMig;
  m.phase = Phase::kLeavingMps;
  m.started_at = Clock::time_point(std::chrono::seconds(1'800'000'000));
  m.phase_at = m.started_at + std::chrono::microseconds(1500);
  m.written_at = m.started_at - std::chrono::seconds(3);
  m.labels = {{kMigConfigLabel, "gpushare-abc"}};
  m.serves = {"ns/a", "ns/b"};
  m.expect = {{"nvidia.com/mig-1g.12gb", 7}};
  m.leave_mps_to = "";
  m.restore_labels = {{kDevicePluginConfigLabel, "mps-4"}};
  m.state_at_flip = "failed";
  auto back = decode_mark(encode_mark(m));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(encode_mark(*back), encode_mark(m));
  EXPECT_EQ(back->phase, Phase::kLeavingMps);
  EXPECT_EQ(back->phase_at, m.phase_at);
  EXPECT_EQ(back->leave_mps_to, std::optional<std::string>(""));
  auto json = nlohmann::json::parse(encode_mark(m));
  for (const char* key :
       {"configName", "kind", "phase", "startedAt", "labels", "serves", "writtenAt"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
}

TEST(Mark, ADrainingMarkKeepsItsPodsAndEvictionTime) {
  Mark m;
  m.config_name = "gpushare-abc";
  m.kind = kKindMps;
  m.phase = Phase::kDraining;
  m.started_at = m.phase_at = m.written_at = Clock::time_point(std::chrono::seconds(1'800'000'000));
  m.evicted_at = m.started_at + std::chrono::seconds(10);
  m.disrupts = {"batch/a", "batch/b"};
  auto back = decode_mark(encode_mark(m));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->phase, Phase::kDraining);
  EXPECT_EQ(back->disrupts, m.disrupts);
  EXPECT_EQ(back->evicted_at, m.evicted_at);
  // Not draining: neither field is written.
  m.phase = Phase::kApplying;
  m.disrupts.clear();
  m.evicted_at = {};
  auto json = nlohmann::json::parse(encode_mark(m));
  EXPECT_FALSE(json.contains("disrupts"));
  EXPECT_FALSE(json.contains("evictedAt"));
  EXPECT_FALSE(decode_mark(R"({"configName":"a","kind":"mig","phase":"draining",
      "startedAt":"2027-01-15T08:00:00Z","phaseAt":"2027-01-15T08:00:00Z",
      "writtenAt":"2027-01-15T08:00:00Z","evictedAt":"yesterday"})")
                   .ok());
}

TEST(Mark, RejectsWhatItDidNotWrite) {
  EXPECT_FALSE(decode_mark("gpushare-h20-7x1g12").ok());
  EXPECT_FALSE(decode_mark("{}").ok());
  EXPECT_FALSE(
      decode_mark(
          R"({"configName":"a","kind":"mig","phase":"dancing","startedAt":"2027-01-15T08:00:00Z",
                              "phaseAt":"2027-01-15T08:00:00Z","writtenAt":"2027-01-15T08:00:00Z"})")
          .ok());
  EXPECT_FALSE(
      decode_mark(
          R"({"configName":"a","kind":"gpu","phase":"applying","startedAt":"2027-01-15T08:00:00Z",
                              "phaseAt":"2027-01-15T08:00:00Z","writtenAt":"2027-01-15T08:00:00Z"})")
          .ok());
}

}  // namespace
}  // namespace gpushare::repartition
