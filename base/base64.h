// Standard base64 (RFC 4648, with padding, no line breaks): what caBundle, caData,
// kubeconfig *-data fields and an AdmissionReview's patch hold.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace gpushare::base {

std::string base64_encode(std::string_view bytes);
// Line breaks and spaces are skipped (PEM bundles pasted into YAML carry them); anything
// else outside the alphabet, data after padding, or a bad length is an error.
Result<std::string> base64_decode(std::string_view text);

}  // namespace gpushare::base
