// Catalog loading and lookups. The YAML schema is the one of shared/reference/mig-catalog.yaml
// (see the comment block at its top): placement_patterns.<id> = {grid, compute_slices,
// by_class}, gpus[] = {model, pci_ids, products, pattern, verified_placements, profiles[],
// balanced}. `pattern` is usually an alias (*p8) of a placement_patterns entry; the name of
// an entry ("pattern: a30_4slot") is accepted as well.
//
// Validation is strict about what the placement rules rely on (sizes, starts, counts) and
// lenient about the rest: unknown keys are ignored at every level, so the reference file's
// notes (profiles_source, name_variants_note, unverified, note) and future fields load.
#include "policy/catalog.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace gpushare::policy {
namespace {

// Thrown only inside this file and caught in Catalog::from_yaml, which turns it into an
// Error: it keeps the many checks below flat without letting an exception escape.
struct CatalogError {
  std::string message;
};

// " (line 12)" for messages, when yaml-cpp knows where the node came from.
std::string line_of(const YAML::Node& node) {
  if (!node.IsDefined()) return "";
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return "";
  return " (line " + std::to_string(mark.line + 1) + ")";
}

[[noreturn]] void fail(const std::string& where, const std::string& what,
                       const YAML::Node& node = YAML::Node()) {
  throw CatalogError{where + ": " + what + line_of(node)};
}

bool present(const YAML::Node& map, const char* key) {
  const YAML::Node n = map[key];
  return n.IsDefined() && !n.IsNull();
}

YAML::Node required(const YAML::Node& map, const char* key, const std::string& where) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) fail(where, std::string(key) + ": missing", map);
  return n;
}

std::string as_string(const YAML::Node& n, const std::string& where, const char* field) {
  if (!n.IsScalar()) fail(where, std::string(field) + ": must be a string", n);
  return n.Scalar();
}

// Strict decimal integer; yaml-cpp's own conversion also takes forms a catalog should not use.
int as_int(const YAML::Node& n, const std::string& where, const char* field) {
  if (!n.IsScalar()) fail(where, std::string(field) + ": must be an integer", n);
  const std::string& s = n.Scalar();
  std::size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i == s.size() || s.size() - i > 9) {
    fail(where, std::string(field) + ": '" + s + "' is not an integer", n);
  }
  int value = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9')
      fail(where, std::string(field) + ": '" + s + "' is not an integer", n);
    value = value * 10 + (s[i] - '0');
  }
  return s[0] == '-' ? -value : value;
}

bool as_bool(const YAML::Node& n, const std::string& where, const char* field) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  fail(where, std::string(field) + ": must be true or false", n);
}

std::vector<std::string> as_string_list(const YAML::Node& n, const std::string& where,
                                        const char* field) {
  if (!n.IsSequence()) fail(where, std::string(field) + ": must be a list of strings", n);
  std::vector<std::string> out;
  for (const auto& item : n) out.push_back(as_string(item, where, field));
  return out;
}

// "9.62" GiB -> floor(9.62 * 2^30) bytes, exactly: integer part and fraction (at most 9
// digits) are scaled separately so that nothing overflows and no floating point is used.
std::int64_t gib_to_bytes(const YAML::Node& n, const std::string& where) {
  const std::string s = as_string(n, where, "mem_gib");
  const auto dot = s.find('.');
  const std::string whole = s.substr(0, dot);
  const std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  auto digits_only = [](const std::string& d) {
    return d.find_first_not_of("0123456789") == std::string::npos;
  };
  if (whole.empty() || !digits_only(whole) || !digits_only(frac) || frac.size() > 9 ||
      (dot != std::string::npos && frac.empty())) {
    fail(where, "mem_gib: '" + s + "' is not a number of GiB such as 9.62 (at most 9 decimals)", n);
  }
  constexpr std::int64_t kGiB = std::int64_t{1} << 30;
  std::int64_t units = 0;
  for (char c : whole) {
    if (__builtin_mul_overflow(units, 10, &units) ||
        __builtin_add_overflow(units, c - '0', &units)) {
      fail(where, "mem_gib: '" + s + "' is too large", n);
    }
  }
  std::int64_t bytes = 0;
  if (__builtin_mul_overflow(units, kGiB, &bytes))
    fail(where, "mem_gib: '" + s + "' is too large", n);
  std::int64_t numerator = 0;
  std::int64_t denominator = 1;
  for (char c : frac) {
    numerator = numerator * 10 + (c - '0');
    denominator *= 10;
  }
  // numerator < 10^9, so numerator * 2^30 < 2^60: no overflow.
  if (__builtin_add_overflow(bytes, numerator * kGiB / denominator, &bytes)) {
    fail(where, "mem_gib: '" + s + "' is too large", n);
  }
  return bytes;
}

// The parts of a profile name "<G>g.<M>gb<attribute>": attribute is "" or starts with '+'/'-'.
struct ProfileName {
  int compute = 0;
  std::int64_t memory_gb = 0;
  std::string_view attribute;
};

std::optional<ProfileName> split_profile_name(std::string_view name) {
  ProfileName out;
  std::size_t i = 0;
  auto number = [&](std::int64_t limit, std::int64_t& value) {
    const std::size_t begin = i;
    value = 0;
    while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
      value = value * 10 + (name[i] - '0');
      if (value > limit) return false;
      ++i;
    }
    return i > begin;
  };
  std::int64_t compute = 0;
  if (!number(64, compute) || name.substr(i, 2) != "g.") return std::nullopt;
  i += 2;
  if (!number(std::int64_t{1} << 40, out.memory_gb) || name.substr(i, 2) != "gb")
    return std::nullopt;
  i += 2;
  out.compute = static_cast<int>(compute);
  out.attribute = name.substr(i);
  if (!out.attribute.empty() &&
      ((out.attribute[0] != '+' && out.attribute[0] != '-') || out.attribute.size() == 1)) {
    return std::nullopt;
  }
  return out;
}

struct PlacementClass {
  int size = 0;
  std::vector<int> starts;
};

struct Pattern {
  int grid = 0;
  int compute_slices = 0;
  std::map<std::string, PlacementClass> by_class;
};

// Layouts are kept as 64-bit occupancy masks (policy/layout.cpp), hence the grid limit.
constexpr int kMaxGrid = 64;

Pattern parse_pattern(const YAML::Node& n, const std::string& where) {
  if (!n.IsMap()) fail(where, "must be a mapping with grid, compute_slices and by_class", n);
  Pattern p;
  p.grid = as_int(required(n, "grid", where), where, "grid");
  if (p.grid < 1 || p.grid > kMaxGrid) {
    fail(where, "grid: " + std::to_string(p.grid) + " is outside 1.." + std::to_string(kMaxGrid),
         n["grid"]);
  }
  p.compute_slices = as_int(required(n, "compute_slices", where), where, "compute_slices");
  if (p.compute_slices < 1) fail(where, "compute_slices: must be at least 1", n["compute_slices"]);
  const YAML::Node classes = required(n, "by_class", where);
  if (!classes.IsMap() || classes.size() == 0)
    fail(where, "by_class: must be a non-empty mapping", classes);
  for (const auto& entry : classes) {
    const std::string name = as_string(entry.first, where, "by_class");
    const std::string cw = where + " class '" + name + "'";
    const YAML::Node& c = entry.second;
    if (!c.IsMap()) fail(cw, "must be a mapping with size and starts", c);
    PlacementClass pc;
    pc.size = as_int(required(c, "size", cw), cw, "size");
    if (pc.size < 1 || pc.size > p.grid) {
      fail(cw,
           "size: " + std::to_string(pc.size) + " is outside 1..grid (" + std::to_string(p.grid) +
               ")",
           c);
    }
    const YAML::Node starts = required(c, "starts", cw);
    if (!starts.IsSequence() || starts.size() == 0)
      fail(cw, "starts: must be a non-empty list", starts);
    for (const auto& s : starts) {
      const int start = as_int(s, cw, "starts");
      if (start < 0 || start + pc.size > p.grid) {
        fail(cw,
             "starts: " + std::to_string(start) + " + size " + std::to_string(pc.size) +
                 " does not fit the grid of " + std::to_string(p.grid),
             s);
      }
      if (!pc.starts.empty() && start <= pc.starts.back()) {
        fail(cw, "starts: must be strictly increasing", s);
      }
      pc.starts.push_back(start);
    }
    if (!p.by_class.emplace(name, std::move(pc)).second) fail(cw, "defined twice", c);
  }
  return p;
}

MigProfile parse_profile(const YAML::Node& n, const Pattern& pattern,
                         const std::string& model_where, std::size_t index) {
  std::string where = model_where + " profiles[" + std::to_string(index) + "]";
  if (!n.IsMap()) fail(where, "must be a mapping", n);
  MigProfile p;
  p.name = as_string(required(n, "name", where), where, "name");
  where = model_where + " profile " + p.name;
  const auto parts = split_profile_name(p.name);
  if (!parts) {
    fail(where,
         "name: expected <G>g.<M>gb with an optional +/- attribute, such as 1g.10gb or 1g.10gb+me",
         n["name"]);
  }

  p.placement_class = as_string(required(n, "class", where), where, "class");
  const auto cls = pattern.by_class.find(p.placement_class);
  if (cls == pattern.by_class.end()) {
    fail(where, "class '" + p.placement_class + "' not in pattern", n["class"]);
  }

  p.compute_slices = as_int(required(n, "compute", where), where, "compute");
  if (p.compute_slices != parts->compute) {
    fail(where,
         "compute: " + std::to_string(p.compute_slices) + " does not match the name's " +
             std::to_string(parts->compute) + "g",
         n["compute"]);
  }
  if (p.compute_slices < 1 || p.compute_slices > pattern.compute_slices) {
    fail(where,
         "compute: " + std::to_string(p.compute_slices) + " is outside 1.." +
             std::to_string(pattern.compute_slices),
         n["compute"]);
  }

  p.memory_units = as_int(required(n, "mem_units", where), where, "mem_units");
  if (p.memory_units != cls->second.size) {
    fail(where,
         "mem_units: " + std::to_string(p.memory_units) + " is not the size " +
             std::to_string(cls->second.size) + " of class '" + p.placement_class + "'",
         n["mem_units"]);
  }
  p.starts = cls->second.starts;

  p.max_count = as_int(required(n, "max", where), where, "max");
  if (p.max_count < 1) fail(where, "max: must be at least 1", n["max"]);

  if (present(n, "mem_gib")) {
    p.memory_bytes = gib_to_bytes(n["mem_gib"], where);
    if (p.memory_bytes <= 0) fail(where, "mem_gib: must be positive", n["mem_gib"]);
  } else {
    // No measured size: the marketing "<N>gb" of the name, in decimal gigabytes.
    if (__builtin_mul_overflow(parts->memory_gb, std::int64_t{1000000000}, &p.memory_bytes)) {
      fail(where, "name: memory is too large", n["name"]);
    }
  }
  if (present(n, "sms")) {
    p.sms = as_int(n["sms"], where, "sms");
    if (*p.sms < 1) fail(where, "sms: must be at least 1", n["sms"]);
  }
  return p;
}

GpuModel parse_model(const YAML::Node& n, const std::map<std::string, Pattern>& patterns,
                     std::size_t index) {
  std::string where = "gpus[" + std::to_string(index) + "]";
  if (!n.IsMap()) fail(where, "must be a mapping", n);
  GpuModel m;
  m.model = as_string(required(n, "model", where), where, "model");
  if (m.model.empty()) fail(where, "model: must not be empty", n["model"]);
  where += " (" + m.model + ")";

  if (present(n, "pci_ids")) m.pci_ids = as_string_list(n["pci_ids"], where, "pci_ids");
  m.products = as_string_list(required(n, "products", where), where, "products");
  if (present(n, "verified_placements")) {
    m.verified_placements = as_bool(n["verified_placements"], where, "verified_placements");
  }

  const YAML::Node pattern_node = required(n, "pattern", where);
  Pattern pattern;
  if (pattern_node.IsScalar()) {
    const auto it = patterns.find(pattern_node.Scalar());
    if (it == patterns.end()) {
      fail(where, "pattern: '" + pattern_node.Scalar() + "' is not in placement_patterns",
           pattern_node);
    }
    pattern = it->second;
  } else {
    pattern = parse_pattern(pattern_node, where + " pattern");
  }
  m.grid = pattern.grid;
  m.compute_slices = pattern.compute_slices;

  const YAML::Node profiles = required(n, "profiles", where);
  if (!profiles.IsSequence() || profiles.size() == 0)
    fail(where, "profiles: must be a non-empty list", profiles);
  for (std::size_t j = 0; j < profiles.size(); ++j) {
    MigProfile p = parse_profile(profiles[j], pattern, where, j);
    if (m.find_profile(p.name) != nullptr)
      fail(where, "profile " + p.name + ": listed twice", profiles[j]);
    m.memory_bytes = std::max(m.memory_bytes, p.memory_bytes);
    m.profiles.push_back(std::move(p));
  }

  if (present(n, "balanced")) {
    const YAML::Node balanced = n["balanced"];
    if (!balanced.IsMap()) fail(where, "balanced: must be a mapping of profile to count", balanced);
    for (const auto& entry : balanced) {
      const std::string name = as_string(entry.first, where, "balanced");
      const MigProfile* p = m.find_profile(name);
      if (p == nullptr)
        fail(where, "balanced: profile " + name + " is not a profile of this model", entry.first);
      const int count = as_int(entry.second, where, "balanced");
      if (count < 1 || count > p->max_count) {
        fail(where,
             "balanced: " + name + " count " + std::to_string(count) + " is outside 1.." +
                 std::to_string(p->max_count),
             entry.second);
      }
      m.balanced[name] = count;
    }
  }
  return m;
}

}  // namespace

bool MigProfile::has_attribute() const {
  const auto parts = split_profile_name(name);
  if (parts) return !parts->attribute.empty();
  return name.find_first_of("+-") != std::string::npos;  // not a catalog name; be cautious
}

std::string MigProfile::resource_name() const { return mig_resource_for_profile(name); }

std::string mig_resource_for_profile(std::string_view profile) {
  std::string out(kMigResourcePrefix);
  for (char c : profile) out.push_back(c == '+' ? '.' : c);
  return out;
}

const MigProfile* GpuModel::find_profile(std::string_view name) const {
  for (const auto& p : profiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

bool GpuModel::has_product(std::string_view product) const {
  for (const auto& p : products) {
    if (p == product) return true;
  }
  return false;
}

Result<Catalog> Catalog::from_yaml(std::string_view yaml_text) {
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsMap())
      return Error{"catalog: the document must be a mapping with placement_patterns and gpus"};
    if (present(root, "schema_version") &&
        as_int(root["schema_version"], "schema_version", "value") != 1) {
      fail("schema_version", "only version 1 is understood", root["schema_version"]);
    }

    std::map<std::string, Pattern> patterns;
    if (present(root, "placement_patterns")) {
      const YAML::Node pp = root["placement_patterns"];
      if (!pp.IsMap()) fail("placement_patterns", "must be a mapping", pp);
      for (const auto& entry : pp) {
        const std::string id = as_string(entry.first, "placement_patterns", "id");
        patterns[id] = parse_pattern(entry.second, "placement_patterns." + id);
      }
    }

    if (!present(root, "gpus")) return Error{"catalog: gpus: missing"};
    const YAML::Node gpus = root["gpus"];
    if (!gpus.IsSequence() || gpus.size() == 0) fail("gpus", "must be a non-empty list", gpus);
    Catalog catalog;
    std::map<std::string, std::string> product_owner;
    for (std::size_t i = 0; i < gpus.size(); ++i) {
      GpuModel m = parse_model(gpus[i], patterns, i);
      const std::string where = "gpus[" + std::to_string(i) + "] (" + m.model + ")";
      if (catalog.model_named(m.model) != nullptr) fail(where, "model: listed twice", gpus[i]);
      // Products are matched exactly; one product naming two models would make that ambiguous.
      for (const auto& product : m.products) {
        const auto [it, inserted] = product_owner.emplace(product, m.model);
        if (!inserted)
          fail(where, "products: " + product + " is already a product of " + it->second, gpus[i]);
      }
      catalog.models_.push_back(std::move(m));
    }
    return catalog;
  } catch (const CatalogError& e) {
    return Error{"catalog: " + e.message};
  } catch (const YAML::Exception& e) {
    // Syntax errors (and any conversion yaml-cpp refuses); e.what() carries line and column.
    return Error{std::string("catalog: invalid YAML: ") + e.what()};
  }
}

const Catalog& Catalog::builtin() {
  static const Catalog catalog = [] {
    auto parsed = from_yaml(builtin_yaml());
    if (!parsed) {
      // A build that ships a broken default catalog is a programmer error, caught by the tests.
      std::fprintf(stderr, "gpushare: the built-in GPU catalog is invalid: %s\n",
                   parsed.error().c_str());
      std::abort();
    }
    return std::move(parsed).value();
  }();
  return catalog;
}

const GpuModel* Catalog::model_for_product(std::string_view product) const {
  auto exact = [this](std::string_view p) -> const GpuModel* {
    for (const auto& m : models_) {
      if (m.has_product(p)) return &m;
    }
    return nullptr;
  };
  if (const GpuModel* m = exact(product)) return m;
  // GFD spellings of the same GPU: "<product>-SHARED" (shared, not renamed) and, with the
  // single MIG strategy, "<product>-MIG-<profile>" (nvidia.md 3.2, 3.3); mixed MIG labels may
  // carry both. Strip them, then match exactly again.
  std::string_view base = product;
  constexpr std::string_view kShared = "-SHARED";
  if (base.size() > kShared.size() && base.substr(base.size() - kShared.size()) == kShared) {
    base.remove_suffix(kShared.size());
  }
  const auto mig = base.rfind("-MIG-");
  if (mig != std::string_view::npos && mig > 0) base = base.substr(0, mig);
  if (base.size() == product.size()) return nullptr;
  return exact(base);
}

const GpuModel* Catalog::model_named(std::string_view model) const {
  for (const auto& m : models_) {
    if (m.model == model) return &m;
  }
  return nullptr;
}

std::vector<const GpuModel*> Catalog::models_with_profile(std::string_view profile) const {
  std::vector<const GpuModel*> out;
  for (const auto& m : models_) {
    if (m.find_profile(profile) != nullptr) out.push_back(&m);
  }
  return out;
}

std::optional<std::string> Catalog::profile_for_resource(std::string_view resource) const {
  if (resource.substr(0, kMigResourcePrefix.size()) != kMigResourcePrefix) return std::nullopt;
  for (const auto& m : models_) {
    for (const auto& p : m.profiles) {
      if (p.resource_name() == resource) return p.name;
    }
  }
  return std::nullopt;
}

}  // namespace gpushare::policy
