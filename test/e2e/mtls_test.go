package e2e

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestMutualTLS: a gpushare with tls.clientCAFile serves kube-apiserver, which presents the client certificate its
// AdmissionConfiguration kubeconfig names for the webhook's host:port, and kube-scheduler, which presents the one
// in the extender's tlsConfig (certFile/keyFile); a client without a certificate, or with one from another CA, is
// refused at the handshake.
func TestMutualTLS(t *testing.T) {
	requireExtender(t)
	ctx := ctxFor(t, 4*time.Minute)
	url, err := cluster.StartGpushareMTLS(ctx, "gpushare-mtls")
	if err != nil {
		t.Fatalf("start the mTLS gpushare: %v", err)
	}
	t.Cleanup(func() { cluster.StopGpushareReplica("gpushare-mtls") })

	for _, c := range []struct {
		name  string
		certs []tls.Certificate
	}{
		{"no client certificate", nil},
		{"a certificate from another CA", []tls.Certificate{cluster.MTLS.StrangerCert}},
	} {
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: cluster.GpushareCAPool(), Certificates: c.certs}}}
		if resp, err := hc.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("%s: GET /healthz answered %d, want the handshake refused", c.name, resp.StatusCode)
		}
	}

	// kube-apiserver: a webhook served only by the mTLS gpushare, failurePolicy Fail, for one namespace.
	ns := newNamespace(t)
	nsObj, err := cluster.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Labels = map[string]string{"e2e-mtls": ns}
	if _, err := cluster.Client.CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	main, err := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, cluster.WebhookConfig, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hook := main.DeepCopy()
	hook.ObjectMeta = metav1.ObjectMeta{Name: "gpushare-mtls-" + ns}
	fail := admissionregistrationv1.Fail // a refused handshake must refuse the pod, not skip the webhook
	for i := range hook.Webhooks {
		hook.Webhooks[i].FailurePolicy = &fail
		u := url + "/mutate"
		hook.Webhooks[i].ClientConfig.URL = &u
		hook.Webhooks[i].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"e2e-mtls": ns}}
	}
	if _, err := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, hook, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), hook.Name, metav1.DeleteOptions{})
	})
	// Until kube-apiserver has seen the configuration, dry-run creates do not reach the mTLS gpushare.
	seen := false
	for deadline := time.Now().Add(30 * time.Second); !seen && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		before := mutateCount(t, url)
		canary := newPod("canary", withAnnotations(annMode, "mps"), withLimits("nvidia.com/gpu", "1"))
		if _, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, canary, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatalf("dry-run create through the mTLS webhook (failurePolicy Fail): %v", err)
		}
		seen = mutateCount(t, url) > before
	}
	if !seen {
		t.Fatalf("kube-apiserver never called the mTLS gpushare's webhook")
	}

	// kube-scheduler: the mTLS gpushare as its extender, with the scheduler's client certificate.
	if err := cluster.RestartSchedulerWithExtenderAt(ctx, url, cluster.MTLS.SchedulerCert, cluster.MTLS.SchedulerKey, 0); err != nil {
		t.Fatalf("restart kube-scheduler with the mTLS extender: %v", err)
	}
	t.Cleanup(func() {
		if err := cluster.RestartScheduler(context.Background(), cluster.ExtenderEnabled, 0); err != nil {
			t.Errorf("put kube-scheduler back: %v", err)
		}
	})
	mutates, filters := mutateCount(t, url), requestCount(t, url, "/filter")
	p := createPod(t, ns, newPod("wants-mps", withAnnotations(annMode, "mps"), withLimits("nvidia.com/gpu", "1")))
	if got := p.Spec.Containers[0].Resources.Limits[corev1.ResourceName("nvidia.com/gpu.shared")]; got.String() != "1" {
		t.Errorf("pod limits %v, want nvidia.com/gpu.shared: 1 (mutated)", p.Spec.Containers[0].Resources.Limits)
	}
	node := waitScheduled(t, ns, p.Name, 60*time.Second)
	if got := mutateCount(t, url); got <= mutates {
		t.Errorf("the mTLS gpushare answered no /mutate for the pod (%d before, %d after)", mutates, got)
	}
	if got := requestCount(t, url, "/filter"); got <= filters {
		t.Errorf("the mTLS gpushare answered no /filter while kube-scheduler placed the pod on %s (%d before, %d after)", node, filters, got)
	}
	t.Logf("pod scheduled on %s through the mTLS extender; /mutate %d -> %d, /filter %d -> %d", node,
		mutates, mutateCount(t, url), filters, requestCount(t, url, "/filter"))
}
