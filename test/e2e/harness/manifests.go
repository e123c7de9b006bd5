package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Doc is one YAML document of a manifest file.
type Doc struct {
	File string
	Obj  *unstructured.Unstructured
}

// ReadManifests returns every object in the YAML files under dir (recursively; kustomization files and documents
// without kind are left out), in file order.
func ReadManifests(dir string) ([]Doc, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n := d.Name()
		if !d.IsDir() && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) && !strings.HasPrefix(n, "kustomization.") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var docs []Doc
	for _, f := range files {
		d, err := ReadManifestFile(f)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

// ReadManifestFile returns the objects of one YAML file (documents without kind are left out).
func ReadManifestFile(f string) ([]Doc, error) {
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	var docs []Doc
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		chunk, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(chunk, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if m == nil || m["kind"] == nil {
			continue
		}
		docs = append(docs, Doc{File: f, Obj: &unstructured.Unstructured{Object: m}})
	}
	return docs, nil
}

// ---- MutatingWebhookConfiguration -----------------------------------------------------------------------------------

// The webhook used when manifests/ has none yet: same intent as CONTRACT section 3 rule 1 (scope), failing closed.
const scopeCEL = `(has(object.metadata.annotations) && object.metadata.annotations.exists(k, k.startsWith('gpushare.io/'))) || ` +
	`object.spec.containers.exists(c, has(c.resources) && ((has(c.resources.limits) && c.resources.limits.exists(r, r == 'nvidia.com/gpu.shared' || r.startsWith('nvidia.com/mig-'))) || (has(c.resources.requests) && c.resources.requests.exists(r, r == 'nvidia.com/gpu.shared' || r.startsWith('nvidia.com/mig-'))))) || ` +
	`(has(object.spec.initContainers) && object.spec.initContainers.exists(c, has(c.resources) && ((has(c.resources.limits) && c.resources.limits.exists(r, r == 'nvidia.com/gpu.shared' || r.startsWith('nvidia.com/mig-'))) || (has(c.resources.requests) && c.resources.requests.exists(r, r == 'nvidia.com/gpu.shared' || r.startsWith('nvidia.com/mig-'))))))`

func generatedWebhook() *unstructured.Unstructured {
	fail, none, never := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone, admissionregistrationv1.NeverReinvocationPolicy
	timeout := int32(10)
	scope := admissionregistrationv1.NamespacedScope
	w := admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: "gpushare"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "pods.gpushare.io", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail,
			TimeoutSeconds: &timeout, ReinvocationPolicy: &never,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
				Namespace: "gpushare-system", Name: "gpushare", Path: ptr("/mutate")}},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}, Scope: &scope}}},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system", "gpushare-system"}}}},
			MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "gpushare-scope", Expression: scopeCEL}},
		}},
	}
	m, _ := runtimeToUnstructured(&w)
	return m
}

func ptr[T any](v T) *T { return &v }

func runtimeToUnstructured(v any) (*unstructured.Unstructured, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// webhookFromManifests finds the MutatingWebhookConfiguration in manifests/ (nil, "" when there is none).
func (c *Cluster) webhookFromManifests() (*unstructured.Unstructured, string, error) {
	docs, err := Kustomize(filepath.Join(c.Opts.RepoRoot, "manifests"))
	if err != nil {
		return nil, "", err
	}
	for _, d := range docs {
		if d.Obj.GetKind() == "MutatingWebhookConfiguration" {
			return d.Obj, d.File, nil
		}
	}
	return nil, "", nil
}

// installWebhook creates the MutatingWebhookConfiguration with every clientConfig pointing at the local gpushare
// (url https://127.0.0.1:PORT/<the service path, default /mutate>, caBundle from `gpushare certs`), then waits until
// the apiserver honours it.
func (c *Cluster) installWebhook(ctx context.Context) error {
	if !c.HasGpushare() {
		return nil
	}
	obj, src, err := c.webhookFromManifests()
	if err != nil {
		return err
	}
	if obj == nil {
		obj, src = generatedWebhook(), "generated"
		c.logf("manifests/ has no MutatingWebhookConfiguration yet: using the harness's generated one")
	}
	obj = obj.DeepCopy()
	c.WebhookSource = src
	hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
	for i, h := range hooks {
		hm := h.(map[string]any)
		path := "/mutate"
		if p, ok, _ := unstructured.NestedString(hm, "clientConfig", "service", "path"); ok && p != "" {
			path = p
		} else if u, ok, _ := unstructured.NestedString(hm, "clientConfig", "url"); ok && u != "" {
			if pu, err := url.Parse(u); err == nil && pu.Path != "" {
				path = pu.Path
			}
		}
		hm["clientConfig"] = map[string]any{"url": c.GpushareURL + path, "caBundle": c.CABundle}
		hooks[i] = hm
	}
	if err := unstructured.SetNestedSlice(obj.Object, hooks, "webhooks"); err != nil {
		return err
	}
	ann := obj.GetAnnotations()
	delete(ann, "cert-manager.io/inject-ca-from")
	obj.SetAnnotations(ann)
	obj.SetResourceVersion("")
	b, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	if err := yaml.Unmarshal(b, &mwc); err != nil {
		return err
	}
	created, err := c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &mwc, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create MutatingWebhookConfiguration from %s: %w", src, err)
	}
	c.WebhookConfig = created.Name
	out, _ := yaml.Marshal(created)
	_ = os.WriteFile(filepath.Join(c.LogDir, "webhook.yaml"), out, 0o644)
	c.logf("MutatingWebhookConfiguration %s installed (from %s)", created.Name, src)
	return c.WaitWebhookHonoured(ctx, 60*time.Second)
}

// CanaryPod is an in-scope pod: mode mps, asking for one nvidia.com/gpu.
func CanaryPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"gpushare.io/mode": "mps"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}}}}},
	}
}

// WaitWebhookHonoured creates (dry run) an in-scope canary pod until it comes back mutated.
func (c *Cluster) WaitWebhookHonoured(ctx context.Context, timeout time.Duration) error {
	const ns = "e2e-canary"
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return c.waitFor(ctx, "webhook honoured (canary pod mutated)", nil, timeout, func() error {
		p, err := c.Client.CoreV1().Pods(ns).Create(ctx, CanaryPod("canary"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if _, ok := p.Spec.Containers[0].Resources.Limits["nvidia.com/gpu.shared"]; ok {
			return nil
		}
		return fmt.Errorf("canary not mutated yet: limits %v annotations %v", p.Spec.Containers[0].Resources.Limits, p.Annotations)
	})
}

// ---- kube-scheduler --------------------------------------------------------------------------------------------------

// schedulerConfigFromManifests finds a KubeSchedulerConfiguration under manifests/scheduler/, either as a document
// of its own or inside a ConfigMap's data.
func (c *Cluster) schedulerConfigFromManifests() (map[string]any, string, error) {
	dir := filepath.Join(c.Opts.RepoRoot, "manifests", "scheduler")
	if _, err := os.Stat(dir); err != nil {
		return nil, "", nil
	}
	docs, err := ReadManifests(dir)
	if err != nil {
		return nil, "", err
	}
	for _, d := range docs {
		if d.Obj.GetKind() == "KubeSchedulerConfiguration" {
			return d.Obj.Object, d.File, nil
		}
		if d.Obj.GetKind() == "ConfigMap" {
			data, _, _ := unstructured.NestedStringMap(d.Obj.Object, "data")
			keys := make([]string, 0, len(data))
			for k := range data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				var m map[string]any
				if yaml.Unmarshal([]byte(data[k]), &m) == nil && m["kind"] == "KubeSchedulerConfiguration" {
					return m, d.File + " (ConfigMap " + d.Obj.GetName() + ", key " + k + ")", nil
				}
			}
		}
	}
	return nil, "", nil
}

// GeneratedSchedulerConfig is the harness's KubeSchedulerConfiguration when manifests/scheduler/ has none.
func (c *Cluster) GeneratedSchedulerConfig() map[string]any {
	managed := []any{map[string]any{"name": "nvidia.com/gpu.shared", "ignoredByScheduler": false}}
	for _, r := range c.Catalog.AllMigResources() {
		managed = append(managed, map[string]any{"name": r, "ignoredByScheduler": false})
	}
	return map[string]any{
		"apiVersion": "kubescheduler.config.k8s.io/v1",
		"kind":       "KubeSchedulerConfiguration",
		"extenders": []any{map[string]any{
			"urlPrefix": "https://gpushare.gpushare-system.svc:443", "filterVerb": "filter", "prioritizeVerb": "prioritize",
			"weight": 5, "nodeCacheCapable": true, "enableHTTPS": true, "httpTimeout": "5s", "managedResources": managed,
			"tlsConfig": map[string]any{},
		}},
	}
}

func (c *Cluster) startScheduler(ctx context.Context) error {
	return c.startSchedulerWith(ctx, c.ExtenderEnabled, 0)
}

// RestartScheduler stops kube-scheduler and starts it again with or without gpushare as its extender and, when
// qps > 0, with clientConnection qps and burst set to it (the throughput benchmark). It returns once the new one
// is ready. RestartScheduler(ctx, cluster.ExtenderEnabled, 0) puts back what the suite runs with.
func (c *Cluster) RestartScheduler(ctx context.Context, extender bool, qps int) error {
	c.extenderTarget = nil
	return c.restartScheduler(ctx, extender, qps)
}

// extenderTarget is a gpushare other than the first one for kube-scheduler's extender, with the client
// certificate kube-scheduler presents to it (tlsConfig certFile/keyFile).
type extenderTarget struct{ baseURL, certFile, keyFile string }

// RestartSchedulerWithExtenderAt restarts kube-scheduler with the gpushare at baseURL as its extender (or another
// server with gpushare's serving certificate, ServingCertFiles), presenting the client certificate in
// certFile/keyFile (empty: none), with client QPS/Burst qps (0: the default). RestartScheduler puts back the first
// gpushare.
func (c *Cluster) RestartSchedulerWithExtenderAt(ctx context.Context, baseURL, certFile, keyFile string, qps int) error {
	c.extenderTarget = &extenderTarget{baseURL, certFile, keyFile}
	return c.restartScheduler(ctx, true, qps)
}

// ServingCertFiles are gpushare's serving certificate and key (signed by GpushareCA, for 127.0.0.1): a stand-in
// extender that presents them is trusted by the scheduler config RestartSchedulerWithExtenderAt writes.
func (c *Cluster) ServingCertFiles() (certFile, keyFile string) {
	return filepath.Join(c.gpushareCertDir, "tls.crt"), filepath.Join(c.gpushareCertDir, "tls.key")
}

func (c *Cluster) restartScheduler(ctx context.Context, extender bool, qps int) error {
	c.mu.Lock()
	p := c.procs["kube-scheduler"]
	c.mu.Unlock()
	if p != nil {
		p.Stop(10 * time.Second)
	}
	return c.startSchedulerWith(ctx, extender, qps)
}

func (c *Cluster) startSchedulerWith(ctx context.Context, extender bool, qps int) error {
	cfg, src, err := c.schedulerConfigFromManifests()
	if err != nil {
		return err
	}
	if cfg == nil {
		cfg, src = c.GeneratedSchedulerConfig(), "generated"
		c.logf("manifests/scheduler/ has no KubeSchedulerConfiguration yet: using the harness's generated one")
	}
	c.SchedulerSource = src
	cfg["clientConnection"] = map[string]any{"kubeconfig": c.Kubeconfig}
	if qps > 0 {
		cfg["clientConnection"] = map[string]any{"kubeconfig": c.Kubeconfig, "qps": qps, "burst": qps}
	}
	cfg["leaderElection"] = map[string]any{"leaderElect": false}
	if profiles, ok := cfg["profiles"].([]any); ok && len(profiles) > 0 {
		if p, ok := profiles[0].(map[string]any); ok {
			if n, _ := p["schedulerName"].(string); n != "" {
				c.SchedulerName = n
			}
		}
	}
	exts, _ := cfg["extenders"].([]any)
	if !extender {
		delete(cfg, "extenders")
	} else {
		for i, e := range exts {
			em := e.(map[string]any)
			path := ""
			if u, err := url.Parse(fmt.Sprint(em["urlPrefix"])); err == nil {
				path = strings.TrimSuffix(u.Path, "/")
			}
			base := c.GpushareURL
			if c.extenderTarget != nil {
				base = c.extenderTarget.baseURL
			}
			em["urlPrefix"] = base + path
			em["enableHTTPS"] = true
			tc, _ := em["tlsConfig"].(map[string]any)
			if tc == nil {
				tc = map[string]any{}
			}
			delete(tc, "caFile")
			delete(tc, "insecure")
			tc["caData"] = base64.StdEncoding.EncodeToString(c.GpushareCA)
			if c.extenderTarget != nil && c.extenderTarget.certFile != "" {
				tc["certFile"], tc["keyFile"] = c.extenderTarget.certFile, c.extenderTarget.keyFile
			}
			em["tlsConfig"] = tc
			exts[i] = em
		}
		cfg["extenders"] = exts
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	c.schedulerConfig = filepath.Join(c.Dir, "scheduler.yaml")
	if err := os.WriteFile(c.schedulerConfig, b, 0o644); err != nil {
		return err
	}
	_ = os.WriteFile(filepath.Join(c.LogDir, "scheduler.yaml"), b, 0o644)
	c.logf("kube-scheduler config from %s (extender %v, scheduler name %s)", src, extender, c.SchedulerName)
	c.schedulerCertDir = filepath.Join(c.Dir, "scheduler-certs")
	port := c.ports["scheduler"]
	args := []string{"--config=" + c.schedulerConfig, "--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + c.schedulerCertDir,
		"--authentication-kubeconfig=" + c.Kubeconfig, "--authorization-kubeconfig=" + c.Kubeconfig, "--v=3"}
	if c.Opts.SchedulerPprof {
		// Go's profiler needs no symbols in the binary (the harness builds it stripped); anonymous
		// GETs of these paths skip the authorization round trip.
		args = append(args, "--authorization-always-allow-paths=/healthz,/readyz,/livez,/debug/pprof/*")
	}
	p, err := c.start("kube-scheduler", filepath.Join(c.Opts.BinDir, "kube-scheduler"), args...)
	if err != nil {
		return err
	}
	hc := schedulerClient(5 * time.Second)
	return c.waitFor(ctx, "kube-scheduler /readyz", p, 60*time.Second, func() error {
		return httpGetOK(hc, fmt.Sprintf("https://127.0.0.1:%d/readyz", port), "")
	})
}

// schedulerClient reaches kube-scheduler's secure port, whose certificate it makes itself (--cert-dir).
func schedulerClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

// SchedulerProfile writes a CPU profile of kube-scheduler over the next `d` to `file` (Options.SchedulerPprof
// must be set when the scheduler started); read it with `go tool pprof -top FILE`.
func (c *Cluster) SchedulerProfile(ctx context.Context, d time.Duration, file string) error {
	hc := schedulerClient(d + 30*time.Second)
	u := fmt.Sprintf("https://127.0.0.1:%d/debug/pprof/profile?seconds=%d", c.ports["scheduler"], int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return os.WriteFile(file, body, 0o644)
}

// Kustomize renders a kustomization folder with the kustomize library the pinned Kubernetes release uses (as
// `kubectl apply -k` would) and returns its objects. A folder without kustomization.yaml gives all its YAML objects.
func Kustomize(dir string) ([]Doc, error) {
	if _, err := os.Stat(filepath.Join(dir, "kustomization.yaml")); os.IsNotExist(err) {
		return ReadManifests(dir)
	}
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	var docs []Doc
	for _, r := range rm.Resources() {
		b, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("kustomize %s: %w", dir, err)
		}
		docs = append(docs, Doc{File: dir, Obj: obj})
	}
	return docs, nil
}
