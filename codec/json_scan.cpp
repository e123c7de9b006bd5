#include "codec/json_scan.h"

#include <locale.h>  // newlocale, strtod_l: strtod as the C locale reads it, whatever the process's

#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace gpushare::codec::json_scan {
namespace {

constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighs = 0x8080808080808080ULL;

// A byte that a string may hold as itself: printable ASCII other than '"' and '\\'.
inline bool plain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

// The first byte at or after `p` that is not plain. Most of a pod's strings (names, images, env
// values) are runs of plain ASCII: sixteen bytes at a time with SSE2 (every x86-64 has it), else
// eight at a time in a word; the byte loop finds which byte stopped the block.
inline const char* skip_plain(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // As signed bytes, "below 0x20" holds the control characters and every byte >= 0x80.
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                     _mm_cmplt_epi8(v, space));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    const std::uint64_t quote = w ^ (kOnes * '"');
    const std::uint64_t backslash = w ^ (kOnes * '\\');
    // Exact "has a byte that is zero" / "has a byte below 0x20" tests, and the high bit for
    // non-ASCII.
    const std::uint64_t special = ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) |
                                  ((w - kOnes * 0x20) & ~w) | w;
    if ((special & kHighs) != 0) break;
    p += 8;
  }
  while (p < end && plain(static_cast<unsigned char>(*p))) ++p;
  return p;
}

inline bool continuation(const char* p, const char* end) {
  return p < end && (static_cast<unsigned char>(*p) & 0xC0) == 0x80;
}
inline bool in_range(const char* p, const char* end, unsigned char lo, unsigned char hi) {
  if (p >= end) return false;
  const auto c = static_cast<unsigned char>(*p);
  return c >= lo && c <= hi;
}

// One well-formed UTF-8 sequence of 2 to 4 bytes at `p` (RFC 3629, table 3-7 of Unicode): no
// overlong forms, no UTF-16 surrogates, nothing above U+10FFFF. Its end, or nullptr.
const char* skip_utf8(const char* p, const char* end) {
  const auto c = static_cast<unsigned char>(*p);
  if (c >= 0xC2 && c <= 0xDF) return continuation(p + 1, end) ? p + 2 : nullptr;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return in_range(p + 1, end, lo, hi) && continuation(p + 2, end) ? p + 3 : nullptr;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return in_range(p + 1, end, lo, hi) && continuation(p + 2, end) && continuation(p + 3, end)
               ? p + 4
               : nullptr;
  }
  return nullptr;  // a continuation byte first, C0/C1 (always overlong), or F5..FF
}

inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits at `p` as a code unit, or -1.
inline int hex4(const char* p, const char* end) {
  if (end - p < 4) return -1;
  int value = 0;
  for (int i = 0; i < 4; ++i) {
    const int d = hex_digit(p[i]);
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

// The escape after a backslash at `p - 1`: its end, or nullptr. A high surrogate must be followed
// by an escaped low one, and a low one may not come alone, as nlohmann's lexer requires.
const char* skip_escape(const char* p, const char* end) {
  if (p == end) return nullptr;
  switch (*p) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      return p + 1;
    case 'u': {
      const int unit = hex4(p + 1, end);
      if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return nullptr;
      if (unit < 0xD800 || unit > 0xDBFF) return p + 5;
      if (end - p < 7 || p[5] != '\\' || p[6] != 'u') return nullptr;
      const int low = hex4(p + 7, end);
      return low >= 0xDC00 && low <= 0xDFFF ? p + 11 : nullptr;
    }
    default:
      return nullptr;
  }
}

void append_utf8(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// strtod as nlohmann calls it (it swaps '.' for the locale's decimal point first, which is the
// same as reading in the C locale), on a NUL-terminated copy of the token.
double c_strtod(std::string_view token) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
  char small[64];
  std::string large;
  const char* text = small;
  if (token.size() < sizeof small) {
    std::memcpy(small, token.data(), token.size());
    small[token.size()] = '\0';
  } else {
    large.assign(token);
    text = large.c_str();
  }
  return strtod_l(text, nullptr, c_locale);
}

// Kinds of open container while skipping: one bit per level (1: object), kept inline for the
// usual depths so that skipping allocates nothing.
class LevelStack {
 public:
  void push(bool object) {
    const std::size_t word = size_ / 64;
    if (word >= kInline && spill_.size() <= word - kInline) spill_.push_back(0);
    std::uint64_t& bits = word < kInline ? inline_[word] : spill_[word - kInline];
    const std::uint64_t bit = std::uint64_t{1} << (size_ % 64);
    bits = object ? (bits | bit) : (bits & ~bit);
    ++size_;
  }
  void pop() { --size_; }
  std::size_t size() const { return size_; }
  bool top_is_object() const {
    const std::size_t i = size_ - 1, word = i / 64;
    const std::uint64_t bits = word < kInline ? inline_[word] : spill_[word - kInline];
    return ((bits >> (i % 64)) & 1) != 0;
  }

 private:
  static constexpr std::size_t kInline = 4;
  std::uint64_t inline_[kInline] = {};
  std::vector<std::uint64_t> spill_;
  std::size_t size_ = 0;
};

}  // namespace

const char* skip_string(const char* p, const char* end, bool& escaped) {
  for (;;) {
    p = skip_plain(p, end);
    if (p == end) return nullptr;
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') return p + 1;
    if (c == '\\') {
      escaped = true;
      p = skip_escape(p + 1, end);
    } else if (c < 0x20) {
      return nullptr;
    } else {
      p = skip_utf8(p, end);
    }
    if (p == nullptr) return nullptr;
  }
}

void decode_escaped(std::string_view body, std::string& out) {
  out.reserve(out.size() + body.size());
  const char* p = body.data();
  const char* end = p + body.size();
  while (p < end) {
    const char* backslash = static_cast<const char*>(std::memchr(p, '\\', end - p));
    if (backslash == nullptr) backslash = end;
    out.append(p, backslash);
    if (backslash == end) break;
    p = backslash + 1;
    switch (*p++) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        auto cp = static_cast<std::uint32_t>(hex4(p, end));
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // skip_string saw "\uDC00..DFFF" follow
          const auto low = static_cast<std::uint32_t>(hex4(p + 2, end));
          p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(cp, out);
        break;
      }
      default:
        out += p[-1];
        break;  // '"', '\\', '/'
    }
  }
}

const char* skip_number(const char* p, const char* end, bool& integral, bool& may_overflow) {
  auto digit = [&](const char* q) { return q < end && *q >= '0' && *q <= '9'; };
  if (p < end && *p == '-') ++p;
  const char* int_start = p;
  if (p < end && *p == '0') {
    ++p;
  } else if (digit(p)) {
    while (digit(p)) ++p;
  } else {
    return nullptr;
  }
  // strtod overflows only from 309 integer digits up (DBL_MAX ~ 1.8e308) or with an exponent.
  may_overflow = p - int_start > 300;
  integral = true;
  if (p < end && *p == '.') {
    ++p;
    if (!digit(p)) return nullptr;
    while (digit(p)) ++p;
    integral = false;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (!digit(p)) return nullptr;
    while (digit(p)) ++p;
    integral = false;
    may_overflow = true;
  }
  return p;
}

bool number_value(std::string_view token, bool integral, nlohmann::json& out) {
  const char* first = token.data();
  const char* last = first + token.size();
  if (integral) {  // as nlohmann's lexer: strtoll for '-', strtoull otherwise, else a double
    if (token.front() == '-') {
      std::int64_t value = 0;
      if (auto [ptr, ec] = std::from_chars(first, last, value); ec == std::errc() && ptr == last) {
        out = static_cast<nlohmann::json::number_integer_t>(value);
        return true;
      }
    } else {
      std::uint64_t value = 0;
      if (auto [ptr, ec] = std::from_chars(first, last, value); ec == std::errc() && ptr == last) {
        out = static_cast<nlohmann::json::number_unsigned_t>(value);
        return true;
      }
    }
  }
  const double value = c_strtod(token);
  if (!std::isfinite(value)) return false;
  out = value;
  return true;
}

bool number_is_finite(std::string_view token) { return std::isfinite(c_strtod(token)); }

const char* skip_literal(const char* p, const char* end) {
  const std::size_t left = static_cast<std::size_t>(end - p);
  switch (*p) {
    case 't':
      return left >= 4 && std::memcmp(p, "true", 4) == 0 ? p + 4 : nullptr;
    case 'f':
      return left >= 5 && std::memcmp(p, "false", 5) == 0 ? p + 5 : nullptr;
    case 'n':
      return left >= 4 && std::memcmp(p, "null", 4) == 0 ? p + 4 : nullptr;
    default:
      return nullptr;
  }
}

const char* skip_value(const char* p, const char* end, std::size_t depth, std::size_t max_depth,
                       Failure& failure) {
  LevelStack levels;
  auto invalid = [&]() -> const char* {
    failure = Failure::kInvalid;
    return nullptr;
  };
  for (;;) {
    // A value starts at p (whitespace skipped).
    if (p == end) return invalid();
    const char c = *p;
    if (c == '{' || c == '[') {
      if (depth + levels.size() >= max_depth) {
        failure = Failure::kTooDeep;
        return nullptr;
      }
      const bool object = c == '{';
      levels.push(object);
      p = skip_whitespace(p + 1, end);
      if (p < end && *p == (object ? '}' : ']')) {
        levels.pop();
        ++p;
      } else if (object) {
        goto member;
      } else {
        continue;  // the first element
      }
    } else if (c == '"') {
      bool escaped = false;
      if ((p = skip_string(p + 1, end, escaped)) == nullptr) return invalid();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const char* start = p;
      bool integral = false, may_overflow = false;
      if ((p = skip_number(p, end, integral, may_overflow)) == nullptr) return invalid();
      if (may_overflow && !number_is_finite(std::string_view(start, p - start))) return invalid();
    } else {
      if ((p = skip_literal(p, end)) == nullptr) return invalid();
    }
    // After a value: close containers or move on to the next element/member.
    for (;;) {
      if (levels.size() == 0) return p;
      p = skip_whitespace(p, end);
      if (p == end) return invalid();
      const bool object = levels.top_is_object();
      if (*p == ',') {
        p = skip_whitespace(p + 1, end);
        if (object) goto member;
        break;  // the next element
      }
      if (*p != (object ? '}' : ']')) return invalid();
      levels.pop();
      ++p;
    }
    continue;
  member:
    // A member starts at p (whitespace skipped): "key" : value.
    {
      if (p == end || *p != '"') return invalid();
      bool escaped = false;
      if ((p = skip_string(p + 1, end, escaped)) == nullptr) return invalid();
      p = skip_whitespace(p, end);
      if (p == end || *p != ':') return invalid();
      p = skip_whitespace(p + 1, end);
    }
  }
}

}  // namespace gpushare::codec::json_scan
