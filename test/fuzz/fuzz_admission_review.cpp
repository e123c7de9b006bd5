// POST /mutate's body: an AdmissionReview from kube-apiserver, judged against a small cluster.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policy/cluster_facts.h"
#include "test/fuzz/sample_cluster.h"
#include "webhook/admission_review.h"

using namespace gpushare;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const policy::ClusterFacts facts = policy::facts_of({fuzz::sample_nodes()});
  static const policy::AdmissionSettings settings;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  webhook::handle_admission_review(body, facts, policy::Catalog::builtin(), settings);
  return 0;
}
