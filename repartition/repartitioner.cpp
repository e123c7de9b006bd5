#include "repartition/repartitioner.h"

#include <algorithm>

namespace gpushare::repartition {

namespace {

// A client of the controller's own, to the same API server, with its shorter request timeout.
std::shared_ptr<kube::Client> controller_client(const std::shared_ptr<kube::Client>& shared,
                                                std::chrono::milliseconds request_timeout) {
  kube::ClientOptions o;
  o.request_timeout = request_timeout;
  o.connect_timeout = std::min(o.connect_timeout, request_timeout);
  return std::make_shared<kube::Client>(shared->config(), o);
}

}  // namespace

Repartitioner::Repartitioner(std::shared_ptr<kube::Client> client, kube::ClusterCache& cache,
                             MetricsSink& metrics, PlanFn plan, RepartitionerOptions options)
    : lease_(client, options.lease),
      api_(controller_client(client, options.request_timeout), options.config_maps,
           lease_.identity(),
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
