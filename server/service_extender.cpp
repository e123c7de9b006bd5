// The extender half of Service: kube-scheduler's filter and prioritize.
#include "extender/extender.h"
#include "server/service.h"

namespace gpushare::server {

namespace {

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
  auto snapshot = cluster_.snapshot();
  auto nodes = [&snapshot](const std::string& name) { return snapshot->find(name); };
  return to_reply(extender::handle_filter(body, nodes, s), "filter");
}

Reply Service::prioritize(std::string_view body) const {
  extender::ExtenderSettings s{settings_.admission.annotation_prefix, settings_.default_placement,
                               &catalog_};
  auto snapshot = cluster_.snapshot();
  auto nodes = [&snapshot](const std::string& name) { return snapshot->find(name); };
  return to_reply(extender::handle_prioritize(body, nodes, s), "prioritize");
}

}  // namespace gpushare::server
