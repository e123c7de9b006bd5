#include "server/service.h"

#include "webhook/admission_review.h"

namespace gpushare::server {

Reply Service::mutate(std::string_view body) const {
  auto r = webhook::handle_admission_review(body, *cluster_.facts(), catalog_, settings_.admission);
  Reply reply;
  reply.http_status = r.http_status;
  reply.body = std::move(r.body);
  reply.error = std::move(r.error);
  reply.subject = r.pod;
  reply.outcome = std::string(policy::to_string(r.decision.outcome));
  reply.rule = r.decision.rule;
  if (r.decision.outcome == policy::AdmissionOutcome::kDenied) {
    reply.detail = r.decision.message;
  } else {
    reply.detail = r.decision.assigned_resource;
  }
  return reply;
}

}  // namespace gpushare::server
