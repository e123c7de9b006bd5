// The e2e scenarios: one real control plane (etcd, kube-apiserver, kube-scheduler) plus gpushare and simulated GPU
// nodes, shared by all tests; each test works in its own namespace. Run with test/e2e/run.sh (or `go test ./...`
// in test/e2e; the control plane binaries are built on first use, see build.sh).
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"gpushare.test/e2e/harness"
	"gpushare.test/e2e/nodeagent"
)

var cluster *harness.Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	opts, err := harness.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	spec, err := nodeagent.LoadSpec(filepath.Join("testdata", "nodes.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	opts.Nodes = spec
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	cluster, err = harness.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cluster did not start:", err)
		if cluster != nil {
			cluster.DumpLogs(os.Stderr, 40)
		}
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: cluster up in %s (webhook from %s, scheduler config from %s, extender %v); logs in %s\n",
		time.Since(t0).Round(time.Millisecond), cluster.WebhookSource, cluster.SchedulerSource, cluster.ExtenderEnabled, cluster.LogDir)
	code := m.Run()
	// Every gpushare ran as a ServiceAccount bound to the shipped roles: a refusal anywhere is a missing verb.
	logs, _ := filepath.Glob(filepath.Join(cluster.LogDir, "gpushare*.log"))
	for _, log := range logs {
		if lines := forbiddenLines(log); len(lines) > 0 {
			fmt.Fprintf(os.Stderr, "e2e: %s shows API refusals (the shipped RBAC lacks a verb gpushare calls):\n%s\n",
				log, strings.Join(lines, "\n"))
			code = 1
		}
	}
	cluster.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: FAILED; every component's log is in %s\n", cluster.LogDir)
	}
	return code
}

// ---- helpers -------------------------------------------------------------------------------------------------------

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func suffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newNamespace makes the test's own namespace; at the end its pods are removed (there is no namespace controller to
// finish a namespace deletion) and, when the test failed, the logs' place and tails, the pods and the events are
// printed.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	name = strings.Trim(name, "-") + "-" + suffix()
	ctx := ctxFor(t, time.Minute)
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if t.Failed() {
			dumpNamespace(t, ctx, name)
			var sb strings.Builder
			cluster.DumpLogs(&sb, 25)
			t.Log(sb.String())
		}
		zero := int64(0)
		_ = cluster.Client.CoreV1().Pods(name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	})
	return name
}

func dumpNamespace(t *testing.T, ctx context.Context, ns string) {
	pods, err := cluster.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, p := range pods.Items {
			var res []string
			for _, c := range p.Spec.Containers {
				res = append(res, fmt.Sprintf("%s limits=%v requests=%v", c.Name, c.Resources.Limits, c.Resources.Requests))
			}
			t.Logf("pod %s/%s node=%q phase=%s annotations=%v %s", ns, p.Name, p.Spec.NodeName, p.Status.Phase, p.Annotations, strings.Join(res, "; "))
		}
	}
	evs, err := cluster.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, e := range evs.Items {
			t.Logf("event %s %s/%s %s: %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
}

func requireGpushare(t *testing.T) {
	t.Helper()
	if !cluster.HasGpushare() {
		t.Skip("gpushare is not running (binary missing or without serve/certs); see harness.log")
	}
}

func requireExtender(t *testing.T) {
	t.Helper()
	requireGpushare(t)
	if !cluster.ExtenderEnabled {
		t.Skip("gpushare does not serve POST /filter yet: kube-scheduler runs without the extender")
	}
}

type podOpt func(*corev1.Pod)

func withAnnotations(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Annotations[kv[i]] = kv[i+1]
		}
	}
}

// withLimits sets limits (and, for extended resources, the same requests, as the apiserver would default them).
func withLimits(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		if c.Resources.Limits == nil {
			c.Resources.Limits = corev1.ResourceList{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			c.Resources.Limits[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
	}
}

func withRequests(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			c.Resources.Requests[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
	}
}

func tolerating(key string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	}
}

func newPod(name string, opts ...podOpt) *corev1.Pod {
	zero := int64(0)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			SchedulerName:                 cluster.SchedulerName,
			TerminationGracePeriodSeconds: &zero,
			Containers:                    []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func createPod(t *testing.T, ns string, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := cluster.Client.CoreV1().Pods(ns).Create(ctxFor(t, 30*time.Second), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, p.Name, err)
	}
	return out
}

// waitScheduled waits until the pod is bound and returns its node.
func waitScheduled(t *testing.T, ns, name string, timeout time.Duration) string {
	t.Helper()
	var last *corev1.Pod
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p, err := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = p
			if p.Spec.NodeName != "" {
				return p.Spec.NodeName
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("pod %s/%s not scheduled within %s; conditions %v; events:\n%s", ns, name, timeout, conditions(last), events(ns, name))
	return ""
}

func waitRunning(t *testing.T, ns, name string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p, err := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("pod %s/%s not Running within %s (the node agent marks bound pods Running)", ns, name, timeout)
}

func conditions(p *corev1.Pod) string {
	if p == nil {
		return "<no pod>"
	}
	var s []string
	for _, c := range p.Status.Conditions {
		s = append(s, fmt.Sprintf("%s=%s %s %s", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(s, "; ")
}

// events lists the events about one object, oldest first.
func events(ns, name string) string {
	evs, err := cluster.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
	if err != nil {
		return err.Error()
	}
	sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
	var s []string
	for _, e := range evs.Items {
		s = append(s, fmt.Sprintf("  %s %s: %s", e.Type, e.Reason, e.Message))
	}
	return strings.Join(s, "\n")
}

// waitEvent waits for an event with reason about the object and returns the messages seen.
func waitEvent(t *testing.T, ns, name, reason string, timeout time.Duration, match func(msg string) bool) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var seen []string
	for time.Now().Before(deadline) {
		evs, err := cluster.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
		if err == nil {
			seen = seen[:0]
			for _, e := range evs.Items {
				if e.Reason == reason {
					seen = append(seen, e.Message)
					if match(e.Message) {
						return e.Message
					}
				}
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("no %s event on %s/%s matching within %s; %s events seen: %q", reason, ns, name, timeout, reason, seen)
	return ""
}

func getNode(t *testing.T, name string) *corev1.Node {
	t.Helper()
	n, err := cluster.Client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get node %s: %v", name, err)
	}
	return n
}

// addPrivateNode creates a simulated node only this test uses: tainted with e2e.gpushare.io/private=<name>, so that
// other tests' pods never land there. It is removed when the test ends.
func addPrivateNode(t *testing.T, spec nodeagent.NodeSpec) string {
	t.Helper()
	spec.Taints = append(spec.Taints, nodeagent.Taint{Key: privateTaint, Value: spec.Name, Effect: string(corev1.TaintEffectNoSchedule)})
	if err := cluster.Agent.AddNode(ctxFor(t, 30*time.Second), spec); err != nil {
		t.Fatalf("add node %s: %v", spec.Name, err)
	}
	t.Cleanup(func() {
		if err := cluster.Agent.RemoveNode(context.Background(), spec.Name); err != nil && !apierrors.IsNotFound(err) {
			t.Logf("remove node %s: %v", spec.Name, err)
		}
	})
	return spec.Name
}

const privateTaint = "e2e.gpushare.io/private"

// createAtOnce creates the pods concurrently (a burst, as a Job or a user's loop makes one) and fails the test if any
// create fails.
func createAtOnce(t *testing.T, ns string, pods ...*corev1.Pod) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = cluster.Client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create %s: %v", pods[i].Name, err)
		}
	}
}

// boundPods lists the namespace's pods that have a node, as "name@node", sorted.
func boundPods(t *testing.T, ns string) []string {
	t.Helper()
	pods, err := cluster.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" {
			names = append(names, p.Name+"@"+p.Spec.NodeName)
		}
	}
	sort.Strings(names)
	return names
}

// extenderVerdict asks gpushare's POST /filter about nodes for pod and returns the nodes it passes and the
// reasons of those it refuses.
func extenderVerdict(t *testing.T, pod *corev1.Pod, nodes ...string) (passed []string, failed map[string]string) {
	t.Helper()
	args, _ := json.Marshal(map[string]any{"Pod": pod, "NodeNames": nodes, "Nodes": nil})
	code, body, err := cluster.PostGpushare("/filter", args)
	if err != nil || code != 200 {
		t.Fatalf("POST /filter: %d %s %v", code, body, err)
	}
	var res struct {
		NodeNames                  *[]string
		FailedNodes                map[string]string
		FailedAndUnresolvableNodes map[string]string
		Error                      string
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("POST /filter answer %s: %v", body, err)
	}
	if res.Error != "" {
		t.Fatalf("POST /filter error: %s", res.Error)
	}
	failed = map[string]string{}
	for k, v := range res.FailedNodes {
		failed[k] = v
	}
	for k, v := range res.FailedAndUnresolvableNodes {
		failed[k] = v
	}
	if res.NodeNames != nil {
		passed = *res.NodeNames
	}
	return passed, failed
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
