#include "extender/extender.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "codec/json.h"
#include "codec/objects.h"
#include "policy/fit.h"
#include "policy/pod_demand.h"
#include "policy/score.h"

namespace gpushare::extender {

using codec::decode_node;
using codec::decode_pod;
using codec::parse_json;

using nlohmann::json;

namespace {

// One node of the request: its name as given and, in payload mode, its decoded view and the
// Node object to echo back. Cache-mode views are looked up all at once (resolve_names) and
// never copied: the cache hands out pointers to its shared, immutable nodes.
struct Candidate {
  std::string_view name;  // into Request::doc, or into `view` in payload mode
  // Payload mode only. Out of line: a NodeView is ~400 bytes, and inline it made the candidates
  // of an every-name cache-mode request 2.3 MB at 5,000 nodes, fresh pages (faults, zeroing) on
  // every request.
  std::unique_ptr<policy::NodeView> view;
  // Payload mode: the Node object to echo, as received (a view into the body), or, when the
  // body was parsed without the shape (odd key casing), the whole parsed object.
  std::string_view source;
  const json* original = nullptr;
  const policy::NodeView* cached = nullptr;  // cache mode, once resolve_names ran
};

struct Request {
  json doc;  // owns what Candidate::name and ::original point into (it is never changed)
  std::vector<std::string_view> sources;  // the Nodes.items objects' bytes (codec::fit_node_shape)
  policy::PodView pod;
  policy::PodDemand demand;
  bool payload_mode = false;
  std::vector<Candidate> candidates;
};

// Go's encoding/json matches keys case-insensitively, and the upstream test lower-cases a whole
// ExtenderArgs to prove it; prefer the exact capitalised key, then accept any casing.
const json* find_key(const json& obj, std::string_view key) {
  if (auto it = obj.find(std::string(key)); it != obj.end()) return &*it;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& k = it.key();
    if (k.size() != key.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < k.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(k[i])) ==
             std::tolower(static_cast<unsigned char>(key[i]));
    if (same) return &*it;
  }
  return nullptr;
}

// What decode_request reads of an ExtenderArgs: the pod's fields the policy decides on
// (codec::pod_shape: a pod's env, probes and volumes are not built), and the node list whole.
// Keys are matched exactly here; a body that spells "Pod" in another casing is parsed again
// without the shape (rare: Go's encoder writes the capitalised names).
const codec::JsonShape& args_shape() {
  using Kind = codec::JsonShape::Kind;
  static const codec::JsonShape all{};
  static const codec::JsonShape items{Kind::kArray, {}, &codec::fit_node_shape()};
  static const codec::JsonShape list{Kind::kObject, {{"items", &items}}, nullptr};
  static const codec::JsonShape args{
      Kind::kObject,
      {{"Pod", &codec::pod_shape()}, {"NodeNames", &all}, {"Nodes", &list}},
      nullptr};
  return args;
}

// `whole`: parse everything (the fallback for a body the shape does not fit).
Result<json> parse_args(std::string_view body, bool whole, std::vector<std::string_view>& sources) {
  constexpr std::string_view kExpected = "an ExtenderArgs JSON object";
  if (whole) return parse_json(body, kExpected);
  auto shaped =
      codec::parse_json_shaped(body, &args_shape(), kExpected, codec::kMaxJsonDepth, &sources);
  if (!shaped || !shaped->is_object()) return shaped;
  if (shaped->contains("Pod") && (shaped->contains("NodeNames") || shaped->contains("Nodes")))
    return shaped;
  sources.clear();
  return parse_json(body, kExpected);
}

Result<Request> decode_request(std::string_view body, bool whole = false) {
  Request req;
  auto parsed = parse_args(body, whole, req.sources);
  if (!parsed) return Error{parsed.error()};
  req.doc = std::move(parsed).value();
  if (!req.doc.is_object()) {
    return Error{std::string("ExtenderArgs: expected object, got ") + req.doc.type_name()};
  }
  const json* pod = find_key(req.doc, "Pod");
  if (pod == nullptr || pod->is_null()) return Error{"ExtenderArgs.Pod: missing or null"};
  auto view = decode_pod(*pod, "Pod");
  if (!view) return Error{view.error()};
  req.pod = std::move(view).value();
  auto demand = policy::pod_demand(req.pod);
  if (!demand) return Error{"Pod: " + demand.error()};
  req.demand = std::move(demand).value();

  const json* names = find_key(req.doc, "NodeNames");
  const json* nodes = find_key(req.doc, "Nodes");
  if (names != nullptr && !names->is_null()) {
    if (!names->is_array())
      return Error{std::string("NodeNames: expected array, got ") + names->type_name()};
    req.candidates.reserve(names->size());
    for (std::size_t i = 0; i < names->size(); ++i) {
      const json& n = (*names)[i];
      if (!n.is_string()) {
        return Error{"NodeNames[" + std::to_string(i) + "]: expected string, got " + n.type_name()};
      }
      Candidate c;
      c.name = n.get_ref<const std::string&>();
      req.candidates.push_back(std::move(c));
    }
    return req;
  }
  if (nodes != nullptr && !nodes->is_null()) {
    req.payload_mode = true;
    if (!nodes->is_object())
      return Error{std::string("Nodes: expected NodeList object, got ") + nodes->type_name()};
    const json* items = find_key(*nodes, "items");
    if (items == nullptr || items->is_null()) return req;
    if (!items->is_array())
      return Error{std::string("Nodes.items: expected array, got ") + items->type_name()};
    // The shape recorded each item's bytes; a count that differs (a body with "Nodes" twice,
    // the last one winning) is read again whole, so that what is echoed is what was judged.
    const bool have_sources = req.sources.size() == items->size();
    if (!have_sources && !req.sources.empty()) return decode_request(body, /*whole=*/true);
    req.candidates.reserve(items->size());
    for (std::size_t i = 0; i < items->size(); ++i) {
      auto node = decode_node((*items)[i], "Nodes.items[" + std::to_string(i) + "]");
      if (!node) return Error{node.error()};
      Candidate& c = req.candidates.emplace_back();
      c.view = std::make_unique<policy::NodeView>(std::move(node).value());
      c.name = c.view->name;
      if (have_sources)
        c.source = req.sources[i];
      else
        c.original = &(*items)[i];
    }
  }
  return req;
}

// The node's view: decoded from the payload, or found in the cache by resolve_names.
// nullptr: a name the cache does not know.
const policy::NodeView* view_of(const Candidate& c) { return c.view ? c.view.get() : c.cached; }

// Cache mode: looks every candidate up in one call (one lock in the server's cache).
void resolve_names(Request& req, const NodeSource& source) {
  if (req.payload_mode || !source || req.candidates.empty()) return;
  std::vector<std::string_view> names;
  names.reserve(req.candidates.size());
  for (const Candidate& c : req.candidates) names.push_back(c.name);
  std::vector<const policy::NodeView*> found;
  source(names, found);
  for (std::size_t i = 0; i < req.candidates.size() && i < found.size(); ++i)
    req.candidates[i].cached = found[i];
}

// In full-node mode the Node objects come in the request, and a DRA driver's devices are not in
// a Node object: the cache's ResourceSlices say which nodes it serves. Only a node without
// device-plugin GPUs can be one (policy::serves_through_dra), so the others cost no lookup.
void attach_dra(Request& req, const NodeSource& source) {
  if (!req.payload_mode || !source) return;
  std::vector<Candidate*> maybe;
  std::vector<std::string_view> names;
  for (Candidate& c : req.candidates) {
    if (!c.view || c.view->dra) continue;
    const auto& alloc = c.view->allocatable;
    if (std::any_of(alloc.begin(), alloc.end(), [](const auto& kv) { return kv.second > 0; }))
      continue;
    maybe.push_back(&c);
    names.push_back(c.name);
  }
  if (names.empty()) return;
  std::vector<const policy::NodeView*> cached;
  source(names, cached);
  for (std::size_t i = 0; i < maybe.size() && i < cached.size(); ++i)
    if (cached[i] != nullptr && cached[i]->dra) maybe[i]->view->dra = cached[i]->dra;
}

// Profile names parse_intent accepts for gpushare.io/mig-profile: the catalog's, those the
// request's nodes publish, and those the pod itself asks for. The pod was admitted already;
// its resource request, not this annotation, says which profile it gets.
// parse_intent asks for the list only when the pod carries that annotation, and the nodes are
// read only when the catalog does not know the name (each node costs a lookup and a catalog
// scan per MIG resource).
std::vector<std::string> known_profiles(const Request& req, const policy::Catalog& catalog,
                                        std::string_view prefix) {
  auto annotation =
      req.pod.annotations.find(std::string(prefix) + std::string(policy::kMigProfileKey));
  if (annotation == req.pod.annotations.end()) return {};
  std::set<std::string> names;
  for (const auto& model : catalog.models())
    for (const auto& p : model.profiles) names.insert(p.name);
  if (names.count(annotation->second) != 0) return {names.begin(), names.end()};
  // Distinct MIG resources first: nodes mostly repeat the same few, and each costs a catalog scan.
  std::set<std::string> resources;
  auto add_resource = [&](const std::string& resource) {
    if (resource.compare(0, policy::kMigResourcePrefix.size(), policy::kMigResourcePrefix) == 0)
      resources.insert(resource);
  };
  for (const auto& [resource, n] : req.demand.resources) add_resource(resource);
  for (const auto& c : req.candidates) {
    if (const policy::NodeView* v = view_of(c))
      for (const auto& [resource, n] : v->allocatable) add_resource(resource);
  }
  for (const auto& resource : resources) {
    if (auto p = catalog.profile_for_resource(resource))
      names.insert(*p);
    else
      names.insert(resource.substr(policy::kMigResourcePrefix.size()));
  }
  return {names.begin(), names.end()};
}

std::string dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

ExtenderResult bad_request(const std::string& message) {
  ExtenderResult r;
  r.http_status = 400;
  r.error = message;
  r.body = dump(json{{"error", message}});
  return r;
}

const policy::Catalog& catalog_of(const ExtenderSettings& settings) {
  return settings.catalog != nullptr ? *settings.catalog : policy::Catalog::builtin();
}

ExtenderResult counts_of(const Request& req) {
  ExtenderResult result;
  result.pod = req.pod.display_name();
  result.managed = req.demand.managed();
  result.payload_mode = req.payload_mode;
  result.nodes = req.candidates.size();
  return result;
}

// The pod's share intent; nullopt (with `error`) when its annotations do not parse, and
// nullopt without error when the pod asks for nothing gpushare manages.
// Called after resolve_names: the profile list may read the request's nodes.
std::optional<policy::Intent> intent_of(const Request& req, const ExtenderSettings& settings,
                                        std::string& error) {
  if (!req.demand.managed()) return std::nullopt;
  auto parsed = policy::parse_intent(req.pod.annotations, settings.annotation_prefix, [&] {
    return known_profiles(req, catalog_of(settings), settings.annotation_prefix);
  });
  if (parsed) return std::move(parsed).value();
  error = "invalid gpushare annotations: " + parsed.error();
  return std::nullopt;
}

}  // namespace

NodeSource node_source_from(std::vector<policy::NodeView> nodes) {
  // Sorted by name, as ClusterView::find needs; stable, so that of two nodes of one name the
  // first given is the one found.
  auto view = std::make_shared<policy::ClusterView>();
  view->nodes = std::move(nodes);
  std::stable_sort(
      view->nodes.begin(), view->nodes.end(),
      [](const policy::NodeView& a, const policy::NodeView& b) { return a.name < b.name; });
  return
      [view](std::span<const std::string_view> names, std::vector<const policy::NodeView*>& out) {
        out.reserve(out.size() + names.size());
        for (std::string_view name : names) out.push_back(view->find(name));
      };
}

ExtenderResult handle_filter(std::string_view body, const NodeSource& nodes,
                             const ExtenderSettings& settings) {
  auto decoded = decode_request(body);
  if (!decoded) return bad_request(decoded.error());
  Request& req = *decoded;
  attach_dra(req, nodes);
  const policy::Catalog& catalog = catalog_of(settings);
  ExtenderResult result = counts_of(req);
  if (result.managed) resolve_names(req, nodes);  // an unmanaged pod passes every node unread
  std::string intent_error;
  const std::optional<policy::Intent> intent = intent_of(req, settings, intent_error);

  // The reply is written as it is decided, not through a JSON tree (one map node per failed
  // name was most of the cost of a reply for thousands of names), and the passing list straight
  // into the reply, reserved once (in payload mode it can be as large as the body). Failed names
  // appear in input order; kube-scheduler reads them into a map.
  // Field order and nulls as Go's encoder writes ExtenderFilterResult.
  std::string out;
  out.reserve(req.payload_mode ? body.size() + 256 : req.candidates.size() * 16 + 256);
  out += req.payload_mode
             ? R"({"Nodes":{"apiVersion":"v1","kind":"NodeList","metadata":{},"items":[)"
             : R"({"Nodes":null,"NodeNames":[)";
  const std::size_t list_start = out.size();
  std::string failed_out;  // "FailedNodes" members
  std::string unresolvable_out;
  auto pass = [&](const Candidate& c) {
    ++result.passed;
    if (out.size() > list_start) out += ',';
    if (!req.payload_mode)
      codec::append_json_string(out, c.name);
    else if (c.original != nullptr)
      out += dump(*c.original);
    else
      out += c.source;
  };
  auto fail = [&](const Candidate& c, bool unresolvable, std::string_view reason) {
    std::string& to = unresolvable ? unresolvable_out : failed_out;
    ++(unresolvable ? result.unresolvable : result.failed);
    if (!to.empty()) to += ',';
    codec::append_json_string(to, c.name);
    to += ':';
    codec::append_json_string(to, reason);
  };
  for (const Candidate& c : req.candidates) {
    const policy::NodeView* view = nullptr;
    if (!result.managed) {
      pass(c);
    } else if (!intent) {
      fail(c, true, intent_error);
    } else if ((view = view_of(c)) == nullptr) {
      fail(c, false, "not in gpushare's node cache yet");
    } else {
      const policy::NodeFit fit = policy::fit_node(req.demand, *intent, *view, catalog);
      if (fit.fits)
        pass(c);
      else
        fail(c, fit.unresolvable, fit.reason);
    }
  }
  out += req.payload_mode ? "]},\"NodeNames\":null" : "]";
  out += ",\"FailedNodes\":{";
  out += failed_out;
  out += "},\"FailedAndUnresolvableNodes\":{";
  out += unresolvable_out;
  out += "},\"Error\":\"\"}";
  result.body = std::move(out);
  return result;
}

ExtenderResult handle_prioritize(std::string_view body, const NodeSource& nodes,
                                 const ExtenderSettings& settings) {
  auto decoded = decode_request(body);
  if (!decoded) return bad_request(decoded.error());
  Request& req = *decoded;
  attach_dra(req, nodes);
  const policy::Catalog& catalog = catalog_of(settings);
  ExtenderResult result = counts_of(req);
  if (result.managed) resolve_names(req, nodes);  // an unmanaged pod scores 0 everywhere
  std::string intent_error;  // prioritize errors are ignored by the scheduler: score 0
  const std::optional<policy::Intent> intent = intent_of(req, settings, intent_error);
  const policy::PlacementPolicy placement =
      intent && intent->placement ? *intent->placement : settings.default_placement;

  // Written directly, not through a JSON tree of one object per host (a map each): the list has
  // an entry for every name kube-scheduler sent, thousands at a time.
  std::string out = "[";
  out.reserve(req.candidates.size() * 32 + 2);
  for (const Candidate& c : req.candidates) {
    int score = policy::kMinScore;
    if (intent) {
      if (const policy::NodeView* view = view_of(c))
        score = policy::score_node(req.demand, *intent, *view, placement, catalog);
    }
    if (out.size() > 1) out += ',';
    out += "{\"Host\":";
    codec::append_json_string(out, c.name);
    out += ",\"Score\":";
    out += std::to_string(score);
    out += '}';
  }
  out += ']';
  result.body = std::move(out);
  return result;
}

}  // namespace gpushare::extender
