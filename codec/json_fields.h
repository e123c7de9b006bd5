// Reading fields of API objects without exceptions: a missing field or one of another type
// reads as empty, because the apiserver omits empty fields and we decode only what we use.
// (codec/objects.cpp is strict instead where a user's input must get a precise error.)
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace gpushare::codec {

inline const nlohmann::json& member(const nlohmann::json& object, const char* key) {
  static const nlohmann::json null_value;
  if (!object.is_object()) return null_value;
  auto it = object.find(key);
  return it == object.end() ? null_value : *it;
}

inline std::string string_member(const nlohmann::json& object, const char* key) {
  const nlohmann::json& v = member(object, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

}  // namespace gpushare::codec
