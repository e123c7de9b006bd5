package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"gpushare.test/e2e/harness"
)

// The chart and the kustomize manifests are two renderings of one installation. These tests keep them from
// drifting: for the same settings, both render the same objects (after the differences that are each tool's way:
// Helm's own labels, kustomize's hashed ConfigMap name and the pod template's config checksum). `helm lint` must
// pass, values.schema.json must refuse what the server would refuse, and `helm template` must match the goldens
// under testdata/helm (E2E_UPDATE_GOLDENS=1 rewrites them).

func chartDir() string { return filepath.Join(cluster.Opts.RepoRoot, "charts", "gpushare") }

func requireHelm(t *testing.T) {
	t.Helper()
	if harness.HelmBin() == "" {
		t.Skip("E2E_HELM not set: run through test/e2e/run.sh, which builds helm")
	}
}

func helmTemplate(t *testing.T, sets ...string) []harness.Doc {
	t.Helper()
	out, err := harness.Helm(templateArgs(sets)...)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := harness.ParseDocs(out, "helm template "+strings.Join(sets, " "))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// templateArgs: `helm template` of release gpushare in gpushare-system (the names manifests/ uses) with sets.
func templateArgs(sets []string) []string {
	args := []string{"template", "gpushare", chartDir(), "--namespace", "gpushare-system"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}

var kustomizeHash = regexp.MustCompile(`^(gpushare-config)-[a-z0-9]{10}$`)

// normalize drops what differs by tool, not by meaning, and returns objects keyed by kind/namespace/name.
func normalize(t *testing.T, docs []harness.Doc, setConfig func(map[string]any)) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, d := range docs {
		o := d.Obj.DeepCopy().Object
		dropToolLabels(o)
		u := &unstructured.Unstructured{Object: o}
		if m := kustomizeHash.FindStringSubmatch(u.GetName()); m != nil && u.GetKind() == "ConfigMap" {
			u.SetName(m[1])
		}
		if u.GetKind() == "ConfigMap" {
			text, _, _ := unstructured.NestedString(o, "data", "config.yaml")
			var cfg map[string]any
			if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
				t.Fatal(err)
			}
			if setConfig != nil {
				setConfig(cfg)
			}
			_ = unstructured.SetNestedField(o, cfg, "data", "config.yaml")
		}
		if u.GetKind() == "Deployment" {
			vols, _, _ := unstructured.NestedSlice(o, "spec", "template", "spec", "volumes")
			for _, v := range vols {
				if cm, ok := v.(map[string]any)["configMap"].(map[string]any); ok {
					if m := kustomizeHash.FindStringSubmatch(cm["name"].(string)); m != nil {
						cm["name"] = m[1]
					}
				}
			}
			_ = unstructured.SetNestedSlice(o, vols, "spec", "template", "spec", "volumes")
			unstructured.RemoveNestedField(o, "spec", "template", "metadata", "annotations", "checksum/config")
			if a, _, _ := unstructured.NestedMap(o, "spec", "template", "metadata", "annotations"); len(a) == 0 {
				unstructured.RemoveNestedField(o, "spec", "template", "metadata", "annotations")
			}
		}
		if u.GetKind() == "MutatingWebhookConfiguration" {
			hooks, _, _ := unstructured.NestedSlice(o, "webhooks")
			for _, h := range hooks {
				unstructured.RemoveNestedField(h.(map[string]any), "clientConfig", "caBundle")
			}
			_ = unstructured.SetNestedSlice(o, hooks, "webhooks")
		}
		// Round-trip through JSON so that numbers and strings compare alike (0440 vs 288).
		b, _ := json.Marshal(o)
		var clean map[string]any
		_ = json.Unmarshal(b, &clean)
		out[u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName()] = clean
	}
	return out
}

// dropToolLabels removes Helm's and kustomize's bookkeeping labels everywhere (metadata, selectors, pod templates).
func dropToolLabels(v any) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range []string{"app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version", "helm.sh/chart"} {
			delete(x, k)
		}
		for _, c := range x {
			dropToolLabels(c)
		}
	case []any:
		for _, c := range x {
			dropToolLabels(c)
		}
	}
}

func setPath(cfg map[string]any, value any, path ...string) {
	m := cfg
	for _, p := range path[:len(path)-1] {
		m = m[p].(map[string]any)
	}
	m[path[len(path)-1]] = value
}

// TestChartMatchesKustomize: for each kustomize entry point, the chart with the matching values renders the same
// objects. The overlays' step 1 (edit config.yaml) is applied to the kustomize side, as an operator would.
func TestChartMatchesKustomize(t *testing.T) {
	requireHelm(t)
	ca := "Y2E=" // any caBundle: it is dropped before comparing (kustomize leaves it to the operator)
	cases := []struct {
		name, dir string
		sets      []string
		config    func(map[string]any)
	}{
		{"base", "manifests", []string{"namespace.create=true", "certificates.mode=secret", "certificates.caBundle=" + ca}, nil},
		{"cert-manager", "manifests/overlays/cert-manager", []string{"namespace.create=true", "certificates.mode=cert-manager"}, nil},
		{"repartition", "manifests/overlays/repartition",
			[]string{"namespace.create=true", "certificates.mode=secret", "certificates.caBundle=" + ca, "config.repartition.enabled=true"},
			func(c map[string]any) { setPath(c, true, "repartition", "enabled") }},
		{"allow-disruption", "manifests/overlays/allow-disruption",
			[]string{"namespace.create=true", "certificates.mode=secret", "certificates.caBundle=" + ca,
				"config.repartition.enabled=true", "config.repartition.allowDisruption=true"},
			func(c map[string]any) {
				setPath(c, true, "repartition", "enabled")
				setPath(c, true, "repartition", "allowDisruption")
			}},
		{"dra", "manifests/overlays/dra",
			[]string{"namespace.create=true", "certificates.mode=secret", "certificates.caBundle=" + ca, "config.dra.enabled=true"},
			func(c map[string]any) { setPath(c, true, "dra", "enabled") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kdocs, err := harness.Kustomize(filepath.Join(cluster.Opts.RepoRoot, c.dir))
			if err != nil {
				t.Fatal(err)
			}
			want := normalize(t, kdocs, c.config)
			// kustomize's placeholder image tag; the chart defaults to its appVersion.
			got := normalize(t, helmTemplate(t, append(c.sets, "image.tag=latest")...), nil)
			var keys []string
			for k := range want {
				keys = append(keys, k)
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				w, inK := want[k]
				g, inH := got[k]
				switch {
				case !inH:
					t.Errorf("%s: rendered by kustomize (%s), not by the chart", k, c.dir)
				case !inK:
					t.Errorf("%s: rendered by the chart, not by kustomize (%s)", k, c.dir)
				case !reflect.DeepEqual(w, g):
					t.Errorf("%s differs from kustomize (%s):\n%s", k, c.dir, yamlDiff(w, g))
				}
			}
		})
	}
}

// TestChartLintAndSchema: helm lint passes, and values the server would refuse are refused at install time.
func TestChartLintAndSchema(t *testing.T) {
	requireHelm(t)
	if out, err := harness.Helm("lint", "--strict", chartDir()); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	bad := map[string]string{
		"config.log.level=loud":                   "level",
		"config.repartition.batchWindow=ten":      "batchWindow",
		"config.unknownKey=1":                     "unknownKey",
		"config.limits.workerThreads=1":           "workerThreads",
		"certificates.mode=vault":                 "mode",
		"config.annotationPrefix=gpushare.io":     "annotationPrefix",
		"certificates.mode=secret":                "caBundle",
		"webhook.url=http://plain.example.com:80": "url",
	}
	for set, want := range bad {
		out, err := harness.Helm("template", "gpushare", chartDir(), "--set", set)
		if err == nil {
			t.Errorf("--set %s: rendered, want a refusal naming %q\n%.300s", set, want, out)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: refused, but the message does not name %q: %v", set, want, err)
		}
	}
}

// TestChartGoldens: `helm template` for the settings operators use most, byte for byte.
func TestChartGoldens(t *testing.T) {
	requireHelm(t)
	goldens := map[string][]string{
		"default.yaml":      nil,
		"cert-manager.yaml": {"certificates.mode=cert-manager"},
		"repartition.yaml": {"config.repartition.enabled=true", "config.repartition.allowDisruption=true",
			"networkPolicy.enabled=true", "serviceMonitor.enabled=true", "mtls.clientCAConfigMap=control-plane-client-ca"},
		"dra.yaml": {"config.dra.enabled=true"},
	}
	for name, sets := range goldens {
		out, err := harness.Helm(templateArgs(sets)...)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "helm", name)
		if os.Getenv("E2E_UPDATE_GOLDENS") != "" {
			_ = os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (E2E_UPDATE_GOLDENS=1 writes it)", err)
		}
		if string(want) != out {
			t.Errorf("helm template %v differs from %s (E2E_UPDATE_GOLDENS=1 rewrites it after review)", sets, path)
		}
	}
}

// yamlDiff lists the lines of a's YAML that b lacks (-) and b's that a lacks (+): enough to see a drift.
func yamlDiff(a, b map[string]any) string {
	ay, _ := yaml.Marshal(a)
	by, _ := yaml.Marshal(b)
	count := func(s []byte) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(string(s), "\n") {
			m[l]++
		}
		return m
	}
	ac, bc := count(ay), count(by)
	var out []string
	for _, l := range strings.Split(string(ay), "\n") {
		if bc[l] < ac[l] {
			out = append(out, "- "+l)
			ac[l]--
		}
	}
	ac = count(ay)
	for _, l := range strings.Split(string(by), "\n") {
		if ac[l] < bc[l] {
			out = append(out, "+ "+l)
			bc[l]--
		}
	}
	return strings.Join(out, "\n")
}
