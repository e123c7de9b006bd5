// Quantity text from pods' resources and annotations. Besides not crashing, a parsed value must
// survive what quantity.h promises: the exact value read back from its own digits, and
// ceil_units() the smallest whole number of units >= the value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/quantity.h"

using gpushare::policy::format_bytes;
using gpushare::policy::parse_quantity;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto q = parse_quantity(text);
  if (!q) return 0;

  // "<milli>m" is the same value, exactly (values are held in milli-units).
  auto again = parse_quantity(std::to_string(q->milli) + "m");
  if (!again || *again != *q) __builtin_trap();

  // ceil_units: units*1000 >= milli > (units-1)*1000, in 128 bits so neither side overflows.
  const __int128 units = q->ceil_units();
  if (units * 1000 < q->milli || (units - 1) * 1000 >= q->milli) __builtin_trap();

  // A whole number of units, written by format_bytes ("20Gi"), reads back as the same value.
  if (q->is_integer()) {
    auto formatted = parse_quantity(format_bytes(q->milli / 1000));
    if (!formatted || *formatted != *q) __builtin_trap();
  }
  return 0;
}
