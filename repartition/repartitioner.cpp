#include "repartition/repartitioner.h"

namespace gpushare::repartition {

Repartitioner::Repartitioner(std::shared_ptr<kube::Client> client, kube::ClusterCache& cache,
                             MetricsSink& metrics, PlanFn plan, RepartitionerOptions options)
    : lease_(client, options.lease),
      api_(client, options.config_maps, lease_.identity(),
           [&cache](const nlohmann::json& node) { cache.observe_written_node(node); }),
      reader_(cache),
      controller_(reader_, api_, metrics, std::move(plan), options.controller,
                  [this] { return lease_.is_leader(); }) {}

Repartitioner::~Repartitioner() { stop(); }

void Repartitioner::start() {
  lease_.start();
  controller_.start();
}

void Repartitioner::stop() {
  // The controller first: it must not act after the lease stops being renewed.
  controller_.stop();
  lease_.stop();
}

}  // namespace gpushare::repartition
