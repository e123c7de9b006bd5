// The extender half of Service: kube-scheduler's filter and prioritize.
#include <memory>
#include <vector>

#include "extender/extender.h"
#include "server/service.h"

namespace gpushare::server {

namespace {

// Looks nodes up one by one as the extender names them, keeping each alive for the call.
class RequestNodes {
 public:
  explicit RequestNodes(const ClusterState& cluster) : cluster_(cluster) {}
  extender::NodeSource source() {
    return [this](std::string_view name) -> const policy::NodeView* {
      auto node = cluster_.node(name);
      if (!node) return nullptr;
      held_.push_back(std::move(node));
      return held_.back().get();
    };
  }

 private:
  const ClusterState& cluster_;
  std::vector<std::shared_ptr<const policy::NodeView>> held_;
};

Reply to_reply(extender::ExtenderResult r, const char* verb) {
  Reply reply;
  reply.http_status = r.http_status;
  reply.body = std::move(r.body);
  reply.error = std::move(r.error);
  reply.subject = std::move(r.pod);
  reply.outcome = r.managed ? "managed" : "not-managed";
  reply.detail = std::string(verb) + " nodes=" + std::to_string(r.nodes) +
                 " passed=" + std::to_string(r.passed) + " failed=" + std::to_string(r.failed) +
                 " unresolvable=" + std::to_string(r.unresolvable);
  return reply;
}

}  // namespace

Reply Service::filter(std::string_view body) const {
  extender::ExtenderSettings s{settings_.admission.annotation_prefix, settings_.default_placement,
                               &catalog_};
  RequestNodes nodes(cluster_);
  return to_reply(extender::handle_filter(body, nodes.source(), s), "filter");
}

Reply Service::prioritize(std::string_view body) const {
  extender::ExtenderSettings s{settings_.admission.annotation_prefix, settings_.default_placement,
                               &catalog_};
  RequestNodes nodes(cluster_);
  return to_reply(extender::handle_prioritize(body, nodes.source(), s), "prioritize");
}

}  // namespace gpushare::server
