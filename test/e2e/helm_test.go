package e2e

import (
	"encoding/base64"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"gpushare.test/e2e/harness"
)

// TestHelmInstallUpgradeUninstall: the chart installed with real helm into the real control plane. There is no
// kubelet here, so the chart's Deployment never runs; gpushare runs beside the cluster instead, with the config
// the chart installed (its ConfigMap) and the identity and permissions the chart installed (its ServiceAccount and
// roles), and the chart's webhook points at it (webhook.url, the e2e's URL/caBundle rewrite, as values). Then: a
// GPU-sharing pod is mutated through the chart's webhook and the extender answers as that identity; `helm upgrade`
// with a config change rolls the pods (new checksum); the certificate Job's command, run as the Job's
// ServiceAccount with the Job's roles, writes the Secret and the caBundle, keeps them on a second run and removes
// the Secret after; `helm uninstall` removes every object, the webhook first.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	requireHelm(t)
	requireGpushare(t)
	ctx := ctxFor(t, 5*time.Minute)
	const rel, ns = "gpushare-helm", "gpushare-helm"
	port, err := cluster.ReservePort(rel)
	if err != nil {
		t.Fatal(err)
	}
	kc := []string{"--kubeconfig", cluster.Kubeconfig}
	helm := func(args ...string) string {
		t.Helper()
		out, err := harness.Helm(append(args, kc...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	helm("install", rel, chartDir(), "--namespace", ns, "--create-namespace",
		"--set", "certificates.mode=secret", "--set", "certificates.caBundle="+cluster.CABundle,
		"--set", fmt.Sprintf("webhook.url=https://127.0.0.1:%d", port), "--set", "replicas=1")
	t.Cleanup(func() { _, _ = harness.Helm(append([]string{"uninstall", rel, "--namespace", ns}, kc...)...) })
	manifest := helm("get", "manifest", rel, "--namespace", ns)

	// gpushare as the chart's ServiceAccount, with the chart's config.
	cm, err := cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, rel+"-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	saKubeconfig, err := cluster.ServiceAccountKubeconfig(ctx, ns, rel)
	if err != nil {
		t.Fatal(err)
	}
	url, err := cluster.StartGpushareWithConfig(ctx, rel, port, cm.Data["config.yaml"], saKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.StopGpushareReplica(rel)

	// The webhook: a pod in scope is mutated, and the chart's gpushare is the one that was asked.
	if err := cluster.WaitWebhookHonoured(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	podNs := newNamespace(t)
	pod := createPod(t, podNs, newPod("helm-mps", withAnnotations("gpushare.io/mode", "mps"), withLimits("nvidia.com/gpu", "1")))
	if _, ok := pod.Spec.Containers[0].Resources.Limits["nvidia.com/gpu.shared"]; !ok {
		t.Fatalf("pod not mutated: limits %v", pod.Spec.Containers[0].Resources.Limits)
	}
	if n := mutateCount(t, url); n < 1 {
		t.Fatalf("the chart's gpushare answered %d /mutate calls; want the chart's webhook to have called it", n)
	}
	// The extender, as the chart's identity: a names-only filter over the cluster's nodes.
	nodes, err := cluster.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("nodes: %v (%d)", err, len(nodes.Items))
	}
	names := []string{}
	for _, n := range nodes.Items {
		names = append(names, `"`+n.Name+`"`)
	}
	status, body, err := cluster.PostGpushareAt(url, "/filter", []byte(fmt.Sprintf(`{"Pod":{"metadata":{"name":"p","namespace":"n"},"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu.shared":"1"}}}]}},"NodeNames":[%s]}`, strings.Join(names, ","))))
	if err != nil || status != 200 || !strings.Contains(string(body), `"NodeNames"`) {
		t.Fatalf("POST /filter to the chart's gpushare: %d %v %.300s", status, err, body)
	}

	// helm upgrade with a config change: the ConfigMap follows and the pod template's checksum changes.
	before := deploymentChecksum(t, ns, rel)
	helm("upgrade", rel, chartDir(), "--namespace", ns, "--reuse-values", "--set", "config.log.level=debug")
	cm, err = cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, rel+"-config", metav1.GetOptions{})
	if err != nil || !strings.Contains(cm.Data["config.yaml"], "level: debug") {
		t.Fatalf("ConfigMap after upgrade: %v\n%s", err, cm.Data["config.yaml"])
	}
	if after := deploymentChecksum(t, ns, rel); after == before || after == "" {
		t.Fatalf("checksum/config %q -> %q: a config change must roll the pods", before, after)
	}

	// The certificate Job's command, as the Job's identity with the Job's roles (rendered by the chart).
	certsCommandAsJob(t, rel, ns)

	// helm uninstall: everything goes, the webhook before the server it calls.
	w, err := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	d, err := cluster.Client.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	helm("uninstall", rel, "--namespace", ns)
	webhookRV, deploymentRV := deletedRV(t, w, rel), deletedRV(t, d, rel)
	if webhookRV >= deploymentRV {
		t.Errorf("webhook deleted at resourceVersion %d, Deployment at %d: the webhook must go first", webhookRV, deploymentRV)
	}
	assertGone(t, manifest)
}

func mutateCount(t *testing.T, url string) int { return requestCount(t, url, "/mutate") }

// requestCount is gpushare_http_requests_total for route (every code) at the gpushare at url.
func requestCount(t *testing.T, url, route string) int {
	t.Helper()
	status, body, err := cluster.GetGpushare(url, "/metrics")
	if err != nil || status != 200 {
		t.Fatalf("/metrics: %d %v", status, err)
	}
	total := 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "gpushare_http_requests_total{") && strings.Contains(line, `"`+route+`"`) {
			f := strings.Fields(line)
			n, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += int(n)
		}
	}
	return total
}

func deploymentChecksum(t *testing.T, ns, name string) string {
	t.Helper()
	d, err := cluster.Client.AppsV1().Deployments(ns).Get(ctxFor(t, 30*time.Second), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Annotations["checksum/config"]
}

func deletedRV(t *testing.T, w watch.Interface, name string) int64 {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch ended before %s was deleted", name)
			}
			if ev.Type != watch.Deleted {
				continue
			}
			obj, _ := ev.Object.(metav1.Object)
			if obj == nil || obj.GetName() != name {
				continue
			}
			rv, _ := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
			return rv
		case <-timeout:
			t.Fatalf("%s not deleted within 60 s", name)
		}
	}
}

// assertGone: every object of the release's manifest is NotFound.
func assertGone(t *testing.T, manifest string) {
	t.Helper()
	docs, err := harness.ParseDocs(manifest, "helm get manifest")
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cluster.Rest)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	ctx := ctxFor(t, time.Minute)
	for _, d := range docs {
		gvk := d.Obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s: %v", gvk.Kind, err)
			continue
		}
		ri := cluster.Dynamic.Resource(m.Resource)
		var gerr error
		if d.Obj.GetNamespace() != "" {
			_, gerr = ri.Namespace(d.Obj.GetNamespace()).Get(ctx, d.Obj.GetName(), metav1.GetOptions{})
		} else {
			_, gerr = ri.Get(ctx, d.Obj.GetName(), metav1.GetOptions{})
		}
		if !apierrors.IsNotFound(gerr) {
			t.Errorf("%s %s/%s left behind after helm uninstall (%v)", gvk.Kind, d.Obj.GetNamespace(), d.Obj.GetName(), gerr)
		}
	}
	if len(docs) < 8 {
		t.Errorf("the release's manifest had %d objects; expected the whole chart", len(docs))
	}
}

// certsCommandAsJob runs what the chart's certificate Jobs run, as their ServiceAccount bound to their roles.
func certsCommandAsJob(t *testing.T, rel, ns string) {
	t.Helper()
	ctx := ctxFor(t, 2*time.Minute)
	out, err := harness.Helm("template", rel, chartDir(), "--namespace", ns, "--set", "certificates.mode=job",
		"--show-only", "templates/certificates-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := harness.ParseDocs(out, "certificates-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.CreateRBAC(ctx, docs); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := cluster.ServiceAccountKubeconfig(ctx, ns, rel+"-certs")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(cluster.Opts.GpushareBin, append([]string{"certs", "--kubeconfig", kubeconfig}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpushare certs %v: %v\n%s", args, err, stderr.String())
		}
		return strings.TrimSpace(string(stdout)), stderr.String()
	}
	args := []string{"--service", rel, "--namespace", ns, "--secret", rel + "-tls", "--webhook", rel}
	caBundle, log := run(args...)
	if !strings.Contains(log, "created") || !strings.Contains(log, "caBundle set") {
		t.Errorf("first run: %s", log)
	}
	secret, err := cluster.Client.CoreV1().Secrets(ns).Get(ctx, rel+"-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if secret.Type != "kubernetes.io/tls" || base64.StdEncoding.EncodeToString(secret.Data["ca.crt"]) != caBundle {
		t.Errorf("Secret: type %s, ca.crt matches the printed caBundle: %v", secret.Type,
			base64.StdEncoding.EncodeToString(secret.Data["ca.crt"]) == caBundle)
	}
	mwc, err := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, rel, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.StdEncoding.EncodeToString(mwc.Webhooks[0].ClientConfig.CABundle); got != caBundle {
		t.Errorf("webhook caBundle is not the Secret's CA")
	}
	again, log := run(args...)
	if again != caBundle || !strings.Contains(log, "kept") || !strings.Contains(log, "already current") {
		t.Errorf("second run must keep everything: %s", log)
	}
	if _, log = run("--namespace", ns, "--secret", rel+"-tls", "--remove"); !strings.Contains(log, "deleted") {
		t.Errorf("--remove: %s", log)
	}
	if _, err := cluster.Client.CoreV1().Secrets(ns).Get(ctx, rel+"-tls", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Secret after --remove: %v", err)
	}
}
