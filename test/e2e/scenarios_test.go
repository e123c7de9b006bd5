package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"gpushare.test/e2e/nodeagent"
)

const (
	annMode     = "gpushare.io/mode"
	annProfile  = "gpushare.io/mig-profile"
	annMemory   = "gpushare.io/gpu-memory"
	annProduct  = "gpushare.io/gpu-product"
	annAssigned = "gpushare.io/assigned-resource"
)

// limitsOf returns the first container's limits and requests of the nvidia.com/* resources, as "name=qty".
func gpuResources(p *corev1.Pod) (limits, requests map[string]string) {
	limits, requests = map[string]string{}, map[string]string{}
	c := p.Spec.Containers[0]
	for n, q := range c.Resources.Limits {
		if strings.HasPrefix(string(n), "nvidia.com/") {
			limits[string(n)] = q.String()
		}
	}
	for n, q := range c.Resources.Requests {
		if strings.HasPrefix(string(n), "nvidia.com/") {
			requests[string(n)] = q.String()
		}
	}
	return limits, requests
}

// expectResource checks that the pod asks for exactly one GPU resource, res: 1 (limits and requests), and that
// the decision is recorded.
func expectResource(t *testing.T, p *corev1.Pod, res string) {
	t.Helper()
	l, r := gpuResources(p)
	want := map[string]string{res: "1"}
	if fmt.Sprint(l) != fmt.Sprint(want) || fmt.Sprint(r) != fmt.Sprint(want) {
		t.Errorf("pod %s: nvidia.com limits %v requests %v, want %v in both", p.Name, l, r, want)
	}
	if got := p.Annotations[annAssigned]; got != res {
		t.Errorf("pod %s: annotation %s = %q, want %q", p.Name, annAssigned, got, res)
	}
}

// TestPlainPodScheduled: the control plane works without gpushare: a CPU-only pod is scheduled on a simulated node
// and marked Running by the node agent.
func TestPlainPodScheduled(t *testing.T) {
	ns := newNamespace(t)
	p := createPod(t, ns, newPod("plain", withRequests("cpu", "100m", "memory", "64Mi")))
	if len(p.Annotations) != 0 {
		t.Errorf("plain pod got annotations %v", p.Annotations)
	}
	node := waitScheduled(t, ns, "plain", 30*time.Second)
	if !strings.HasPrefix(node, "e2e-") {
		t.Errorf("scheduled on %s, not a simulated node", node)
	}
	waitRunning(t, ns, "plain", 15*time.Second)
}

// TestMPSPodMutatedAndScheduled: mode mps + nvidia.com/gpu: 1 becomes nvidia.com/gpu.shared: 1 and lands on the
// MPS node.
func TestMPSPodMutatedAndScheduled(t *testing.T) {
	requireGpushare(t)
	ns := newNamespace(t)
	p := createPod(t, ns, newPod("mps", withAnnotations(annMode, "mps"), withLimits("nvidia.com/gpu", "1")))
	expectResource(t, p, "nvidia.com/gpu.shared")
	if node := waitScheduled(t, ns, "mps", 30*time.Second); node != "e2e-mps-4090" {
		t.Errorf("scheduled on %s, want e2e-mps-4090 (the only node with nvidia.com/gpu.shared)", node)
	}
	waitRunning(t, ns, "mps", 15*time.Second)
}

// admissionReview builds the AdmissionReview kube-apiserver would send for creating pod in ns.
func admissionReview(t *testing.T, ns string, pod *corev1.Pod) []byte {
	t.Helper()
	pod = pod.DeepCopy()
	pod.Namespace = ns
	pod.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	raw, _ := json.Marshal(pod)
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("e2e-" + suffix()), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Name: pod.Name, Namespace: ns,
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
		},
	}
	b, _ := json.Marshal(ar)
	return b
}

// TestTwoSharedGPUsRefused: more than one nvidia.com/gpu.shared per container is refused by kube-apiserver with
// gpushare's message (the same message POST /mutate gives for the same pod).
func TestTwoSharedGPUsRefused(t *testing.T) {
	requireGpushare(t)
	ns := newNamespace(t)
	cases := map[string]*corev1.Pod{
		"mapped": newPod("two-mapped", withAnnotations(annMode, "mps"), withLimits("nvidia.com/gpu", "2")),
		"direct": newPod("two-direct", withLimits("nvidia.com/gpu.shared", "2")),
	}
	for name, pod := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := cluster.Client.CoreV1().Pods(ns).Create(ctxFor(t, 30*time.Second), pod, metav1.CreateOptions{})
			if err == nil {
				t.Fatalf("pod %s asking for 2 shared GPUs was created", pod.Name)
			}
			msg := err.Error()
			code, body, perr := cluster.PostGpushare("/mutate", admissionReview(t, ns, pod))
			if perr != nil {
				t.Fatalf("POST /mutate: %v", perr)
			}
			var ar admissionv1.AdmissionReview
			if err := json.Unmarshal(body, &ar); err != nil || ar.Response == nil || code != 200 {
				t.Fatalf("POST /mutate: %d %s", code, body)
			}
			if ar.Response.Allowed || ar.Response.Result == nil || ar.Response.Result.Message == "" {
				t.Fatalf("POST /mutate allowed the pod or gave no message: %s", body)
			}
			want := ar.Response.Result.Message
			if !strings.Contains(msg, "denied the request") || !strings.Contains(msg, want) {
				t.Errorf("kube-apiserver said %q; want a webhook denial carrying gpushare's message %q", msg, want)
			}
			if !strings.Contains(want, "main") || !strings.Contains(want, "2") {
				t.Errorf("message %q should name the container (main) and the count (2)", want)
			}
			t.Logf("refused: %s", msg)
		})
	}
}

// TestMigProfileLandsOnH20: mig-profile 1g.12gb becomes nvidia.com/mig-1g.12gb and lands on the H20 node, the
// only one offering it.
func TestMigProfileLandsOnH20(t *testing.T) {
	requireGpushare(t)
	ns := newNamespace(t)
	p := createPod(t, ns, newPod("mig", withAnnotations(annProfile, "1g.12gb"), withLimits("nvidia.com/gpu", "1")))
	expectResource(t, p, "nvidia.com/mig-1g.12gb")
	if node := waitScheduled(t, ns, "mig", 30*time.Second); node != "e2e-h20" {
		t.Errorf("scheduled on %s, want e2e-h20", node)
	}
	waitRunning(t, ns, "mig", 15*time.Second)
}

// TestGPUMemoryOnH20: gpu-product NVIDIA-H20 + gpu-memory 20Gi becomes nvidia.com/mig-1g.24gb (CONTRACT rule 4's
// example) and lands on the H20 node.
func TestGPUMemoryOnH20(t *testing.T) {
	requireGpushare(t)
	ns := newNamespace(t)
	p := createPod(t, ns, newPod("mem", withAnnotations(annProduct, "NVIDIA-H20", annMemory, "20Gi"), withLimits("nvidia.com/gpu", "1")))
	expectResource(t, p, "nvidia.com/mig-1g.24gb")
	if node := waitScheduled(t, ns, "mem", 30*time.Second); node != "e2e-h20" {
		t.Errorf("scheduled on %s, want e2e-h20", node)
	}
}

// TestNoIntentUntouched: pods without gpushare intent are not changed (a whole-GPU pod lands on the full-GPU node).
func TestNoIntentUntouched(t *testing.T) {
	requireGpushare(t)
	ns := newNamespace(t)
	in := newPod("whole-gpu", withLimits("nvidia.com/gpu", "1"), withAnnotations("example.com/unrelated", "x"))
	p := createPod(t, ns, in)
	l, r := gpuResources(p)
	if fmt.Sprint(l) != "map[nvidia.com/gpu:1]" || fmt.Sprint(r) != "map[nvidia.com/gpu:1]" {
		t.Errorf("resources changed: limits %v requests %v", l, r)
	}
	for k := range p.Annotations {
		if strings.HasPrefix(k, "gpushare.io/") {
			t.Errorf("annotation %s added to an out-of-scope pod", k)
		}
	}
	if node := waitScheduled(t, ns, "whole-gpu", 30*time.Second); node != "e2e-a100-full" {
		t.Errorf("scheduled on %s, want e2e-a100-full (the only node with whole GPUs)", node)
	}
	cpu := createPod(t, ns, newPod("cpu-only", withRequests("cpu", "50m")))
	if len(cpu.Annotations) != 0 {
		t.Errorf("cpu-only pod got annotations %v", cpu.Annotations)
	}
}

// TestFailClosed: with gpushare down, in-scope pods are refused (failurePolicy Fail) while pods outside its scope
// are still created (matchConditions keep them away from the webhook).
func TestFailClosed(t *testing.T) {
	requireGpushare(t)
	ns := newNamespace(t)
	cluster.StopGpushare()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := cluster.StartGpushare(ctx); err != nil {
			t.Errorf("restart gpushare: %v", err)
			return
		}
		if err := cluster.WaitWebhookHonoured(ctx, time.Minute); err != nil {
			t.Errorf("after restart: %v", err)
		}
	})
	ctx := ctxFor(t, time.Minute)
	inScope := map[string]*corev1.Pod{
		"annotated":  newPod("in-annotated", withAnnotations(annMode, "mps"), withLimits("nvidia.com/gpu", "1")),
		"shared-res": newPod("in-shared", withLimits("nvidia.com/gpu.shared", "1")),
		"mig-res":    newPod("in-mig", withLimits("nvidia.com/mig-1g.12gb", "1")),
	}
	for name, p := range inScope {
		_, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err == nil {
			t.Errorf("%s: in-scope pod created while gpushare is down (want fail closed)", name)
			continue
		}
		if !strings.Contains(err.Error(), "webhook") {
			t.Errorf("%s: refused, but not by the webhook call: %v", name, err)
		}
		t.Logf("%s refused: %v", name, err)
	}
	outScope := map[string]*corev1.Pod{
		"plain":     newPod("out-plain", withRequests("cpu", "10m")),
		"whole-gpu": newPod("out-gpu", withLimits("nvidia.com/gpu", "1")),
		"other-ann": newPod("out-ann", withAnnotations("example.com/x", "gpushare.io/mode")),
	}
	for name, p := range outScope {
		if _, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Errorf("%s: out-of-scope pod refused while gpushare is down: %v", name, err)
		}
	}
}

// TestExtenderReasonInFailedScheduling: a pod that kube-scheduler's own plugins would place (the resource exists)
// but the extender refuses (gpu-product names a model no node has) stays Pending, and the FailedScheduling event
// carries the extender's reason, the same one POST /filter gives.
func TestExtenderReasonInFailedScheduling(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	p := createPod(t, ns, newPod("wrong-model", withAnnotations(annProfile, "1g.10gb", annProduct, "NVIDIA-H100-PCIe"),
		withLimits("nvidia.com/gpu", "1")))
	expectResource(t, p, "nvidia.com/mig-1g.10gb")
	// What the extender says about e2e-h100 (which offers nvidia.com/mig-1g.10gb but is an NVIDIA-H100-80GB-HBM3).
	passed, failed := extenderVerdict(t, p, "e2e-h100")
	reason := failed["e2e-h100"]
	if reason == "" {
		t.Fatalf("POST /filter passed %v, refused %v: e2e-h100 not refused for a pod restricted to NVIDIA-H100-PCIe", passed, failed)
	}
	if !strings.Contains(strings.ToLower(reason), "product") && !strings.Contains(reason, "NVIDIA-H100") {
		t.Errorf("POST /filter refused e2e-h100 with %q, which does not say that the GPU model (gpushare.io/gpu-product) is the reason", reason)
	}
	msg := waitEvent(t, ns, "wrong-model", "FailedScheduling", 45*time.Second, func(m string) bool { return strings.Contains(m, reason) })
	t.Logf("FailedScheduling: %s", msg)
	if got, _ := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), "wrong-model", metav1.GetOptions{}); got != nil && got.Spec.NodeName != "" {
		t.Errorf("pod was bound to %s", got.Spec.NodeName)
	}
}

// TestRaceForLastMIGInstance: two pods created at once for the only nvidia.com/mig-7g.96gb instance in the
// cluster: exactly one lands, the other stays Pending; they never both land on it.
func TestRaceForLastMIGInstance(t *testing.T) {
	requireGpushare(t)
	ns := newNamespace(t)
	node := addPrivateNode(t, nodeagent.NodeSpec{Name: "e2e-race-" + suffix(), Product: "NVIDIA-H20", Count: 1, MemoryMiB: 97871,
		Mode: nodeagent.ModeMIG, MigConfig: "e2e-h20-7g"})
	createAtOnce(t, ns,
		newPod("racer-0", withAnnotations(annProfile, "7g.96gb"), withLimits("nvidia.com/gpu", "1"), tolerating(privateTaint)),
		newPod("racer-1", withAnnotations(annProfile, "7g.96gb"), withLimits("nvidia.com/gpu", "1"), tolerating(privateTaint)))
	bound := func() []string { return boundPods(t, ns) }
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && len(bound()) == 0 {
		time.Sleep(200 * time.Millisecond)
	}
	// Watch for a while: the loser must never be bound.
	var got []string
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		if got = bound(); len(got) > 1 {
			t.Fatalf("both racers bound: %v (one nvidia.com/mig-7g.96gb instance in the cluster)", got)
		}
	}
	if len(got) != 1 || !strings.HasSuffix(got[0], "@"+node) {
		t.Fatalf("bound %v, want exactly one racer on %s", got, node)
	}
	loser := "racer-0"
	if strings.HasPrefix(got[0], "racer-0@") {
		loser = "racer-1"
	}
	waitEvent(t, ns, loser, "FailedScheduling", 30*time.Second, func(string) bool { return true })
}
