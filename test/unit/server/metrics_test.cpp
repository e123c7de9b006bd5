#include "server/metrics.h"

#include <gtest/gtest.h>

namespace gpushare::server {
namespace {

TEST(Metrics, CountersAndHistogramsRenderInTextFormat) {
  Metrics m;
  m.inc("gpushare_http_requests_total", {{"route", "/mutate"}, {"code", "200"}});
  m.inc("gpushare_http_requests_total", {{"route", "/mutate"}, {"code", "200"}});
  m.observe("gpushare_http_request_duration_seconds", {{"route", "/mutate"}}, 0.0003);
  m.gauge_fn("gpushare_cache_nodes", "Nodes in the cache.", [] { return 7.0; });
  auto text = m.render();
  EXPECT_NE(text.find("# TYPE gpushare_http_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("gpushare_http_requests_total{code=\"200\",route=\"/mutate\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          "gpushare_http_request_duration_seconds_bucket{route=\"/mutate\",le=\"0.00025\"} 0"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("gpushare_http_request_duration_seconds_bucket{route=\"/mutate\",le=\"0.0005\"} 1"),
      std::string::npos);
  EXPECT_NE(
      text.find("gpushare_http_request_duration_seconds_bucket{route=\"/mutate\",le=\"+Inf\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("gpushare_http_request_duration_seconds_count{route=\"/mutate\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("gpushare_cache_nodes 7"), std::string::npos);
}

TEST(Metrics, HistogramsWithTheirOwnBuckets) {
  Metrics m;
  m.describe_histogram("wait_seconds", "Waits.", {10, 60, 600});
  m.observe("wait_seconds", {}, 45);
  m.observe("wait_seconds", {}, 700);
  const auto text = m.render();
  EXPECT_NE(text.find("# TYPE wait_seconds histogram"), std::string::npos) << text;
  EXPECT_NE(text.find("wait_seconds_bucket{le=\"10\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("wait_seconds_bucket{le=\"60\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("wait_seconds_bucket{le=\"600\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("wait_seconds_bucket{le=\"+Inf\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("wait_seconds_sum 745"), std::string::npos) << text;
  // Other histograms keep the request-latency buckets.
  m.observe("other_seconds", {}, 0.0003);
  EXPECT_NE(m.render().find("other_seconds_bucket{le=\"0.0005\"} 1"), std::string::npos);
  EXPECT_EQ(m.render().find("other_seconds_bucket{le=\"600\"}"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics m;
  m.inc("x_total", {{"rule", "a \"quoted\"\\rule\n"}});
  EXPECT_NE(m.render().find(R"(x_total{rule="a \"quoted\"\\rule\n"} 1)"), std::string::npos)
      << m.render();
}

}  // namespace
}  // namespace gpushare::server
