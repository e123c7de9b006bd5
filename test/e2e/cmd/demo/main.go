// Command demo is the README's demo on a real control plane: it starts the e2e harness's cluster (etcd,
// kube-apiserver, kube-scheduler with gpushare as extender, gpushare as mutating webhook) with a few simulated GPU
// nodes, submits every pod of examples/pods/*.json into namespace "demo", one at a time, and prints what happened
// to each: the intent it carried, the resource gpushare chose, the node, and the outcome with its reason.
//
//	go run -trimpath ./cmd/demo [--keep] [--gpushare build/gpushare] [--examples examples/pods] [--wait 20s]
//
// Run it through test/e2e/demo.sh (or `make demo`), which builds the control plane first. With --keep the cluster
// stays up until Ctrl-C, and the admin kubeconfig is printed for exploring it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"gpushare.test/e2e/harness"
	"gpushare.test/e2e/nodeagent"
)

const (
	namespace      = "demo"
	annPrefix      = "gpushare.io/"
	annAssigned    = "gpushare.io/assigned-resource"
	webhookDeniedP = "denied the request: "
)

// seed is the demo's cluster: an RTX 4090 shared by MPS (2 replicas), an H20 cut into MIG instances, and two idle
// GPU nodes (whole GPUs, MIG off) that gpushare may repartition (the harness's repartition.nodeSelector label), so
// that a pod asking for a profile no node offers gets one of them relaid out.
const seed = `
configMapDelay: 2s
reconfigureDelay: 1s
migConfigs:
  demo-h20-mixed:
    - devices: all
      mig-enabled: true
      mig-devices: {"1g.12gb": 2, "1g.24gb": 1, "3g.48gb": 1}
nodes:
  - name: gpu-4090-mps
    product: NVIDIA-GeForce-RTX-4090
    count: 1
    memoryMiB: 24564
    mode: mps
    replicas: 2
  - name: gpu-h20-mig
    product: NVIDIA-H20
    count: 1
    memoryMiB: 97871
    mode: mig
    migConfig: demo-h20-mixed
  - name: gpu-h100-idle
    product: NVIDIA-H100-80GB-HBM3
    count: 1
    memoryMiB: 81559
    mode: full
    labels: {"gpushare.io/e2e-repartition": "true"}
  - name: gpu-a100-idle
    product: NVIDIA-A100-SXM4-80GB
    count: 1
    memoryMiB: 81920
    mode: full
    labels: {"gpushare.io/e2e-repartition": "true"}
`

type row struct {
	pod, intent, resource, node, outcome string
}

func main() {
	keep := flag.Bool("keep", false, "keep the cluster up until Ctrl-C and print how to reach it")
	gpushare := flag.String("gpushare", "", "the gpushare binary (default $GPUSHARE_BIN or build/gpushare, relative to the repository root)")
	examples := flag.String("examples", "", "folder of example pods, *.json (default examples/pods in the repository)")
	wait := flag.Duration("wait", 20*time.Second, "how long to wait for each pod to be scheduled or refused by the scheduler")
	flag.Parse()
	os.Exit(run(*keep, *gpushare, *examples, *wait))
}

func run(keep bool, gpushareBin, examples string, wait time.Duration) int {
	if gpushareBin != "" {
		os.Setenv("GPUSHARE_BIN", gpushareBin)
	}
	if os.Getenv("E2E_EXTENDER") == "" {
		os.Setenv("E2E_EXTENDER", "on") // the extender is part of the product, as in run.sh
	}
	opts, err := harness.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	if os.Getenv("E2E_LOG_DIR") == "" {
		opts.LogDir = filepath.Join(opts.RepoRoot, "build", "e2e-logs", time.Now().Format("demo-20060102-150405"))
	}
	if ok, why := harness.GpushareAvailable(opts.GpushareBin); !ok {
		fmt.Fprintf(os.Stderr, "demo: gpushare is not usable (build it first, e.g. `make`): %s\n", why)
		return 1
	}
	if examples == "" {
		examples = filepath.Join(opts.RepoRoot, "examples", "pods")
	}
	files, _ := filepath.Glob(filepath.Join(examples, "*.json"))
	sort.Strings(files)
	if len(files) == 0 {
		fmt.Fprintf(os.Stderr, "demo: no example pods (*.json) in %s\n", examples)
		return 1
	}
	if opts.Nodes, err = nodeagent.ParseSpec([]byte(seed)); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Fprintln(os.Stderr, "demo: starting etcd, kube-apiserver, gpushare, kube-scheduler and the simulated GPU nodes ...")
	t0 := time.Now()
	sctx, scancel := context.WithTimeout(ctx, 5*time.Minute)
	c, err := harness.Start(sctx, opts)
	scancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: the cluster did not start:", err)
		if c != nil {
			c.DumpLogs(os.Stderr, 30)
		}
		return 1
	}
	defer c.Stop()
	fmt.Fprintf(os.Stderr, "demo: cluster up in %s (extender %v, scheduler %q); logs in %s\n",
		time.Since(t0).Round(time.Millisecond), c.ExtenderEnabled, c.SchedulerName, c.LogDir)
	if !c.ExtenderEnabled {
		fmt.Fprintln(os.Stderr, "demo: WARNING: kube-scheduler runs without gpushare's extender")
	}

	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		fmt.Fprintln(os.Stderr, "demo: create namespace:", err)
		return 1
	}

	fmt.Println()
	printNodes(ctx, c, os.Stdout)
	fmt.Println()

	// A client of its own that collects the API server's warnings (gpushare's admission warnings) instead of
	// logging them.
	warnings := &warningCollector{}
	rc := rest.CopyConfig(c.Rest)
	rc.WarningHandler = warnings
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	var rows []row
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		rows = append(rows, submit(ctx, c, client, warnings, f, wait))
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "demo: interrupted")
		return 130
	}
	fmt.Printf("Example pods from %s, submitted in this order to namespace %q:\n\n", rel(opts.RepoRoot, examples), namespace)
	printTable(os.Stdout, rows)
	fmt.Printf("\nComponent logs: %s\n", c.LogDir)

	if keep {
		printHints(c)
		<-ctx.Done()
		fmt.Fprintln(os.Stderr, "\ndemo: stopping the cluster ...")
	}
	return 0
}

// submit creates the pod of file f and waits for its outcome.
func submit(ctx context.Context, c *harness.Cluster, client kubernetes.Interface, warnings *warningCollector, f string, wait time.Duration) (r row) {
	r = row{pod: strings.TrimSuffix(filepath.Base(f), ".json"), resource: "-", node: "-"}
	b, err := os.ReadFile(f)
	if err != nil {
		r.outcome = "cannot read: " + err.Error()
		return r
	}
	var p corev1.Pod
	if err := json.Unmarshal(b, &p); err != nil {
		r.outcome = "not a Pod: " + err.Error()
		return r
	}
	if p.Name != "" {
		r.pod = p.Name
	}
	r.intent = intent(p.Annotations)
	p.Namespace = namespace
	if p.Spec.SchedulerName == "" || p.Spec.SchedulerName == corev1.DefaultSchedulerName {
		p.Spec.SchedulerName = c.SchedulerName
	}
	if p.Spec.TerminationGracePeriodSeconds == nil {
		zero := int64(0)
		p.Spec.TerminationGracePeriodSeconds = &zero
	}
	fmt.Fprintf(os.Stderr, "demo: submitting %s (%s) ...\n", r.pod, filepath.Base(f))
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	warnings.take()
	created, err := client.CoreV1().Pods(namespace).Create(cctx, &p, metav1.CreateOptions{})
	cancel()
	if w := warnings.take(); len(w) > 0 {
		defer func() { r.outcome += " (warning: " + strings.Join(w, "; ") + ")" }()
	}
	if err != nil {
		r.resource = "(refused)"
		r.outcome = "refused by the API server: " + refusal(err)
		return r
	}
	r.resource = resourceOf(created)

	start := time.Now()
	deadline := start.Add(wait)
	var last *corev1.Pod = created
	var unschedulableSince time.Time
	for {
		if pod, err := c.Client.CoreV1().Pods(namespace).Get(ctx, created.Name, metav1.GetOptions{}); err == nil {
			last = pod
			if pod.Spec.NodeName != "" {
				r.node = pod.Spec.NodeName
				if pod.Status.Phase == corev1.PodRunning {
					r.outcome = "Running on node " + pod.Spec.NodeName
					if !unschedulableSince.IsZero() { // it waited: was a node repartitioned for it?
						took := time.Since(start).Round(100 * time.Millisecond)
						// gpushare posts the event right after the node is released, maybe after the pod started.
						for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
							if msg := podEvent(ctx, c, pod.Name, "GpuRepartitioned"); msg != "" {
								r.outcome += fmt.Sprintf(" after %s: %s", took, msg)
								break
							}
						}
					}
					return r
				}
			} else if msg := failedScheduling(ctx, c, pod.Name); msg != "" {
				// gpushare may be repartitioning a node for it: wait while a node's mark says so, and for one
				// batch window (and a little) before that, so that it has had a chance to start.
				if unschedulableSince.IsZero() {
					unschedulableSince = time.Now()
				}
				if time.Since(unschedulableSince) > repartitionGrace && !beingServed(ctx, c, pod.Name) {
					r.outcome = "Pending: " + msg
					if why := podEvent(ctx, c, pod.Name, "GpuRepartitionFailed"); why != "" {
						r.outcome += " (" + why + ")"
					}
					return r
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	if last.Spec.NodeName != "" {
		r.outcome = fmt.Sprintf("Bound to node %s (phase %s after %s)", last.Spec.NodeName, last.Status.Phase, wait)
	} else {
		r.outcome = fmt.Sprintf("Pending: not scheduled within %s, no FailedScheduling event", wait)
	}
	return r
}

// warningCollector keeps the warnings of the API server's answers (rest.WarningHandler).
type warningCollector struct {
	mu sync.Mutex
	w  []string
}

func (h *warningCollector) HandleWarningHeader(code int, agent string, text string) {
	if code != 299 || text == "" {
		return
	}
	h.mu.Lock()
	h.w = append(h.w, text)
	h.mu.Unlock()
}

// take returns the warnings collected since the last take.
func (h *warningCollector) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.w
	h.w = nil
	return w
}

// intent lists the gpushare.io/* annotations as submitted, sorted.
func intent(ann map[string]string) string {
	var s []string
	for k, v := range ann {
		if strings.HasPrefix(k, annPrefix) {
			s = append(s, strings.TrimPrefix(k, annPrefix)+"="+v)
		}
	}
	if len(s) == 0 {
		return "(none)"
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// resourceOf is the resource gpushare assigned, or else the nvidia.com/* limits the pod kept.
func resourceOf(p *corev1.Pod) string {
	if v := p.Annotations[annAssigned]; v != "" {
		return v
	}
	seen := map[string]bool{}
	var s []string
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, ct := range cs {
			for n, q := range ct.Resources.Limits {
				k := fmt.Sprintf("%s: %s", n, q.String())
				if strings.HasPrefix(string(n), "nvidia.com/") && !seen[k] {
					seen[k] = true
					s = append(s, k)
				}
			}
		}
	}
	if len(s) == 0 {
		return "-"
	}
	sort.Strings(s)
	return strings.Join(s, ", ") + " (unchanged)"
}

// refusal is the reason the API server gave, without the webhook's boilerplate.
func refusal(err error) string {
	msg := err.Error()
	var se *apierrors.StatusError
	if errors.As(err, &se) && se.ErrStatus.Message != "" {
		msg = se.ErrStatus.Message
	}
	if i := strings.Index(msg, webhookDeniedP); i >= 0 {
		msg = msg[i+len(webhookDeniedP):]
	}
	return strings.TrimSpace(msg)
}

// repartitionGrace is how long an Unschedulable pod is given for gpushare to start repartitioning a node for it:
// the harness's repartition.batchWindow (1s) and a margin.
const repartitionGrace = 4 * time.Second

// beingServed reports whether a node carries gpushare's repartition mark for the pod.
func beingServed(ctx context.Context, c *harness.Cluster, name string) bool {
	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, n := range nodes.Items {
		var mark struct {
			Serves []string `json:"serves"`
		}
		if text, ok := n.Annotations["gpushare.io/repartition"]; ok && json.Unmarshal([]byte(text), &mark) == nil {
			for _, key := range mark.Serves {
				if key == namespace+"/"+name {
					return true
				}
			}
		}
	}
	return false
}

// failedScheduling returns the message of the latest FailedScheduling event about the pod, or "".
func failedScheduling(ctx context.Context, c *harness.Cluster, name string) string {
	return podEvent(ctx, c, name, "FailedScheduling")
}

// podEvent returns the message of the latest event with this reason about the pod, or "".
func podEvent(ctx context.Context, c *harness.Cluster, name, reason string) string {
	evs, err := c.Client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
	if err != nil {
		return ""
	}
	var best *corev1.Event
	for i := range evs.Items {
		e := &evs.Items[i]
		if e.Reason != reason {
			continue
		}
		if best == nil || eventTime(best).Before(eventTime(e)) {
			best = e
		}
	}
	if best == nil {
		return ""
	}
	return strings.TrimSpace(best.Message)
}

func eventTime(e *corev1.Event) time.Time {
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	return e.LastTimestamp.Time
}

func printNodes(ctx context.Context, c *harness.Cluster, w io.Writer) {
	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintln(w, "nodes:", err)
		return
	}
	fmt.Fprintln(w, "Simulated GPU nodes:")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPRODUCT\tGPU RESOURCES (allocatable)")
	for _, n := range nodes.Items {
		var res []string
		for k, q := range n.Status.Allocatable {
			if strings.HasPrefix(string(k), "nvidia.com/") && !q.IsZero() {
				res = append(res, fmt.Sprintf("%s: %s", k, q.String()))
			}
		}
		sort.Strings(res)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Name, n.Labels["nvidia.com/gpu.product"], strings.Join(res, ", "))
	}
	tw.Flush()
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tINTENT\tRESOURCE\tNODE\tOUTCOME / REASON")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.pod, r.intent, r.resource, r.node, oneLine(r.outcome))
	}
	tw.Flush()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// printHints says how to reach the cluster while --keep holds it up.
func printHints(c *harness.Cluster) {
	apiCA := filepath.Join(c.Dir, "pki", "ca.crt")
	gsCA := filepath.Join(c.LogDir, "gpushare-ca.crt")
	_ = os.WriteFile(gsCA, c.GpushareCA, 0o644)
	fmt.Printf(`
The cluster stays up until Ctrl-C.

  admin kubeconfig: %s (removed when the demo stops)
  export KUBECONFIG=%s

Without kubectl (the API server's CA and a static admin token):
  TOKEN=%s
  curl -s --cacert %s -H "Authorization: Bearer $TOKEN" %s/api/v1/nodes
  curl -s --cacert %s -H "Authorization: Bearer $TOKEN" %s/api/v1/namespaces/%s/pods
  curl -s --cacert %s -H "Authorization: Bearer $TOKEN" %s/api/v1/namespaces/%s/events
gpushare itself:
  curl -s --cacert %s %s/readyz
  curl -s --cacert %s %s/metrics
`, c.Kubeconfig, c.Kubeconfig, c.Token,
		apiCA, c.ServerURL, apiCA, c.ServerURL, namespace, apiCA, c.ServerURL, namespace,
		gsCA, c.GpushareURL, gsCA, c.GpushareURL)
}
