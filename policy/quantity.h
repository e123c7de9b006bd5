// Kubernetes resource quantities (k8s.io/apimachinery resource.Quantity), parsed exactly.
// Values are kept as an integer count of milli-units so that "500m", "1.5G" and "20Gi"
// are all exact; no floating point is involved anywhere.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace gpushare::policy {

struct Quantity {
  // The value times 1000 (so "1" is 1000 and "500m" is 500).
  std::int64_t milli = 0;

  // Smallest whole number of units >= the value ("500m" -> 1, "20Gi" -> 21474836480).
  std::int64_t ceil_units() const;
  // True when the value is a whole number of units.
  bool is_integer() const { return milli % 1000 == 0; }
  friend bool operator==(const Quantity&, const Quantity&) = default;
};

// Parses the Kubernetes quantity grammar: an optional sign, digits with an optional
// decimal part, then a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix
// (n u m "" k M G T P E) or a decimal exponent (e3, E-2). Values that cannot be held
// in milli-units within int64 are errors; values finer than 1m round up to the next milli,
// as Kubernetes does.
Result<Quantity> parse_quantity(std::string_view text);

// "21474836480" -> "20Gi", for messages a person reads (largest binary unit that divides,
// else decimal G/M/k, else the plain number).
std::string format_bytes(std::int64_t bytes);

}  // namespace gpushare::policy
