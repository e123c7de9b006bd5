#include "kube/count.h"

#include <cctype>
#include <limits>
#include <string>

namespace gpushare::kube {
namespace {

// Digits up to 36 fit; every step checks against int64 anyway. __extension__: -Wpedantic.
__extension__ typedef __int128 Wide;
constexpr Wide kMax = std::numeric_limits<std::int64_t>::max();

struct Scale {
  int base = 10;  // 10 or 2
  int power = 0;
};

std::optional<Scale> suffix_scale(std::string_view s) {
  if (s.empty()) return Scale{10, 0};
  if (s == "n") return Scale{10, -9};
  if (s == "u") return Scale{10, -6};
  if (s == "m") return Scale{10, -3};
  if (s == "k") return Scale{10, 3};
  if (s == "M") return Scale{10, 6};
  if (s == "G") return Scale{10, 9};
  if (s == "T") return Scale{10, 12};
  if (s == "P") return Scale{10, 15};
  if (s == "E") return Scale{10, 18};
  if (s == "Ki") return Scale{2, 10};
  if (s == "Mi") return Scale{2, 20};
  if (s == "Gi") return Scale{2, 30};
  if (s == "Ti") return Scale{2, 40};
  if (s == "Pi") return Scale{2, 50};
  if (s == "Ei") return Scale{2, 60};
  if ((s[0] == 'e' || s[0] == 'E') && s.size() > 1) {
    std::string_view digits = s.substr(1);
    bool negative = digits[0] == '-';
    if (digits[0] == '+' || digits[0] == '-') digits.remove_prefix(1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    int power = 0;
    for (char c : digits) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      power = power * 10 + (c - '0');
    }
    return Scale{10, negative ? -power : power};
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::int64_t> parse_count(std::string_view q) {
  if (!q.empty() && q[0] == '+') q.remove_prefix(1);
  Wide mantissa = 0;
  int fraction_digits = 0;
  int digits = 0;
  bool in_fraction = false;
  std::size_t i = 0;
  for (; i < q.size(); ++i) {
    char c = q[i];
    if (c == '.' && !in_fraction) {
      in_fraction = true;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    if (++digits > 36) return std::nullopt;
    mantissa = mantissa * 10 + (c - '0');
    if (in_fraction) ++fraction_digits;
  }
  if (digits == 0) return std::nullopt;
  auto scale = suffix_scale(q.substr(i));
  if (!scale) return std::nullopt;

  // value = mantissa * base^power / 10^fraction_digits, and it must come out whole.
  if (scale->base == 2) {
    for (int p = 0; p < scale->power; ++p) {
      mantissa *= 2;
      if (mantissa > kMax * 1000000000000000000LL) return std::nullopt;
    }
  } else {
    fraction_digits -= scale->power;
  }
  for (; fraction_digits < 0; ++fraction_digits) {
    mantissa *= 10;
    if (mantissa > kMax) return std::nullopt;
  }
  for (; fraction_digits > 0; --fraction_digits) {
    if (mantissa % 10 != 0) return std::nullopt;
    mantissa /= 10;
  }
  if (mantissa > kMax) return std::nullopt;
  return static_cast<std::int64_t>(mantissa);
}

}  // namespace gpushare::kube
