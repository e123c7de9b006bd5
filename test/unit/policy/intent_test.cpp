// CONTRACT.md section 3: the annotation table and rule 6 (errors name key, value, allowed).
#include "policy/intent.h"

#include <gtest/gtest.h>

namespace gpushare::policy {
namespace {

const ProfileLister kProfiles = [] {
  return std::vector<std::string>{"1g.12gb", "1g.24gb", "3g.48gb", "1g.10gb+me"};
};

Result<Intent> parse(StringMap annotations) {
  return parse_intent(annotations, "gpushare.io/", kProfiles);
}

TEST(Intent, NoAnnotationsIsNotPresent) {
  auto i = parse({{"other.io/x", "1"}});
  ASSERT_TRUE(i.ok());
  EXPECT_FALSE(i->present);
  EXPECT_EQ(i->mode, ShareMode::kAuto);
}

TEST(Intent, ModeDefaultsToAutoWhenAnotherKeyIsPresent) {
  auto i = parse({{"gpushare.io/gpu-memory", "20Gi"}});
  ASSERT_TRUE(i.ok());
  EXPECT_TRUE(i->present);
  EXPECT_FALSE(i->mode_given);
  EXPECT_EQ(i->mode, ShareMode::kAuto);
  EXPECT_EQ(i->gpu_memory_bytes, 21474836480);
}

TEST(Intent, MigProfileImpliesMig) {
  auto i = parse({{"gpushare.io/mig-profile", "1g.10gb+me"}});
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->mode, ShareMode::kMig);
  EXPECT_EQ(i->mig_profile, "1g.10gb+me");
}

TEST(Intent, AssignedResourceAloneIsNotIntent) {
  auto i = parse({{"gpushare.io/assigned-resource", "nvidia.com/gpu.shared"}});
  ASSERT_TRUE(i.ok());
  EXPECT_FALSE(i->present);
}

TEST(Intent, ValidValues) {
  auto i = parse({{"gpushare.io/mode", "mig"},
                  {"gpushare.io/gpu-compute", "25"},
                  {"gpushare.io/gpu-product", "NVIDIA-H20, NVIDIA-H100-80GB-HBM3"},
                  {"gpushare.io/placement", "spread"},
                  {"gpushare.io/gpu-memory", "12000Mi"}});
  ASSERT_TRUE(i.ok()) << i.error();
  EXPECT_EQ(i->mode, ShareMode::kMig);
  EXPECT_EQ(i->gpu_compute_percent, 25);
  EXPECT_EQ(i->gpu_products, (std::vector<std::string>{"NVIDIA-H20", "NVIDIA-H100-80GB-HBM3"}));
  EXPECT_EQ(i->placement, PlacementPolicy::kSpread);
  EXPECT_EQ(i->gpu_memory_bytes, 12000LL * 1024 * 1024);
}

struct BadCase {
  const char* name;
  StringMap annotations;
  std::vector<std::string> message_contains;
};

class IntentErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(IntentErrors, NameKeyValueAndWhatIsAllowed) {
  const auto& c = GetParam();
  auto i = parse(c.annotations);
  ASSERT_FALSE(i.ok());
  for (const auto& part : c.message_contains)
    EXPECT_NE(i.error().find(part), std::string::npos) << i.error();
}

INSTANTIATE_TEST_SUITE_P(
    Rule6, IntentErrors,
    ::testing::Values(BadCase{"UnknownKey",
                              {{"gpushare.io/memory", "20Gi"}},
                              {"gpushare.io/memory", "20Gi", "gpushare.io/gpu-memory"}},
                      BadCase{"BadMode",
                              {{"gpushare.io/mode", "shared"}},
                              {"gpushare.io/mode", "shared", "mps, mig, auto"}},
                      BadCase{"UnknownProfile",
                              {{"gpushare.io/mig-profile", "1g.11gb"}},
                              {"gpushare.io/mig-profile", "1g.11gb", "1g.12gb"}},
                      BadCase{"BadMemory",
                              {{"gpushare.io/gpu-memory", "20GB"}},
                              {"gpushare.io/gpu-memory", "20GB", "20Gi"}},
                      BadCase{"ZeroMemory",
                              {{"gpushare.io/gpu-memory", "0"}},
                              {"gpushare.io/gpu-memory", "greater than zero"}},
                      BadCase{"ComputeZero",
                              {{"gpushare.io/gpu-compute", "0"}},
                              {"gpushare.io/gpu-compute", "\"0\"", "1 to 100"}},
                      BadCase{"Compute101",
                              {{"gpushare.io/gpu-compute", "101"}},
                              {"gpushare.io/gpu-compute", "101", "1 to 100"}},
                      BadCase{"ComputePercentSign",
                              {{"gpushare.io/gpu-compute", "50%"}},
                              {"gpushare.io/gpu-compute", "50%"}},
                      BadCase{"EmptyProduct",
                              {{"gpushare.io/gpu-product", "NVIDIA-H20,,"}},
                              {"gpushare.io/gpu-product", "empty entry"}},
                      BadCase{"BadPlacement",
                              {{"gpushare.io/placement", "pack"}},
                              {"gpushare.io/placement", "pack", "binpack, spread"}},
                      BadCase{"MpsWithProfile",
                              {{"gpushare.io/mode", "mps"}, {"gpushare.io/mig-profile", "1g.12gb"}},
                              {"gpushare.io/mode=mps", "gpushare.io/mig-profile=1g.12gb",
                               "contradict"}},
                      BadCase{"SeveralErrorsReportedTogether",
                              {{"gpushare.io/mode", "x"}, {"gpushare.io/placement", "y"}},
                              {"gpushare.io/mode", "gpushare.io/placement"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Intent, CustomPrefix) {
  auto i = parse_intent({{"gpu.example.com/mode", "mps"}, {"gpushare.io/mode", "bogus"}},
                        "gpu.example.com/", kProfiles);
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->mode, ShareMode::kMps);
}

}  // namespace
}  // namespace gpushare::policy
