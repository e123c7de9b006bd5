package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"gpushare.test/e2e/harness"
	"gpushare.test/e2e/nodeagent"
)

// starts counts the repartitions of node that gpushare process name began (its log; Events are best effort and
// may themselves be lost to the faults).
func starts(name, node string) int {
	return len(logLines(cluster.GpushareLog(name), "repartition: started", "node="+node+" "))
}

// viaFaultProxy restarts the first gpushare with its API traffic through a fault proxy, and puts it back when the
// test ends.
func viaFaultProxy(t *testing.T) *harness.FaultProxy {
	t.Helper()
	proxy, err := cluster.StartFaultProxy()
	if err != nil {
		t.Fatalf("fault proxy: %v", err)
	}
	if err := cluster.RestartGpushareVia(ctxFor(t, 90*time.Second), proxy.URL); err != nil {
		proxy.Close()
		t.Fatalf("restart gpushare through the fault proxy: %v", err)
	}
	t.Cleanup(func() {
		proxy.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := cluster.RestartGpushareVia(ctx, ""); err != nil {
			t.Errorf("put gpushare back: %v", err)
		}
	})
	return proxy
}

// TestRepartitionThroughAPIFaults: with requests to kube-apiserver spoiled at random, one fault class at a time
// (a third of them answered 503, 429 or dropped; a tenth hanging for 5 s, Lease renewals included; half the
// watches cut in the middle of an event or answered 410 Gone), a repartition still completes: the pod runs on the node, the node is left unmarked and untainted,
// the label names an entry that is in the ConfigMap, and the repartition was begun once.
func TestRepartitionThroughAPIFaults(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	proxy := viaFaultProxy(t)
	for _, f := range []harness.Fault{
		{Kind: harness.FaultServerError, Every: 3},
		{Kind: harness.FaultTooMany, Every: 3},
		{Kind: harness.FaultDrop, Every: 3},
		{Kind: harness.FaultHang, Every: 10, HangFor: 5 * time.Second},
		{Kind: harness.FaultCutWatch, Every: 2},
		{Kind: harness.FaultGone, Every: 2},
	} {
		t.Run(string(f.Kind), func(t *testing.T) {
			pool := newPool()
			node := addPoolNode(t, pool, "h20", h20(nodeagent.ModeFull, ""))
			proxy.Set(f)
			defer proxy.Set(harness.Fault{})
			start := time.Now()
			pod := "wants-3g-" + strings.ReplaceAll(string(f.Kind), "5", "e5")
			createPod(t, ns, migPod(pod, "3g.48gb", inPool(pool)))
			got := waitRunningOn(t, ns, pod, 150*time.Second)
			injected := proxy.Injected(f.Kind)
			proxy.Set(harness.Fault{})
			if got != node {
				t.Fatalf("pod runs on %s, want %s", got, node)
			}
			t.Logf("%s: pod Running after %s, %d fault(s) injected", f.Kind, time.Since(start).Round(100*time.Millisecond), injected)
			if injected == 0 {
				t.Errorf("no %s fault was injected: the scenario tested nothing", f.Kind)
			}
			n := expectRepartitionDone(t, node)
			cfg := n.Labels[nodeagent.LabelMIGConfig]
			if !strings.HasPrefix(cfg, "gpushare-") || migPartedEntry(t, cfg) == nil {
				t.Errorf("node %s: mig.config %q does not name a gpushare entry in %s", node, cfg, migPartedCM)
			}
			if c := starts("gpushare", node); c != 1 {
				t.Errorf("node %s: begun %d times, want once", node, c)
			}
		})
	}
}

// TestRepartitionLeaderWhoseAPIConnectionHangs: the leader's requests to kube-apiserver hang (they do not fail):
// the other replica takes the Lease and repartitions the node, and the old leader never acts on it, neither while
// hung nor after its requests come back.
func TestRepartitionLeaderWhoseAPIConnectionHangs(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	proxy := viaFaultProxy(t)
	// The first gpushare, restarted through the proxy, takes the Lease (each process has an identity of its own,
	// which its log names when it acquires).
	deadline := time.Now().Add(40 * time.Second)
	for {
		h := leaseHolder(t)
		if h != "" && len(logLines(cluster.GpushareLog("gpushare"), "lease: acquired", "identity="+h)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first gpushare did not take the Lease (holder %q)", h)
		}
		time.Sleep(200 * time.Millisecond)
	}
	const second = "gpushare-standby"
	if _, err := cluster.StartGpushareReplica(ctxFor(t, 90*time.Second), second); err != nil {
		t.Fatalf("start %s: %v", second, err)
	}
	t.Cleanup(func() { cluster.StopGpushareReplica(second) })
	oldHolder := leaseHolder(t)

	// Every request of the leader hangs from now on, Lease renewals included.
	proxy.Set(harness.Fault{Kind: harness.FaultHang, Every: 1})
	hungAt := time.Now()
	pool := newPool()
	node := addPoolNode(t, pool, "h20", h20(nodeagent.ModeFull, ""))
	createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))
	if got := waitRunningOn(t, ns, "wants-3g", 90*time.Second); got != node {
		t.Fatalf("pod runs on %s, want %s", got, node)
	}
	holder := leaseHolder(t)
	t.Logf("Lease %q -> %q; pod Running %s after the leader hung", oldHolder, holder, time.Since(hungAt).Round(100*time.Millisecond))
	if holder == oldHolder {
		t.Errorf("the Lease is still held by the hung leader %q", holder)
	}
	// Its requests come back: it must see it lost the Lease and leave the node alone.
	proxy.Set(harness.Fault{})
	time.Sleep(5 * time.Second)
	expectRepartitionDone(t, node)
	if c := starts("gpushare", node); c != 0 {
		t.Errorf("the hung leader began %d repartitions of %s, want none", c, node)
	}
	if c := starts(second, node); c != 1 {
		t.Errorf("the standby began %d repartitions of %s, want 1", c, node)
	}
}
