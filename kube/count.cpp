#include "kube/count.h"

#include "policy/quantity.h"

namespace gpushare::kube {

// One quantity grammar in the project (policy/quantity): a count is a quantity that is whole
// and not negative. Values beyond what milli-units hold in int64 (~9.2e15) are refused, far
// above any device count.
std::optional<std::int64_t> parse_count(std::string_view quantity) {
  auto q = policy::parse_quantity(quantity);
  if (!q.ok() || q->milli < 0 || !q->is_integer()) return std::nullopt;
  return q->milli / 1000;
}

}  // namespace gpushare::kube
