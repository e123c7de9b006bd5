// The lenient field readers of codec/json_fields.h, under the names kube/ code uses.
#pragma once

#include "codec/json_fields.h"

namespace gpushare::kube {

using codec::member;
using codec::string_member;

}  // namespace gpushare::kube
