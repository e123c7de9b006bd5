#include "server/cli_args.h"

#include <algorithm>

namespace gpushare::server {

namespace {

constexpr FlagSpec value(std::string_view name) { return {name, true, false}; }
constexpr FlagSpec repeated(std::string_view name) { return {name, true, true}; }
constexpr FlagSpec toggle(std::string_view name) { return {name, false, false}; }

const FlagSpec* find_flag(const CommandSpec& spec, std::string_view name) {
  for (const auto& f : spec.flags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const CommandSpec* find_command(std::string_view name) {
  for (const auto& c : command_specs()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Whether "--name" swallows the next argument. Decided before the subcommand is known (flags may
// come before it), from every subcommand's flags; a flag's kind is the same in all of them.
bool takes_value_anywhere(std::string_view name) {
  return std::any_of(command_specs().begin(), command_specs().end(), [&](const CommandSpec& c) {
    const FlagSpec* f = find_flag(c, name);
    return f != nullptr && f->takes_value;
  });
}

std::string usage_of(const CommandSpec& spec) {
  return "usage: gpushare " + std::string(spec.usage);
}

}  // namespace

const std::vector<CommandSpec>& command_specs() {
  static const std::vector<CommandSpec> kSpecs = [] {
    const std::vector<FlagSpec> offline = {value("catalog"), value("nodes")};
    return std::vector<CommandSpec>{
        {"serve",
         "serve --config FILE [--listen HOST:PORT] [--tls-cert FILE] [--tls-key FILE] "
         "[--kubeconfig FILE] [--catalog FILE]",
         0,
         {value("config"), value("listen"), value("tls-cert"), value("tls-key"),
          value("kubeconfig"), value("catalog")}},
        {"mutate", "mutate [--catalog FILE] [--nodes FILE] [FILE|-]", 1, offline},
        {"filter", "filter [--catalog FILE] [--nodes FILE] [FILE|-]", 1, offline},
        {"prioritize", "prioritize [--catalog FILE] [--nodes FILE] [FILE|-]", 1, offline},
        {"plan", "plan [--catalog FILE] [FILE|-]", 1, {value("catalog")}},
        {"dra-classes", "dra-classes [--catalog FILE]", 0, {value("catalog")}},
        {"certs",
         "certs --service S --namespace NS (--out DIR | --secret NAME [--webhook NAME]) "
         "[--ip IP]... [--dns NAME]...",
         0,
         {value("service"), value("namespace"), value("out"), repeated("ip"), repeated("dns"),
          value("secret"), value("webhook"), value("renew-before-days"), value("kubeconfig"),
          toggle("remove")}},
        {"simulate",
         "simulate [--nodes FILE | --cluster N] [--trace FILE | --seed S[,S...] --load L "
         "--hours H --mix NAME] [--policy LIST] [--json] ... (gpushare --help lists all)",
         0,
         {value("catalog"), value("nodes"), value("cluster"), value("rtx-replicas"), value("trace"),
          value("seed"), value("load"), value("hours"), value("mix"), value("runtime-median"),
          value("runtime-sigma"), value("burst"), value("batch-window"), value("reconfigure-delay"),
          value("arrival-window"), value("policy"), value("write-trace"), toggle("json"),
          toggle("changes")}},
    };
  }();
  return kSpecs;
}

std::optional<std::string> Args::one(const std::string& name) const {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

const std::vector<std::string>& Args::many(const std::string& name) const {
  static const std::vector<std::string> kNone;
  auto it = flags.find(name);
  return it == flags.end() ? kNone : it->second;
}

Result<Args> parse_args(const std::vector<std::string>& argv) {
  Args a;
  // Flags in the order given, each with its value (nullopt for "--x" without "=").
  std::vector<std::pair<std::string, std::optional<std::string>>> given;
  bool help_or_version = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    if (s.size() <= 2 || s.rfind("--", 0) != 0) {
      // "-" is the positional "read stdin"; so is anything that does not start with "--".
      if (a.command.empty()) {
        a.command = s;
      } else {
        a.positional.push_back(s);
      }
      continue;
    }
    std::string name = s.substr(2);
    std::optional<std::string> val;
    if (auto eq = name.find('='); eq != std::string::npos) {
      val = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "help" || name == "version") {
      help_or_version = true;
      a.flags[name].push_back("true");
      continue;
    }
    if (!val && takes_value_anywhere(name)) {
      if (i + 1 >= argv.size()) return Error{"flag --" + name + " needs a value"};
      val = argv[++i];
    }
    given.emplace_back(name, val);
  }
  if (help_or_version) return a;
  if (a.command.empty()) return Error{"no subcommand given (see gpushare --help)"};
  const CommandSpec* spec = find_command(a.command);
  if (spec == nullptr) return Error{"unknown command \"" + a.command + "\" (see gpushare --help)"};
  for (auto& [name, val] : given) {
    const FlagSpec* flag = find_flag(*spec, name);
    if (flag == nullptr) {
      return Error{a.command + " takes no flag --" + name + "; " + usage_of(*spec)};
    }
    if (!flag->takes_value && val) {
      return Error{"flag --" + name + " takes no value; " + usage_of(*spec)};
    }
    auto& values = a.flags[name];
    if (!flag->repeatable && !values.empty()) {
      return Error{"flag --" + name + " given twice; " + usage_of(*spec)};
    }
    values.push_back(val.value_or("true"));
  }
  if (a.positional.size() > spec->max_positional) {
    const std::string what = spec->max_positional == 0 ? "takes no positional argument"
                                                       : "takes at most one input (FILE or -)";
    return Error{a.command + " " + what + ", got \"" + a.positional[spec->max_positional] + "\"; " +
                 usage_of(*spec)};
  }
  return a;
}

}  // namespace gpushare::server
