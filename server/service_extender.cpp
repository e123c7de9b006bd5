// The extender half of Service: kube-scheduler's filter and prioritize.
#include <memory>
#include <vector>

#include "extender/extender.h"
#include "server/service.h"

namespace gpushare::server {

namespace {

// Looks the request's nodes up in one call, keeping each alive for the request.
class RequestNodes {
 public:
  explicit RequestNodes(const ClusterState& cluster) : cluster_(cluster) {}
  extender::NodeSource source() {
    return
        [this](std::span<const std::string_view> names, std::vector<const policy::NodeView*>& out) {
          const std::size_t first = held_.size();
          cluster_.nodes(names, held_);
          out.reserve(out.size() + names.size());
          for (std::size_t i = first; i < held_.size(); ++i) out.push_back(held_[i].get());
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
