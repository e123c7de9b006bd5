// `gpushare dra-classes`: DeviceClass YAML from the catalog, and the shipped overlay's copy of it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "cli_run.h"
#include "test/support/fixtures.h"

namespace gpushare::server {
namespace {

using testing::cli;

TEST(DraClasses, EveryDocumentIsADeviceClassWithItsExtendedResource) {
  const auto r = cli({"dra-classes"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto docs = YAML::LoadAll(r.out);
  ASSERT_GT(docs.size(), 20U);
  for (const auto& d : docs) {
    EXPECT_EQ(d["apiVersion"].as<std::string>(), "resource.k8s.io/v1");
    EXPECT_EQ(d["kind"].as<std::string>(), "DeviceClass");
    const std::string resource = d["spec"]["extendedResourceName"].as<std::string>();
    EXPECT_EQ("gpushare-" + resource.substr(std::string("nvidia.com/").size()),
              d["metadata"]["name"].as<std::string>());
    const std::string profile =
        d["metadata"]["annotations"]["gpushare.io/mig-profile"].as<std::string>();
    EXPECT_THAT(d["spec"]["selectors"][0]["cel"]["expression"].as<std::string>(),
                ::testing::EndsWith(".profile == '" + profile + "'"));
  }
}

TEST(DraClasses, TheOverlayAndTheChartShipWhatTheBuiltInCatalogGives) {
  const std::string generated = cli({"dra-classes"}).out;
  for (const char* shipped_at : {"manifests/overlays/dra/deviceclasses.yaml",
                                 "charts/gpushare/files/dra-deviceclasses.yaml"}) {
    const std::string path = gpushare::testing::fixture_path(std::string("../../") + shipped_at);
    std::ifstream file(path);
    ASSERT_TRUE(file) << path;
    std::stringstream shipped;
    shipped << file.rdbuf();
    EXPECT_EQ(generated, shipped.str())
        << "regenerate it: build/gpushare dra-classes > " << shipped_at;
  }
}

TEST(DraClasses, ABadCatalogIsRefused) {
  const auto r = cli({"dra-classes", "--catalog", "/nonexistent/catalog.yaml"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, ::testing::HasSubstr("dra-classes"));
}

}  // namespace
}  // namespace gpushare::server
