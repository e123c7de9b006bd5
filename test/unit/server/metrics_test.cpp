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
  EXPECT_NE(text.find("gpushare_http_requests_total{code=\"200\",route=\"/mutate\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("gpushare_http_request_duration_seconds_bucket{route=\"/mutate\",le=\"0.00025\"} 0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("gpushare_http_request_duration_seconds_bucket{route=\"/mutate\",le=\"0.0005\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("gpushare_http_request_duration_seconds_bucket{route=\"/mutate\",le=\"+Inf\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("gpushare_http_request_duration_seconds_count{route=\"/mutate\"} 1"), std::string::npos);
  EXPECT_NE(text.find("gpushare_cache_nodes 7"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics m;
  m.inc("x_total", {{"rule", "a \"quoted\"\\rule\n"}});
  EXPECT_NE(m.render().find(R"(x_total{rule="a \"quoted\"\\rule\n"} 1)"), std::string::npos) << m.render();
}

}  // namespace
}  // namespace gpushare::server
