package e2e

// What a production cluster does to a repartition in flight, beyond API errors (faults_test.go): a
// PodDisruptionBudget that refuses the eviction, and the node deleted mid-change (issue 12, item 5).

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"gpushare.test/e2e/harness"
	"gpushare.test/e2e/nodeagent"
)

// TestRepartitionPDBRefusesEvictionUntilApplyTimeout: the only idle-able node holds a disruptable pod that a
// PodDisruptionBudget protects (this control plane runs no disruption controller, so the budget never allows a
// disruption: every eviction is refused with 429, as a real budget at its limit does). gpushare retries the
// eviction while the node drains, gives up at applyTimeout (30 s here), and leaves the node as it found it:
// mark and taint gone, layout labels unchanged, the holder running, the node backed off, Warning Events.
func TestRepartitionPDBRefusesEvictionUntilApplyTimeout(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	pool := newPool()
	node := addPoolNode(t, pool, "a", h20(nodeagent.ModeFull, ""))
	holder := newPod("holder", withAnnotations(harness.DisruptableAnnotation, "true"),
		withLimits("nvidia.com/gpu", "1"), inPool(pool), onNode(node))
	holder.Labels = map[string]string{"app": "held"}
	createPod(t, ns, holder)
	waitRunning(t, ns, "holder", 30*time.Second)
	one := intstr.FromInt32(1)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "keep-holder"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "held"}}},
	}
	if _, err := cluster.Client.PolicyV1().PodDisruptionBudgets(ns).Create(context.Background(), pdb, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create PDB: %v", err)
	}
	w := watchNode(t, node)
	createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))

	waitNode(t, node, 60*time.Second, "the mark in phase draining", func(n *corev1.Node) bool {
		m := repartitionMark(t, n)
		return m != nil && m["phase"] == "draining"
	})
	drainingSince := time.Now()
	// applyTimeout (30 s) from the first refused eviction, plus a pass or two.
	n, _ := waitNode(t, node, 60*time.Second, "the mark cleared after the drain timed out", func(n *corev1.Node) bool {
		return repartitionMark(t, n) == nil
	})
	w.stop()
	gaveUpAfter := time.Since(drainingSince)
	t.Logf("gave up %s after the drain began; node history: %v", gaveUpAfter.Round(time.Second), w)
	if gaveUpAfter < 20*time.Second {
		t.Errorf("the drain was abandoned after %s, before applyTimeout (30 s)", gaveUpAfter)
	}
	if hasRepartitionTaint(n) {
		t.Errorf("node %s still tainted after the drain timed out: %s", node, describeNode(n))
	}
	if n.Annotations[annBackoff] == "" {
		t.Errorf("node %s has no %s after a failed change: %s", node, annBackoff, describeNode(n))
	}
	// Marked and tainted while it drained, but its layout labels never moved and its mark never went past
	// draining (propagating first is fine: evictions overlap the propagation wait).
	w.mu.Lock()
	further := len(w.migCfgs) != 1 || w.migCfgs[0] != "all-disabled" || len(w.dpCfgs) != 1 || w.dpCfgs[0] != "" ||
		len(w.phases) == 0 || w.phases[len(w.phases)-1] != "draining" ||
		(len(w.phases) == 2 && w.phases[0] != "propagating") || len(w.phases) > 2
	w.mu.Unlock() // before printing w: its String() takes the lock
	if further {
		t.Errorf("node %s went further than draining: %v", node, w)
	}
	p, err := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), "holder", metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		t.Fatalf("the PDB-protected holder was disturbed: %v %+v", err, p)
	}
	if p, err := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), "wants-3g", metav1.GetOptions{}); err != nil || p.Spec.NodeName != "" {
		t.Errorf("wants-3g was bound (%v, node %q) although its node never changed", err, p.Spec.NodeName)
	}
	waitEvent(t, ns, "wants-3g", "GpuRepartitionFailed", 10*time.Second, func(m string) bool { return strings.Contains(m, node) })
	// Every eviction gpushare sent was refused; it retried rather than evicting once and waiting.
	if refused := metricValue(t, "gpushare_repartition_steps_total", map[string]string{"result": "refused", "step": "evict"}); refused < 2 {
		t.Errorf("gpushare_repartition_steps_total{result=refused,step=evict} = %v, want the eviction retried", refused)
	}
}

// TestRepartitionNodeDeletedMidChange: the node being repartitioned is deleted while gpushare waits for its
// layout to take (a node scaled away or replaced). gpushare drops the change: nothing is written for the
// vanished node (no Node is recreated, no error loop), the waiting pod is served by another idle node, and the
// controller goes on working.
func TestRepartitionNodeDeletedMidChange(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	pool := newPool()
	// The agent's first node waits in "pending" long enough to delete it there.
	doomed := addPoolNode(t, pool, "a", h20(nodeagent.ModeFull, ""))
	createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))
	waitNode(t, doomed, 60*time.Second, "the mark on the first node", func(n *corev1.Node) bool {
		return repartitionMark(t, n) != nil
	})
	if err := cluster.Agent.RemoveNode(context.Background(), doomed); err != nil {
		t.Fatalf("remove node %s: %v", doomed, err)
	}
	// Another idle node appears; the pod must end up there.
	other := addPoolNode(t, pool, "b", h20(nodeagent.ModeFull, ""))
	if got := waitRunningOn(t, ns, "wants-3g", 120*time.Second); got != other {
		t.Fatalf("wants-3g runs on %s, want %s", got, other)
	}
	expectRepartitionDone(t, other)
	if _, err := cluster.Client.CoreV1().Nodes().Get(context.Background(), doomed, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the deleted node %s exists again (%v): gpushare must never recreate a node", doomed, err)
	}
	if lines := logLines(cluster.GpushareLog("gpushare"), "panic"); len(lines) > 0 {
		t.Errorf("gpushare log has panics: %q", lines)
	}
}

// metricValue is the sum of the first gpushare's samples of name with the labels in want.
func metricValue(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	code, body, err := cluster.GetGpushare("", "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	return metricSum(string(body), name, want)
}

// TestRepartitionThroughAPIServerRestart: kube-apiserver restarts (down 5 s) while a node is being repartitioned.
// Every watch and connection of gpushare ends; it reconnects, resumes the change from the node's mark, and
// finishes it: the pod runs on the node, mark and taint are gone, the label names an entry that is in the
// ConfigMap, and the change was begun once.
func TestRepartitionThroughAPIServerRestart(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	pool := newPool()
	node := addPoolNode(t, pool, "a", h20(nodeagent.ModeFull, ""))
	createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))
	waitNode(t, node, 60*time.Second, "the mark", func(n *corev1.Node) bool { return repartitionMark(t, n) != nil })
	w := watchNode(t, node)
	restarted := time.Now()
	if err := cluster.RestartAPIServer(ctxFor(t, 150*time.Second), 5*time.Second); err != nil {
		t.Fatalf("restart kube-apiserver: %v", err)
	}
	t.Logf("kube-apiserver back after %s", time.Since(restarted).Round(100*time.Millisecond))
	defer func() { w.stop(); t.Logf("node history: %v", w) }()
	if got := waitRunningOn(t, ns, "wants-3g", 150*time.Second); got != node {
		t.Fatalf("wants-3g runs on %s, want %s", got, node)
	}
	n := expectRepartitionDone(t, node)
	if cfg := n.Labels[nodeagent.LabelMIGConfig]; !strings.HasPrefix(cfg, "gpushare-") || migPartedEntry(t, cfg) == nil {
		t.Errorf("node %s: mig.config %q does not name a gpushare entry in %s", node, cfg, migPartedCM)
	}
	if c := starts("gpushare", node); c != 1 {
		t.Errorf("node %s: begun %d times, want once", node, c)
	}
	// The cache came back by itself: gpushare is ready again and still answers the extender.
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, err := cluster.GetGpushare("", "/readyz")
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gpushare not ready 30 s after kube-apiserver came back: %d %v", code, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
