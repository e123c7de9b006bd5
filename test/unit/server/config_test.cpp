// CONTRACT.md section 4: every key known, unknown keys and bad values stop startup by name.
#include "server/config.h"

#include <gtest/gtest.h>

namespace gpushare::server {
namespace {

TEST(Config, EmptyGivesDefaults) {
  auto c = parse_config("");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->listen_port, 8443);
  EXPECT_EQ(c->tls.min_version, "1.2");
  EXPECT_EQ(c->annotation_prefix, "gpushare.io/");
  EXPECT_EQ(c->gpu_operator.device_plugin_config_map, "device-plugin-config");
  EXPECT_EQ(c->gpu_operator.mig_parted_config_map, "custom-mig-parted-config");
  EXPECT_EQ(c->limits.max_body_bytes, 3u * 1024 * 1024);
  EXPECT_EQ(c->limits.max_extender_body_bytes, 3u * 1024 * 1024);
  EXPECT_GE(c->limits.keep_alive_max_count, 1000u);
  // Past the 90 s idle timeout of the Go clients that call gpushare (config.h): they, not the
  // server, close an idle connection, so none is closed under a request being sent.
  EXPECT_GT(c->limits.keep_alive_timeout, Seconds(90));
  EXPECT_FALSE(c->repartition.enabled);
  EXPECT_FALSE(c->repartition.allow_disruption);
  EXPECT_FALSE(c->dra.enabled);
  EXPECT_EQ(c->cluster.stale_after, Seconds(120));
  EXPECT_FALSE(c->cluster.enabled());
  EXPECT_TRUE(c->probes.enabled);
  EXPECT_EQ(c->probes.listen_port, 8081);
}

TEST(Config, ProbeListenerOff) {
  auto c = parse_config("probes: {listen: \"\"}\n");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_FALSE(c->probes.enabled);
}

TEST(Config, FullDocument) {
  auto c = parse_config(R"(
listen: "127.0.0.1:9443"
tls: {certFile: /tls/tls.crt, keyFile: /tls/tls.key, reloadCheck: 2s, minVersion: "1.3", clientCAFile: /mtls/ca.crt}
limits: {maxBodyBytes: 1Mi, maxExtenderBodyBytes: 64Mi, readHeaderTimeout: 2s, readTimeout: 5s, writeTimeout: 5s, keepAliveTimeout: 3s, keepAliveMaxCount: 5000, workerThreads: 16}
probes: {listen: "127.0.0.1:9081"}
log: {level: debug, format: json}
annotationPrefix: gpu.example.com/
catalog: /etc/gpushare/catalog.yaml
cluster: {kubeconfig: /kube/config}
gpuOperator: {namespace: nvidia, devicePluginConfigMap: dp, migPartedConfigMap: mp}
scheduling: {defaultPlacement: spread}
repartition: {enabled: true, allowDisruption: false, rebalanceIdleGpus: false, batchWindow: 5s, arrivalWindow: 30m, propagationDelay: 1m, applyTimeout: 10m, failureBackoff: 5m, entryGcInterval: 2m, entryGrace: 30m, leaseName: l, leaseNamespace: ns, nodeSelector: {pool: gpu-shared, "example.com/zone": a}}
dra: {enabled: true}
)");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 9443);
  EXPECT_EQ(c->tls.reload_check, Seconds(2));
  EXPECT_EQ(c->tls.min_version, "1.3");
  EXPECT_EQ(c->tls.client_ca_file, "/mtls/ca.crt");
  EXPECT_EQ(c->limits.max_body_bytes, 1024u * 1024);
  EXPECT_EQ(c->limits.max_extender_body_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(c->limits.worker_threads, 16u);
  EXPECT_EQ(c->limits.read_header_timeout, Seconds(2));
  EXPECT_TRUE(c->probes.enabled);
  EXPECT_EQ(c->probes.listen_host, "127.0.0.1");
  EXPECT_EQ(c->probes.listen_port, 9081);
  EXPECT_EQ(c->log.format, "json");
  EXPECT_EQ(c->annotation_prefix, "gpu.example.com/");
  EXPECT_EQ(c->cluster.kubeconfig, "/kube/config");
  EXPECT_EQ(c->gpu_operator.namespace_name, "nvidia");
  EXPECT_EQ(c->default_placement, policy::PlacementPolicy::kSpread);
  EXPECT_TRUE(c->repartition.enabled);
  EXPECT_TRUE(c->dra.enabled);
  EXPECT_FALSE(c->repartition.rebalance_idle_gpus);
  EXPECT_EQ(c->repartition.arrival_window, Seconds(1800));
  EXPECT_EQ(c->repartition.propagation_delay, Seconds(60));
  EXPECT_EQ(c->repartition.apply_timeout, Seconds(600));
  EXPECT_EQ(c->repartition.entry_gc_interval, Seconds(120));
  EXPECT_EQ(c->repartition.entry_grace, Seconds(1800));
  EXPECT_EQ(c->repartition.node_selector, (std::map<std::string, std::string>{
                                              {"pool", "gpu-shared"}, {"example.com/zone", "a"}}));
}

struct Bad {
  const char* name;
  const char* yaml;
  const char* names;  // the message must contain this
};

class ConfigErrors : public ::testing::TestWithParam<Bad> {};

TEST_P(ConfigErrors, NameTheKeyOrValue) {
  auto c = parse_config(GetParam().yaml);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find(GetParam().names), std::string::npos) << c.error();
}

INSTANTIATE_TEST_SUITE_P(
    Startup, ConfigErrors,
    ::testing::Values(
        Bad{"UnknownTopLevel", "listn: x", "unknown key listn"},
        Bad{"UnknownNested", "tls: {certfile: x}", "unknown key tls.certfile"},
        Bad{"TlsMinVersion", "tls: {minVersion: \"1.1\"}", "tls.minVersion"},
        Bad{"BadPort", "listen: \"0.0.0.0:99999\"", "port must be"},
        Bad{"BadProbePort", "probes: {listen: \"0.0.0.0:http\"}", "probes.listen"},
        Bad{"BadLevel", "log: {level: loud}", "log.level: \"loud\""},
        Bad{"BadFormat", "log: {format: xml}", "log.format"},
        Bad{"BadRebalance", "repartition: {rebalanceIdleGpus: sometimes}",
            "repartition.rebalanceIdleGpus"},
        Bad{"BadDuration", "limits: {readTimeout: 10 seconds}", "limits.readTimeout"},
        Bad{"ZeroTimeout", "limits: {readTimeout: 0s}", "limits.readTimeout"},
        Bad{"BadBody", "limits: {maxBodyBytes: lots}", "limits.maxBodyBytes"},
        Bad{"BadExtenderBody", "limits: {maxExtenderBodyBytes: 2Gi}",
            "limits.maxExtenderBodyBytes"},
        Bad{"BadBool", "repartition: {enabled: yes please}", "repartition.enabled"},
        Bad{"BadPlacement", "scheduling: {defaultPlacement: pack}", "scheduling.defaultPlacement"},
        Bad{"PrefixWithoutSlash", "annotationPrefix: gpushare.io", "annotationPrefix"},
        Bad{"NotAMapping", "- a\n- b", "mapping"},
        Bad{"NotYaml", "tls: {certFile: [", "not valid YAML"},
        Bad{"RepartitionWithoutCluster", "repartition: {enabled: true}", "needs a cluster"},
        Bad{"StaleTooShort", "cluster: {kubeconfig: k, staleAfter: 30s}", "cluster.staleAfter"},
        Bad{"DraWithoutCluster", "dra: {enabled: true}", "dra.enabled needs a cluster"},
        Bad{"DraUnknownKey", "dra: {driver: x}", "unknown key dra.driver"},
        Bad{"BothClusterModes", "cluster: {kubeconfig: k, inCluster: true}", "exclusive"},
        Bad{"SectionNotMapping", "tls: 5", "tls: expected a mapping"},
        Bad{"SelectorNotMapping", "repartition: {nodeSelector: [a]}",
            "repartition.nodeSelector: expected a mapping"},
        Bad{"SelectorValueNotString", "repartition: {nodeSelector: {pool: [a]}}",
            "repartition.nodeSelector.pool: expected a string"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Config, ListenForms) {
  EXPECT_EQ(parse_listen(":8443")->first, "0.0.0.0");
  EXPECT_EQ(parse_listen("[::1]:8443")->first, "::1");
  EXPECT_EQ(parse_listen("127.0.0.1:0")->second, 0);
  EXPECT_FALSE(parse_listen("8443").ok());
}

TEST(Config, Durations) {
  EXPECT_EQ(*parse_duration("10s"), Seconds(10));
  EXPECT_EQ(*parse_duration("5m"), Seconds(300));
  EXPECT_EQ(*parse_duration("1500ms"), Seconds(2));
  EXPECT_EQ(*parse_duration("7"), Seconds(7));
  EXPECT_FALSE(parse_duration("-1s").ok());
  EXPECT_FALSE(parse_duration("1d").ok());
}

}  // namespace
}  // namespace gpushare::server
