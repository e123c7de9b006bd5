// A strict RFC 6902 JSON Patch applier for tests: it refuses everything RFC 6902/6901 forbid and
// everything kube-apiserver's applier (gopkg.in/evanphx/json-patch.v4) refuses, so a patch that
// passes here applies there.
//
// Stricter than RFC 6902 where the apiserver is: operations on the whole document (path "")
// are refused, as json-patch v4 refuses them. Stricter than json-patch v4 where the RFC is:
// leading zeros and negative array indices, "~" not followed by 0 or 1, a path without its
// leading "/", a missing "value", an unknown "op".
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace gpushare::testing {

struct PatchOutcome {
  bool ok = false;
  nlohmann::json document;  // the patched document when ok
  std::string error;        // "op 2 (remove /metadata/x): ..." when not ok
};

// Applies `patch` (a JSON array of operations) to a copy of `document`; all or nothing.
PatchOutcome apply_json_patch(const nlohmann::json& document, const nlohmann::json& patch);
// The same with the patch as text (what a webhook base64-decodes to).
PatchOutcome apply_json_patch(const nlohmann::json& document, std::string_view patch_text);

// RFC 6901: "/a~1b/c~0" -> {"a/b", "c~"}. False (and `error` set) on a malformed pointer,
// including "" (the whole document, which json-patch v4 does not address).
bool parse_json_pointer(std::string_view pointer, std::vector<std::string>& tokens,
                        std::string& error);

}  // namespace gpushare::testing
