// policy/quantity: the Kubernetes quantity grammar, exact milli-unit arithmetic, rounding of
// values finer than 1m, overflow as an error, and format_bytes.
#include "policy/quantity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace gpushare::policy {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kKi = 1024;
constexpr std::int64_t kMi = kKi * 1024;
constexpr std::int64_t kGi = kMi * 1024;
constexpr std::int64_t kTi = kGi * 1024;
constexpr std::int64_t kPi = kTi * 1024;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

struct ValidCase {
  std::string name;
  std::string text;
  std::int64_t milli;
};

TEST(ParseQuantity, ValidQuantitiesAreExactInMilliUnits) {
  const std::vector<ValidCase> cases = {
      {"zero", "0", 0},
      {"plain integer", "1", 1000},
      {"leading zeros", "00012", 12000},
      {"plus sign", "+5", 5000},
      {"negative", "-3", -3000},
      {"negative binary", "-1Gi", -kGi * 1000},
      {"negative zero", "-0", 0},
      {"zero with fraction and suffix", "0.000Gi", 0},
      {"contract example 20Gi", "20Gi", 20 * kGi * 1000},
      {"contract example 12000Mi", "12000Mi", 12000 * kMi * 1000},
      {"decimal fraction with G", "1.5G", 1500000000LL * 1000},
      {"milli", "500m", 500},
      {"exponent", "1e3", 1000 * 1000},
      {"capital exponent", "1E3", 1000 * 1000},
      {"exponent with plus", "1e+3", 1000 * 1000},
      {"negative exponent", "1e-3", 1},
      {"fraction with exponent", "1.5e3", 1500 * 1000},
      {"binary fraction", "0.5Gi", kGi / 2 * 1000},
      {"binary fraction below a unit", "0.1Ki", 102400},
      {"trailing dot", "1.", 1000},
      {"leading dot", ".5", 500},
      {"fraction", "1.5", 1500},
      {"Ki", "1Ki", kKi * 1000},
      {"Mi", "3Mi", 3 * kMi * 1000},
      {"Ti", "1Ti", kTi * 1000},
      {"Pi", "1Pi", kPi * 1000},
      {"largest binary that fits", "8Pi", 8 * kPi * 1000},
      {"k", "2k", 2000 * 1000},
      {"M", "2M", 2000000LL * 1000},
      {"T", "1T", 1000000000000LL * 1000},
      {"P", "1P", 1000000000000000LL * 1000},
      {"micro exact milli", "2000u", 2},
      {"nano exact milli", "2000000n", 2},
      {"exponent 15", "1e15", 1000000000000000LL * 1000},
      {"int64 max milli", "9223372036854775807m", kMax},
      {"many fraction digits, exact", "1.500000000000000000000000", 1500},
      {"many digits with negative exponent", "123456789000000000000000000000e-27", 123457},
      // Finer than 1m: rounded up (away from zero) to the next milli, as Kubernetes rounds up.
      {"one nano rounds up", "1n", 1},
      {"one micro rounds up", "1u", 1},
      {"tenth of a milli rounds up", "0.0001", 1},
      {"just above a milli rounds up", "1001u", 2},
      {"long fraction rounds up", "1.000000000000000000000000001", 1001},
      {"tiny exponent rounds up", "1e-999999999", 1},
      {"binary fraction rounds up", "0.0001Ki", 103},
      {"negative rounds away from zero", "-1n", -1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + ": \"" + c.text + "\"");
    const auto q = parse_quantity(c.text);
    ASSERT_TRUE(q.ok()) << q.error();
    EXPECT_EQ(q->milli, c.milli);
  }
}

TEST(ParseQuantity, ContractExamplesInBytes) {
  EXPECT_EQ(parse_quantity("20Gi")->ceil_units(), 21474836480);
  EXPECT_EQ(parse_quantity("12000Mi")->ceil_units(), 12582912000);
  EXPECT_EQ(parse_quantity("1.5G")->ceil_units(), 1500000000);
  EXPECT_EQ(parse_quantity("0.5Gi")->ceil_units(), 536870912);
}

struct CeilCase {
  std::string name;
  std::int64_t milli;
  std::int64_t units;
  bool integer;
};

TEST(Quantity, CeilUnitsAndIsInteger) {
  const std::vector<CeilCase> cases = {
      {"zero", 0, 0, true},
      {"half", 500, 1, false},
      {"one milli", 1, 1, false},
      {"whole", 3000, 3, true},
      {"just above", 3001, 4, false},
      {"negative half", -500, 0, false},
      {"negative whole", -2000, -2, true},
      {"negative fraction", -2500, -2, false},
      {"max", kMax, kMax / 1000 + 1, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Quantity q{c.milli};
    EXPECT_EQ(q.ceil_units(), c.units);
    EXPECT_EQ(q.is_integer(), c.integer);
  }
}

struct ErrorCase {
  std::string name;
  std::string text;
  std::string why;  // a substring of the message
};

TEST(ParseQuantity, MalformedTextIsAnErrorNamingTheText) {
  const std::vector<ErrorCase> cases = {
      {"empty", "", "empty"},
      {"suffix only", "Gi", "expected digits"},
      {"two dots", "1.2.3", "unknown suffix \".3\""},
      {"space before suffix", "1 Gi", "unknown suffix \" Gi\""},
      {"leading space", " 1", "expected digits"},
      {"trailing space", "1 ", "unknown suffix"},
      {"double sign", "--1", "expected digits"},
      {"sign only", "-", "expected digits"},
      {"dot only", ".", "expected digits"},
      {"bytes suffix", "1GiB", "unknown suffix \"GiB\""},
      {"lone e", "1e", "unknown suffix \"e\""},
      {"exponent without digits", "1e+", "unknown suffix"},
      {"fractional exponent", "1e1.5", "unknown suffix"},
      {"capital K is not Kubernetes", "1K", "unknown suffix \"K\""},
      {"lowercase ki", "1ki", "unknown suffix \"ki\""},
      {"mi is not a suffix", "1mi", "unknown suffix"},
      {"hex", "0x10", "unknown suffix"},
      {"letters", "abc", "expected digits"},
      {"exponent then suffix", "1e3Gi", "unknown suffix"},
      {"exponent too long", "1e1000000000", "unknown suffix"},
      {"overflow plain", "9999999999999999999", "too large"},
      {"overflow after milli", "9223372036854776", "too large"},
      {"overflow by one milli", "9223372036854775808m", "too large"},
      {"overflow exa", "1E", "too large"},
      {"overflow Ei", "1Ei", "too large"},
      {"overflow 9Pi", "9Pi", "too large"},
      {"overflow exponent", "1e16", "too large"},
      {"overflow huge exponent", "1e999999999", "too large"},
      {"overflow negative", "-9999999999999999999", "too large"},
      {"overflow by rounding up", "9223372036854775807.5m", "too large"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + ": \"" + c.text + "\"");
    const auto q = parse_quantity(c.text);
    ASSERT_FALSE(q.ok()) << "parsed as " << q->milli;
    EXPECT_THAT(q.error(), HasSubstr("\"" + c.text + "\""));
    EXPECT_THAT(q.error(), HasSubstr(c.why));
  }
}

struct FormatCase {
  std::string name;
  std::int64_t bytes;
  std::string text;
};

TEST(FormatBytes, LargestBinaryUnitThenDecimalThenPlain) {
  const std::vector<FormatCase> cases = {
      {"zero", 0, "0"},
      {"20Gi", 21474836480, "20Gi"},
      {"12000Mi", 12582912000, "12000Mi"},
      {"Ki", 1024, "1Ki"},
      {"Ti", kTi, "1Ti"},
      {"Ei", kPi * 1024, "1Ei"},
      {"not a whole Ki", 1536, "1536"},
      {"decimal G", 1000000000, "1G"},
      {"decimal M", 1500000000, "1500M"},
      {"decimal k", 1000, "1k"},
      {"plain", 7, "7"},
      {"negative binary", -kGi, "-1Gi"},
      {"int64 min", std::numeric_limits<std::int64_t>::min(), "-8Ei"},
      {"int64 max", kMax, "9223372036854775807"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(format_bytes(c.bytes), c.text);
  }
}

TEST(FormatBytes, RoundTripsThroughParseQuantity) {
  const std::vector<std::int64_t> values = {
      1, 999, 1000, 1024, 4096, 1500000000, 21474836480, 12582912000, 8 * kPi, -5 * kMi, 123456789};
  for (std::int64_t v : values) {
    SCOPED_TRACE(v);
    const auto q = parse_quantity(format_bytes(v));
    ASSERT_TRUE(q.ok()) << q.error();
    EXPECT_EQ(q->ceil_units(), v);
    EXPECT_TRUE(q->is_integer());
  }
}

}  // namespace
}  // namespace gpushare::policy
