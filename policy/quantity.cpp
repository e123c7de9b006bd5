// Kubernetes quantities, parsed exactly (k8s.io/apimachinery/pkg/api/resource, quantity.go).
//
// Grammar (the comment on resource.Quantity):
//   <quantity>     ::= <sign><number><suffix>
//   <sign>         ::= "" | "+" | "-"
//   <number>       ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
//   <suffix>       ::= <binarySI> | <decimalSI> | <decimalExponent>
//   <binarySI>     ::= Ki | Mi | Gi | Ti | Pi | Ei
//   <decimalSI>    ::= n | u | m | "" | k | M | G | T | P | E
//   <decimalExp>   ::= e <signed integer> | E <signed integer>
// "1E" is exa (10^18); "1e" alone is no quantity. "1K", "1GiB", "1 Gi" are errors, as in
// Kubernetes.
//
// Precision: the value is held as milli-units in int64. Like Kubernetes, which rounds the
// magnitude UP when a value is finer than it can store, a nonzero value finer than 1m is
// rounded up (away from zero) to the next milli: "1n" and "0.0001" are 1m, "-1n" is -1m.
// Values too large for int64 milli-units (about 9.2e15 units) are errors, never clamped.
//
// Method: the digits are kept as a decimal string D with value D * 10^e10 * 2^e2. Binary
// suffixes multiply D by 2 (digit by digit, so any length works); the power of ten is then
// applied by moving the decimal point. Only the final integer is converted, with overflow
// checks, so no intermediate can overflow and there is no floating point.
#include "policy/quantity.h"

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpushare::policy {
namespace {

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Error quantity_error(std::string_view text, std::string_view why) {
  return Error{"quantity \"" + std::string(text) + "\": " + std::string(why)};
}

struct Suffix {
  std::string_view name;
  int exp10;
  int exp2;
};

// Kubernetes' suffix tables (suffix.go): binary powers of 1024, decimal powers of 1000.
constexpr std::array<Suffix, 15> kSuffixes{{
    {"Ki", 0, 10},
    {"Mi", 0, 20},
    {"Gi", 0, 30},
    {"Ti", 0, 40},
    {"Pi", 0, 50},
    {"Ei", 0, 60},
    {"n", -9, 0},
    {"u", -6, 0},
    {"m", -3, 0},
    {"k", 3, 0},
    {"M", 6, 0},
    {"G", 9, 0},
    {"T", 12, 0},
    {"P", 15, 0},
    {"E", 18, 0},
}};

// Parses the exponent of "e3" / "E-2" / "e+3". Exponents beyond 9 digits are refused: any
// nonzero value would overflow (or round to 1m), and Kubernetes refuses most of them too.
bool parse_exponent(std::string_view s, int& out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 9) return false;
  int value = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    value = value * 10 + (c - '0');
  }
  out = negative ? -value : value;
  return true;
}

// Decimal digits, least significant first, multiplied in place by 2^exp2.
void multiply_by_power_of_two(std::vector<std::uint8_t>& little_endian, int exp2) {
  for (int i = 0; i < exp2; ++i) {
    int carry = 0;
    for (auto& d : little_endian) {
      int v = d * 2 + carry;
      d = static_cast<std::uint8_t>(v % 10);
      carry = v / 10;
    }
    if (carry != 0) little_endian.push_back(static_cast<std::uint8_t>(carry));
  }
}

// The digits (most significant first) as an unsigned integer; false when it exceeds int64.
bool to_int64(const std::vector<std::uint8_t>& big_endian, std::uint64_t& out) {
  std::uint64_t v = 0;
  for (auto d : big_endian) {
    if (__builtin_mul_overflow(v, std::uint64_t{10}, &v)) return false;
    if (__builtin_add_overflow(v, std::uint64_t{d}, &v)) return false;
  }
  if (v > static_cast<std::uint64_t>(kInt64Max)) return false;
  out = v;
  return true;
}

}  // namespace

std::int64_t Quantity::ceil_units() const {
  // Integer division truncates toward zero: that is the ceiling for negative values already.
  std::int64_t units = milli / 1000;
  if (milli % 1000 > 0) ++units;
  return units;
}

Result<Quantity> parse_quantity(std::string_view text) {
  if (text.empty()) return quantity_error(text, "empty; expected a number such as 20Gi or 500m");

  std::size_t pos = 0;
  bool negative = false;
  if (text[pos] == '+' || text[pos] == '-') {
    negative = text[pos] == '-';
    ++pos;
  }
  const std::size_t int_begin = pos;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  std::string_view int_digits = text.substr(int_begin, pos - int_begin);
  std::string_view frac_digits;
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t frac_begin = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    frac_digits = text.substr(frac_begin, pos - frac_begin);
  }
  if (int_digits.empty() && frac_digits.empty()) {
    return quantity_error(text, "expected digits (a number such as 20Gi or 500m)");
  }

  // Suffix: everything after the number, matched whole.
  const std::string_view suffix = text.substr(pos);
  int exp10 = 0;
  int exp2 = 0;
  bool known = suffix.empty();
  for (const auto& s : kSuffixes) {
    if (suffix == s.name) {
      exp10 = s.exp10;
      exp2 = s.exp2;
      known = true;
    }
  }
  if (!known && suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    known = parse_exponent(suffix.substr(1), exp10);
  }
  if (!known) {
    return quantity_error(text, "unknown suffix \"" + std::string(suffix) +
                                    "\" (allowed: Ki Mi Gi Ti Pi Ei, n u m k M G T P E, "
                                    "or a decimal exponent such as e3)");
  }

  // value = digits * 10^(exp10 - |fraction|) * 2^exp2; in milli-units, 3 more powers of ten.
  std::string digits;
  digits.reserve(int_digits.size() + frac_digits.size());
  digits.append(int_digits).append(frac_digits);
  std::int64_t point = std::int64_t{exp10} + 3 - static_cast<std::int64_t>(frac_digits.size());

  const auto first = digits.find_first_not_of('0');
  if (first == std::string::npos) return Quantity{0};  // "0", "-0.000", "0Gi"
  const auto last = digits.find_last_not_of('0');
  point += static_cast<std::int64_t>(digits.size() - 1 - last);
  digits = digits.substr(first, last - first + 1);

  std::vector<std::uint8_t> little_endian(digits.rbegin(), digits.rend());
  for (auto& d : little_endian) d = static_cast<std::uint8_t>(d - '0');
  multiply_by_power_of_two(little_endian, exp2);
  std::vector<std::uint8_t> n(little_endian.rbegin(),
                              little_endian.rend());  // nonzero, no leading 0

  const Error too_large = quantity_error(
      text,
      "too large: quantities are held exactly in milli-units and must stay below about "
      "9.2e15 (8Pi)");
  std::uint64_t magnitude = 0;
  if (point >= 0) {
    // n * 10^point >= 10^(len-1+point): 19 or more digits cannot fit int64 (max ~9.2e18).
    if (static_cast<std::int64_t>(n.size()) + point > 19) return too_large;
    n.insert(n.end(), static_cast<std::size_t>(point), 0);
    if (!to_int64(n, magnitude)) return too_large;
  } else {
    // Drop the digits finer than 1m; if any was nonzero, round the magnitude up.
    const std::size_t dropped = static_cast<std::size_t>(-point);
    bool remainder = false;
    std::vector<std::uint8_t> whole;
    if (dropped >= n.size()) {
      remainder = true;  // n is nonzero and entirely below 1m
    } else {
      whole.assign(n.begin(), n.end() - static_cast<std::ptrdiff_t>(dropped));
      for (auto it = n.end() - static_cast<std::ptrdiff_t>(dropped); it != n.end(); ++it) {
        remainder = remainder || *it != 0;
      }
    }
    if (!to_int64(whole, magnitude)) return too_large;
    if (remainder && ++magnitude > static_cast<std::uint64_t>(kInt64Max)) return too_large;
  }
  const auto value = static_cast<std::int64_t>(magnitude);
  return Quantity{negative ? -value : value};
}

std::string format_bytes(std::int64_t bytes) {
  if (bytes == 0) return "0";
  // Work on the magnitude as unsigned so that INT64_MIN (-8Ei) needs no special case.
  const bool negative = bytes < 0;
  const std::uint64_t magnitude = negative ? std::uint64_t{0} - static_cast<std::uint64_t>(bytes)
                                           : static_cast<std::uint64_t>(bytes);
  const std::string sign = negative ? "-" : "";

  static constexpr std::array<std::pair<std::string_view, int>, 6> kBinary{
      {{"Ei", 60}, {"Pi", 50}, {"Ti", 40}, {"Gi", 30}, {"Mi", 20}, {"Ki", 10}}};
  for (const auto& [unit, shift] : kBinary) {
    const std::uint64_t size = std::uint64_t{1} << shift;
    if (magnitude % size == 0) return sign + std::to_string(magnitude / size) + std::string(unit);
  }
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 3> kDecimal{
      {{"G", 1000000000ULL}, {"M", 1000000ULL}, {"k", 1000ULL}}};
  for (const auto& [unit, size] : kDecimal) {
    if (magnitude % size == 0) return sign + std::to_string(magnitude / size) + std::string(unit);
  }
  return sign + std::to_string(magnitude);
}

}  // namespace gpushare::policy
