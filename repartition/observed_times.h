// Times other replicas wrote, turned into this replica's own (issue 12, item 3). A mark's
// phase start, a ConfigMap entry's written-at and a node's back-off end are wall-clock times
// written into the cluster by whichever replica acted; compared with another replica's clock
// after a failover, a skew makes propagationDelay, applyTimeout or the back-off end early.
// So every such time counts from the moment *this* replica first saw it (or, for a value this
// replica wrote itself, from the moment it wrote it): never earlier than what really happened.
// A new leader may wait a full period once more; it never waits less.
#pragma once

#include <map>
#include <string>

#include "repartition/mark.h"

namespace gpushare::repartition {

class ObservedTimes {
 public:
  // The local time standing for `written`, a time written under `key` (e.g. "phase/<node>"):
  // when this replica wrote that value, or first saw it.
  Clock::time_point local(const std::string& key, Clock::time_point written, Clock::time_point now);
  // This replica writes `written` under `key` now (`now` is when it counts from).
  void own(const std::string& key, Clock::time_point written, Clock::time_point now);
  // Forgets values not looked at since the last sweep, except those under keys starting with
  // `keep_prefix` (ConfigMap entries outlive the marks that use them, and an entry seen long
  // enough stays propagated while its content does not change).
  void sweep(const std::string& keep_prefix);

 private:
  struct Seen {
    Clock::time_point at;
    bool used = true;
  };
  std::map<std::string, Seen> seen_;  // "<key>=<value as written>" -> first seen
};

}  // namespace gpushare::repartition
