#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "policy/quantity.h"

namespace gpushare::server {

Result<std::pair<std::string, int>> parse_listen(const std::string& text) {
  std::string host;
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Error{"listen \"" + text + "\": expected [IPv6]:PORT"};
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
      return Error{"listen \"" + text + "\": expected HOST:PORT, e.g. 0.0.0.0:8443"};
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (host.empty()) host = "0.0.0.0";
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  // Port 0 asks the kernel for a free port (tests).
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return Error{"listen \"" + text + "\": port must be a number from 0 to 65535"};
  }
  return std::make_pair(host, port);
}

Result<Seconds> parse_duration(const std::string& text) {
  std::int64_t number = 0;
  const char* begin = text.data();
  const char* stop = text.data() + text.size();
  auto [end, ec] = std::from_chars(begin, stop, number);
  if (ec != std::errc() || number < 0) {
    return Error{"duration \"" + text + "\": expected a number with a unit, e.g. 10s, 5m, 500ms"};
  }
  std::string unit(end, stop);
  if (unit.empty() || unit == "s") return Seconds(number);
  if (unit == "ms") return Seconds((number + 999) / 1000);
  if (unit == "m") return Seconds(number * 60);
  if (unit == "h") return Seconds(number * 3600);
  return Error{"duration \"" + text + "\": unknown unit \"" + unit + "\" (use ms, s, m or h)"};
}

namespace {

// Walks a YAML mapping, giving each known key to its handler; anything else is an error
// that names the full path of the key.
class Section {
 public:
  Section(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {}

  using Handler = std::function<std::string(const YAML::Node&, const std::string& path)>;

  Section& on(const std::string& key, Handler handler) {
    handlers_[key] = std::move(handler);
    return *this;
  }

  std::string run() const {
    if (!node_ || node_.IsNull()) return {};
    if (!node_.IsMap()) return where("") + ": expected a mapping";
    for (const auto& kv : node_) {
      const auto key = kv.first.as<std::string>();
      auto it = handlers_.find(key);
      if (it == handlers_.end()) {
        std::string known;
        for (const auto& [k, h] : handlers_) known += (known.empty() ? "" : ", ") + k;
        return "unknown key " + where(key) + " (known keys: " + known + ")";
      }
      auto err = it->second(kv.second, where(key));
      if (!err.empty()) return err;
    }
    return {};
  }

 private:
  std::string where(const std::string& key) const {
    if (path_.empty()) return key;
    return key.empty() ? path_ : path_ + "." + key;
  }
  YAML::Node node_;
  std::string path_;
  std::map<std::string, Handler> handlers_;
};

std::string scalar(const YAML::Node& n, const std::string& path, std::string& out) {
  if (!n.IsScalar()) return path + ": expected a string";
  out = n.as<std::string>();
  return {};
}

std::string boolean(const YAML::Node& n, const std::string& path, bool& out) {
  if (!n.IsScalar()) return path + ": expected true or false";
  const auto v = n.as<std::string>();
  if (v == "true")
    out = true;
  else if (v == "false")
    out = false;
  else
    return path + ": \"" + v + "\" is not true or false";
  return {};
}

std::string duration(const YAML::Node& n, const std::string& path, Seconds& out, Seconds min) {
  std::string text;
  if (auto e = scalar(n, path, text); !e.empty()) return e;
  auto d = parse_duration(text);
  if (!d) return path + ": " + d.error();
  if (*d < min)
    return path + ": \"" + text + "\" is below the minimum of " + std::to_string(min.count()) + "s";
  out = *d;
  return {};
}

std::string count(const YAML::Node& n, const std::string& path, std::size_t& out, std::size_t min,
                  std::size_t max) {
  std::string text;
  if (auto e = scalar(n, path, text); !e.empty()) return e;
  std::size_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    return path + ": \"" + text + "\" must be a whole number from " + std::to_string(min) + " to " +
           std::to_string(max);
  }
  out = v;
  return {};
}

// A request body limit: a quantity from 1Ki to 1Gi.
std::string body_size(const YAML::Node& n, const std::string& path, std::size_t& out) {
  std::string text;
  if (auto e = scalar(n, path, text); !e.empty()) return e;
  auto qty = policy::parse_quantity(text);
  if (!qty || qty->ceil_units() < 1024 || qty->ceil_units() > (1LL << 30))
    return path + ": \"" + text + "\" must be a size from 1Ki to 1Gi, e.g. 3Mi";
  out = static_cast<std::size_t>(qty->ceil_units());
  return {};
}

// A label selector as a plain map (matchLabels): every value a string, no empty keys.
std::string label_map(const YAML::Node& n, const std::string& path,
                      std::map<std::string, std::string>& out) {
  if (!n || n.IsNull()) return {};
  if (!n.IsMap()) return path + ": expected a mapping of label keys to values";
  for (const auto& kv : n) {
    const auto key = kv.first.as<std::string>();
    if (key.empty()) return path + ": an empty label key";
    if (!kv.second.IsScalar()) return path + "." + key + ": expected a string value";
    out[key] = kv.second.as<std::string>();
  }
  return {};
}

std::string one_of(const YAML::Node& n, const std::string& path, std::string& out,
                   std::initializer_list<const char*> allowed) {
  std::string v;
  if (auto e = scalar(n, path, v); !e.empty()) return e;
  std::string list;
  for (const char* a : allowed) {
    if (v == a) {
      out = v;
      return {};
    }
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  return path + ": \"" + v + "\" is not one of " + list;
}

std::string parse_into(const YAML::Node& root, ServerConfig& c) {
  using N = const YAML::Node&;
  using P = const std::string&;
  return Section(root, "")
      .on("listen",
          [&](N n, P p) {
            std::string text;
            if (auto e = scalar(n, p, text); !e.empty()) return e;
            auto hp = parse_listen(text);
            if (!hp) return p + ": " + hp.error();
            c.listen_host = hp->first;
            c.listen_port = hp->second;
            return std::string();
          })
      .on("probes",
          [&](N n, P p) {
            return Section(n, p)
                .on("listen",
                    [&](N v, P q) {
                      std::string text;
                      if (auto e = scalar(v, q, text); !e.empty()) return e;
                      c.probes.enabled = !text.empty();
                      if (text.empty()) return std::string();
                      auto hp = parse_listen(text);
                      if (!hp) return q + ": " + hp.error() + " (\"\" turns the listener off)";
                      c.probes.listen_host = hp->first;
                      c.probes.listen_port = hp->second;
                      return std::string();
                    })
                .run();
          })
      .on("tls",
          [&](N n, P p) {
            return Section(n, p)
                .on("certFile", [&](N v, P q) { return scalar(v, q, c.tls.cert_file); })
                .on("keyFile", [&](N v, P q) { return scalar(v, q, c.tls.key_file); })
                .on("clientCAFile", [&](N v, P q) { return scalar(v, q, c.tls.client_ca_file); })
                .on("reloadCheck",
                    [&](N v, P q) { return duration(v, q, c.tls.reload_check, Seconds(1)); })
                .on("minVersion",
                    [&](N v, P q) {
                      return one_of(v, q, c.tls.min_version, {"1.2", "1.3"});
                    })
                .run();
          })
      .on("limits",
          [&](N n, P p) {
            return Section(n, p)
                .on("maxBodyBytes",
                    [&](N v, P q) { return body_size(v, q, c.limits.max_body_bytes); })
                .on("maxExtenderBodyBytes",
                    [&](N v, P q) { return body_size(v, q, c.limits.max_extender_body_bytes); })
                .on("readHeaderTimeout",
                    [&](N v, P q) {
                      return duration(v, q, c.limits.read_header_timeout, Seconds(1));
                    })
                .on("readTimeout",
                    [&](N v, P q) { return duration(v, q, c.limits.read_timeout, Seconds(1)); })
                .on("writeTimeout",
                    [&](N v, P q) { return duration(v, q, c.limits.write_timeout, Seconds(1)); })
                .on("keepAliveTimeout",
                    [&](N v, P q) {
                      return duration(v, q, c.limits.keep_alive_timeout, Seconds(1));
                    })
                .on("keepAliveMaxCount",
                    [&](N v, P q) {
                      return count(v, q, c.limits.keep_alive_max_count, 1, 1000000);
                    })
                .on("workerThreads",
                    [&](N v, P q) { return count(v, q, c.limits.worker_threads, 2, 4096); })
                .run();
          })
      .on("log",
          [&](N n, P p) {
            return Section(n, p)
                .on("level",
                    [&](N v, P q) {
                      return one_of(v, q, c.log.level, {"trace", "debug", "info", "warn", "error"});
                    })
                .on("format",
                    [&](N v, P q) {
                      return one_of(v, q, c.log.format, {"text", "json"});
                    })
                .run();
          })
      .on("annotationPrefix",
          [&](N n, P p) {
            if (auto e = scalar(n, p, c.annotation_prefix); !e.empty()) return e;
            if (c.annotation_prefix.empty() || c.annotation_prefix.back() != '/') {
              return p + ": \"" + c.annotation_prefix + "\" must end with '/', e.g. gpushare.io/";
            }
            return std::string();
          })
      .on("catalog", [&](N n, P p) { return scalar(n, p, c.catalog_file); })
      .on("cluster",
          [&](N n, P p) {
            return Section(n, p)
                .on("kubeconfig", [&](N v, P q) { return scalar(v, q, c.cluster.kubeconfig); })
                .on("inCluster", [&](N v, P q) { return boolean(v, q, c.cluster.in_cluster); })
                .on("staleAfter",
                    [&](N v, P q) { return duration(v, q, c.cluster.stale_after, Seconds(70)); })
                .run();
          })
      .on("dra",
          [&](N n, P p) {
            return Section(n, p)
                .on("enabled", [&](N v, P q) { return boolean(v, q, c.dra.enabled); })
                .run();
          })
      .on("gpuOperator",
          [&](N n, P p) {
            return Section(n, p)
                .on("namespace",
                    [&](N v, P q) { return scalar(v, q, c.gpu_operator.namespace_name); })
                .on("devicePluginConfigMap",
                    [&](N v, P q) { return scalar(v, q, c.gpu_operator.device_plugin_config_map); })
                .on("migPartedConfigMap",
                    [&](N v, P q) { return scalar(v, q, c.gpu_operator.mig_parted_config_map); })
                .run();
          })
      .on("scheduling",
          [&](N n, P p) {
            return Section(n, p)
                .on("defaultPlacement",
                    [&](N v, P q) {
                      std::string s;
                      if (auto e = one_of(v, q, s, {"binpack", "spread"}); !e.empty()) return e;
                      c.default_placement = s == "spread" ? policy::PlacementPolicy::kSpread
                                                          : policy::PlacementPolicy::kBinpack;
                      return std::string();
                    })
                .run();
          })
      .on("repartition",
          [&](N n, P p) {
            auto& r = c.repartition;
            return Section(n, p)
                .on("enabled", [&](N v, P q) { return boolean(v, q, r.enabled); })
                .on("allowDisruption", [&](N v, P q) { return boolean(v, q, r.allow_disruption); })
                .on("rebalanceIdleGpus",
                    [&](N v, P q) { return boolean(v, q, r.rebalance_idle_gpus); })
                .on("batchWindow",
                    [&](N v, P q) { return duration(v, q, r.batch_window, Seconds(0)); })
                .on("arrivalWindow",
                    [&](N v, P q) { return duration(v, q, r.arrival_window, Seconds(0)); })
                .on("propagationDelay",
                    [&](N v, P q) { return duration(v, q, r.propagation_delay, Seconds(0)); })
                .on("applyTimeout",
                    [&](N v, P q) { return duration(v, q, r.apply_timeout, Seconds(1)); })
                .on("failureBackoff",
                    [&](N v, P q) { return duration(v, q, r.failure_backoff, Seconds(0)); })
                .on("entryGcInterval",
                    [&](N v, P q) { return duration(v, q, r.entry_gc_interval, Seconds(1)); })
                .on("entryGrace",
                    [&](N v, P q) { return duration(v, q, r.entry_grace, Seconds(0)); })
                .on("leaseName", [&](N v, P q) { return scalar(v, q, r.lease_name); })
                .on("leaseNamespace", [&](N v, P q) { return scalar(v, q, r.lease_namespace); })
                .on("nodeSelector", [&](N v, P q) { return label_map(v, q, r.node_selector); })
                .run();
          })
      .run();
}

}  // namespace

Result<ServerConfig> parse_config(const std::string& yaml_text) {
  ServerConfig c;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Error{"config is not valid YAML: " + std::string(e.what())};
  }
  if (root && !root.IsNull() && !root.IsMap())
    return Error{"config: expected a mapping at the top level"};
  std::string err;
  try {
    err = parse_into(root, c);
  } catch (const YAML::Exception& e) {
    err = "config: " + std::string(e.what());
  }
  if (!err.empty()) return Error{"config: " + err};
  if (c.cluster.in_cluster && !c.cluster.kubeconfig.empty()) {
    return Error{"config: cluster.kubeconfig and cluster.inCluster are exclusive; set one"};
  }
  if (c.repartition.enabled && !c.cluster.enabled()) {
    return Error{
        "config: repartition.enabled needs a cluster (cluster.kubeconfig or cluster.inCluster)"};
  }
  if (c.dra.enabled && !c.cluster.enabled()) {
    return Error{"config: dra.enabled needs a cluster (cluster.kubeconfig or cluster.inCluster)"};
  }
  return c;
}

Result<ServerConfig> load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{"config " + path + ": cannot be read"};
  std::stringstream text;
  text << in.rdbuf();
  auto c = parse_config(text.str());
  if (!c) return Error{path + ": " + c.error()};
  return c;
}

}  // namespace gpushare::server
