#include "server/cli.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "certs/certs.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "policy/catalog.h"
#include "server/cli_args.h"
#include "server/cluster_certs.h"
#include "server/cluster_state.h"
#include "server/command_input.h"
#include "server/dra_classes_command.h"
#include "server/nodes_file.h"
#include "server/serve.h"
#include "server/service.h"
#include "server/simulate_command.h"

namespace gpushare::server {

namespace {

constexpr const char* kUsage =
    R"(gpushare: GPU sharing for Kubernetes (MPS and MIG), as one TLS server.

Usage:
  gpushare serve --config FILE [--listen HOST:PORT] [--tls-cert FILE] [--tls-key FILE] [--kubeconfig FILE]
  gpushare mutate [FILE|-]       AdmissionReview v1 in, the response POST /mutate gives out
  gpushare filter [FILE|-]       ExtenderArgs in, ExtenderFilterResult out (POST /filter)
  gpushare prioritize [FILE|-]   ExtenderArgs in, HostPriorityList out (POST /prioritize)
  gpushare plan [FILE|-]         {"nodes":[...],"pods":[...],"configMaps":[...]} in, a repartition plan out
  gpushare dra-classes           DeviceClasses (YAML) that serve nvidia.com/mig-<profile> from
                                 NVIDIA DRA driver devices (README "On a DRA cluster")
  gpushare certs --service S --namespace NS --out DIR [--ip IP]... [--dns NAME]...
  gpushare certs --service S --namespace NS --secret NAME [--webhook NAME] [--renew-before-days D]
                 [--kubeconfig FILE] [--ip IP]... [--dns NAME]...
                                 keep or renew the certificates in a Secret and the webhook's caBundle
  gpushare certs --namespace NS --secret NAME --remove [--kubeconfig FILE]
  gpushare simulate [--nodes FILE | --cluster N] [--trace FILE | --seed S[,S...] --load L
                    --hours H --mix default|balanced|shifting] [--policy static,on-demand,greedy]
                                 replay a workload under each policy; one row per policy

Simulate flags (defaults in brackets):
  --cluster N          generated cluster of N 8-GPU nodes: 40% H100-80GB, 40% H20 (all-balanced),
                       20% RTX 4090 (MPS, --rtx-replicas [4]) [20]
  --nodes FILE         the cluster from a NodeList instead
  --trace FILE         pods from CSV lines arrival_s,mig|mps,profile|memory,runtime_s[,priority]
  --seed LIST          generated traces, one per seed; the table shows medians [1]
  --load L [0.8]  --hours H [8]  --mix NAME [default]  --runtime-median MIN [20]
  --runtime-sigma S [1.0]  --burst F (the first 10 min of each hour F times busier) [1]
  --batch-window S [10]  --reconfigure-delay S [60]  --write-trace FILE  --json
  --arrival-window S   on-demand counts the pods that arrived this recently [2400]
  --changes            list every node change each policy made (first trace)

Common flags:
  --catalog FILE   replace the built-in GPU catalog (YAML shaped like mig-catalog.yaml)
  --nodes FILE     a NodeList (JSON) the offline commands take as the cluster's state
  --help, --version

Exit codes: 0 when an answer was produced (allowed or denied); 2 with a one-line reason on
stderr when the input or the flags are wrong; 1 when the server fails to start or run.
)";

int fail(std::ostream& err, const std::string& message) {
  err << "gpushare: " << message << "\n";
  return 2;
}

// mutate / filter / prioritize: read, call the Service, print. Exit 2 when no answer could
// be produced (the input is not the expected document).
int run_offline(const Args& a, std::istream& in, std::ostream& out, std::ostream& err) {
  auto catalog = load_catalog(a.one("catalog").value_or(""), "--catalog");
  if (!catalog) return fail(err, catalog.error());
  policy::ClusterView view;
  if (auto nodes = a.one("nodes")) {
    auto loaded = load_nodes_file(*nodes);
    if (!loaded) return fail(err, loaded.error());
    view = std::move(*loaded);
  }
  auto input = read_input(a.positional, in);
  if (!input) return fail(err, input.error());
  StaticClusterState cluster(std::move(view));
  Service service(*catalog, cluster, ServiceSettings{});
  Reply reply;
  if (a.command == "mutate")
    reply = service.mutate(*input);
  else if (a.command == "filter")
    reply = service.filter(*input);
  else
    reply = service.prioritize(*input);
  if (reply.http_status != 200) return fail(err, reply.error.empty() ? reply.body : reply.error);
  out << reply.body << "\n";
  return 0;
}

// certs --secret: in the cluster (the Helm chart's certificate Jobs), through the same client as
// serve (in-cluster when KUBERNETES_SERVICE_HOST is set, else --kubeconfig / $KUBECONFIG).
int run_cluster_certs(const Args& a, std::ostream& out, std::ostream& err) {
  auto ns = a.one("namespace");
  auto secret = a.one("secret");
  if (!ns) return fail(err, "certs --secret needs --namespace");
  auto config = kube::load_config(a.one("kubeconfig").value_or(""));
  if (!config) return fail(err, "certs: " + config.error());
  kube::Client client(std::move(*config));
  if (a.one("remove")) {
    auto removed = remove_cluster_certificates(client, *ns, *secret);
    if (!removed) return fail(err, "certs: " + removed.error());
    err << "gpushare certs: Secret " << *ns << "/" << *secret
        << (*removed ? " deleted" : " not there, or not written by gpushare certs: left alone")
        << "\n";
    return 0;
  }
  ClusterCertsRequest req;
  auto service = a.one("service");
  if (!service) return fail(err, "certs --secret needs --service");
  req.request.service = *service;
  req.request.namespace_name = *ns;
  req.request.ip_addresses = a.many("ip");
  req.request.dns_names = a.many("dns");
  req.secret = *secret;
  req.webhook = a.one("webhook").value_or("");
  if (auto days = a.one("renew-before-days")) {
    int d = 0;
    std::istringstream in(*days);
    if (!(in >> d) || !in.eof() || d < 0 || d > 3650) {
      return fail(err, "--renew-before-days: \"" + *days + "\" is not a number of days (0-3650)");
    }
    req.renew_before = std::chrono::hours(24 * d);
  }
  auto outcome = ensure_cluster_certificates(client, req);
  if (!outcome) return fail(err, "certs: " + outcome.error());
  err << "gpushare certs: Secret " << *ns << "/" << *secret << " " << outcome->why << "\n";
  if (!req.webhook.empty()) {
    err << "gpushare certs: MutatingWebhookConfiguration " << req.webhook << ": "
        << (!outcome->webhook_found
                ? "not there yet (before install); the step after install sets its caBundle"
                : (outcome->webhook_written ? "caBundle set" : "caBundle already current"))
        << "\n";
  }
  out << outcome->ca_bundle << "\n";
  return 0;
}

int run_certs(const Args& a, std::ostream& out, std::ostream& err) {
  if (a.one("secret")) {
    if (a.one("out")) return fail(err, "certs takes --out or --secret, not both");
    return run_cluster_certs(a, out, err);
  }
  for (const char* cluster_only : {"webhook", "remove", "renew-before-days", "kubeconfig"}) {
    if (a.one(cluster_only)) {
      return fail(err, std::string("certs: --") + cluster_only + " needs --secret");
    }
  }
  certs::CertRequest req;
  auto service = a.one("service");
  auto ns = a.one("namespace");
  auto dir = a.one("out");
  if (!service || !ns || !dir) {
    return fail(err, "certs needs --service, --namespace and --out (or --secret)");
  }
  req.service = *service;
  req.namespace_name = *ns;
  req.ip_addresses = a.many("ip");
  req.dns_names = a.many("dns");
  auto bundle = certs::generate_certificates(req);
  if (!bundle) return fail(err, bundle.error());
  auto ca_bundle = certs::write_certificates(*bundle, *dir);
  if (!ca_bundle) return fail(err, ca_bundle.error());
  out << *ca_bundle << "\n";
  return 0;
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
            std::ostream& err) {
  if (args.empty()) {
    out << kUsage;
    return 2;
  }
  if (args.front() == "help") {
    out << kUsage;
    return 0;
  }
  auto parsed = parse_args(args);
  if (!parsed) return fail(err, parsed.error());
  const Args& a = *parsed;
  if (a.one("version")) {
    out << "gpushare " << GPUSHARE_VERSION << "\n";
    return 0;
  }
  if (a.one("help")) {
    out << kUsage;
    return 0;
  }
  if (a.command == "mutate" || a.command == "filter" || a.command == "prioritize")
    return run_offline(a, in, out, err);
  if (a.command == "plan") return run_plan(a.positional, a.one("catalog"), in, out, err);
  if (a.command == "certs") return run_certs(a, out, err);
  if (a.command == "dra-classes") return run_dra_classes(a.one("catalog"), out, err);
  if (a.command == "simulate") return run_simulate(a.flags, in, out, err);
  if (a.command == "serve") {
    ServeFlags flags;
    flags.config = a.one("config");
    flags.listen = a.one("listen");
    flags.tls_cert = a.one("tls-cert");
    flags.tls_key = a.one("tls-key");
    flags.kubeconfig = a.one("kubeconfig");
    flags.catalog = a.one("catalog");
    return run_serve(flags, err);
  }
  // parse_args knows every command in command_specs(); one listed there and not here is a bug.
  return fail(err, "command \"" + a.command + "\" is not wired up");
}

}  // namespace gpushare::server
