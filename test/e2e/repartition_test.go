package e2e

// Repartitioning end to end (GitHub issue 5): pods that wait for a MIG profile or an MPS share make gpushare change
// an idle node through the GPU Operator's protocol, which the node agent plays (ConfigMap entry, wait for it to
// propagate, mark + taint, label flip, MIG manager / device-plugin config-manager, success, mark cleared), and then
// kube-scheduler places them there.
//
// Only nodes labelled harness.RepartitionNodeLabel may be repartitioned (the harness's repartition.nodeSelector),
// so every test makes its own pool of such nodes, labelled with a pool name its pods select with
// spec.nodeSelector (the planner honours it; it does not model taints or affinity, so pool nodes are not tainted).
// The shared nodes of testdata/nodes.yaml are never touched.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"gpushare.test/e2e/harness"
	"gpushare.test/e2e/nodeagent"
)

const (
	poolLabel          = "e2e.gpushare.io/pool"
	annRepartitionMark = "gpushare.io/repartition"               // policy::kRepartitionAnnotation
	annBackoff         = "gpushare.io/repartition-backoff-until" // repartition::kBackoffAnnotation
	repartitionTaint   = "gpushare.io/repartitioning"            // repartition::kTaintKey
	migPartedCM        = "custom-mig-parted-config"
	devicePluginCM     = "device-plugin-config"
	h20MemoryMiB       = 97871
	rtx4090MemoryMiB   = 24564
)

// newPool names a pool for this test: its nodes get the pool label, its pods select it.
func newPool() string { return "rp-" + suffix() }

// addPoolNode creates a simulated node gpushare may repartition (harness.RepartitionNodeLabel), in pool, named
// e2e-<pool>-<name>. It is removed when the test ends; if the test failed, what the node looks like is logged first.
func addPoolNode(t *testing.T, pool, name string, spec nodeagent.NodeSpec) string {
	t.Helper()
	spec.Name = "e2e-" + pool + "-" + name
	spec.Labels = map[string]string{harness.RepartitionNodeLabel: "true", poolLabel: pool}
	if err := cluster.Agent.AddNode(ctxFor(t, 30*time.Second), spec); err != nil {
		t.Fatalf("add node %s: %v", spec.Name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if n, err := cluster.Client.CoreV1().Nodes().Get(context.Background(), spec.Name, metav1.GetOptions{}); err == nil {
				t.Logf("node %s: %s", spec.Name, describeNode(n))
			}
		}
		if err := cluster.Agent.RemoveNode(context.Background(), spec.Name); err != nil && !apierrors.IsNotFound(err) {
			t.Logf("remove node %s: %v", spec.Name, err)
		}
	})
	return spec.Name
}

func h20(mode nodeagent.Mode, migConfig string) nodeagent.NodeSpec {
	return nodeagent.NodeSpec{Product: "NVIDIA-H20", Count: 1, MemoryMiB: h20MemoryMiB, Mode: mode, MigConfig: migConfig}
}

// describeNode is the part of a node the repartition tests look at, for failure messages.
func describeNode(n *corev1.Node) string {
	var labels, ann []string
	for k, v := range n.Labels {
		if strings.HasPrefix(k, "nvidia.com/mig.config") || k == nodeagent.LabelDevicePluginCfg || k == nodeagent.LabelSharingStrategy ||
			strings.HasSuffix(k, ".count") || k == nodeagent.LabelProduct {
			labels = append(labels, k+"="+v)
		}
	}
	for k, v := range n.Annotations {
		ann = append(ann, k+"="+v)
	}
	gpu := map[string]string{}
	for r, q := range n.Status.Allocatable {
		if strings.HasPrefix(string(r), "nvidia.com/") {
			gpu[string(r)] = q.String()
		}
	}
	return fmt.Sprintf("labels %v annotations %v taints %v allocatable %v", labels, ann, n.Spec.Taints, gpu)
}

func inPool(pool string) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		p.Spec.NodeSelector[poolLabel] = pool
	}
}

func onNode(node string) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		p.Spec.NodeSelector["kubernetes.io/hostname"] = node
	}
}

// migPod asks for one MIG instance of profile through the webhook (mode mig: nvidia.com/gpu becomes
// nvidia.com/mig-<profile>).
func migPod(name, profile string, opts ...podOpt) *corev1.Pod {
	return newPod(name, append([]podOpt{withAnnotations(annMode, "mig", annProfile, profile), withLimits("nvidia.com/gpu", "1")}, opts...)...)
}

// waitRunningOn waits until the pod is bound and Running and returns its node.
func waitRunningOn(t *testing.T, ns, name string, timeout time.Duration) string {
	t.Helper()
	start := time.Now()
	node := waitScheduled(t, ns, name, timeout)
	waitRunning(t, ns, name, max(15*time.Second, timeout-time.Since(start)))
	return node
}

// repartitionMark decodes the node's mark (nil when there is none).
func repartitionMark(t *testing.T, n *corev1.Node) map[string]any {
	t.Helper()
	text, ok := n.Annotations[annRepartitionMark]
	if !ok {
		return nil
	}
	m := map[string]any{}
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Errorf("node %s: mark %s is not JSON: %v", n.Name, text, err)
	}
	return m
}

func hasRepartitionTaint(n *corev1.Node) bool {
	for _, tt := range n.Spec.Taints {
		if tt.Key == repartitionTaint {
			return true
		}
	}
	return false
}

// nodeWatch polls a node in the background and remembers what it went through: a test can then say what happened
// on the way (a mark that came and went, the MIG manager's states), not only where the node ended up.
type nodeWatch struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	marked    bool
	tainted   bool
	phases    []string // the mark's phases, in order, without repeats
	states    []string // nvidia.com/mig.config.state
	migCfgs   []string // nvidia.com/mig.config
	dpCfgs    []string // nvidia.com/device-plugin.config ("" when unset)
	lastLabel map[string]string
	clearedAt time.Time // when the mark was first seen gone after it had been there
}

func watchNode(t *testing.T, name string) *nodeWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &nodeWatch{name: name, cancel: cancel, done: make(chan struct{})}
	appendNew := func(s []string, v string) []string {
		if len(s) == 0 || s[len(s)-1] != v {
			return append(s, v)
		}
		return s
	}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			n, err := cluster.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				w.mu.Lock()
				if text, ok := n.Annotations[annRepartitionMark]; ok {
					w.marked = true
					var m struct{ Phase string }
					if json.Unmarshal([]byte(text), &m) == nil {
						w.phases = appendNew(w.phases, m.Phase)
					}
				} else if w.marked && w.clearedAt.IsZero() {
					w.clearedAt = time.Now()
				}
				w.tainted = w.tainted || hasRepartitionTaint(n)
				w.states = appendNew(w.states, n.Labels[nodeagent.LabelMIGConfigState])
				w.migCfgs = appendNew(w.migCfgs, n.Labels[nodeagent.LabelMIGConfig])
				w.dpCfgs = appendNew(w.dpCfgs, n.Labels[nodeagent.LabelDevicePluginCfg])
				w.lastLabel = n.Labels
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *nodeWatch) stop() {
	w.cancel()
	<-w.done
}

func (w *nodeWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("node %s: marked %v tainted %v phases %v mig.config %q states %q device-plugin.config %q",
		w.name, w.marked, w.tainted, w.phases, w.migCfgs, w.states, w.dpCfgs)
}

// expectUntouched checks that gpushare never changed the node: no mark or taint at any time, and its operator
// labels are still what they were.
func expectUntouched(t *testing.T, w *nodeWatch, migConfig, dpConfig string) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.marked || w.tainted || len(w.migCfgs) != 1 || w.migCfgs[0] != migConfig || len(w.dpCfgs) != 1 || w.dpCfgs[0] != dpConfig {
		t.Errorf("node %s was touched: marked %v tainted %v, nvidia.com/mig.config %q (want only %q), device-plugin.config %q (want only %q)",
			w.name, w.marked, w.tainted, w.migCfgs, migConfig, w.dpCfgs, dpConfig)
	}
	n := getNode(t, w.name)
	for k := range n.Annotations {
		if strings.HasPrefix(k, "gpushare.io/") {
			t.Errorf("node %s has annotation %s=%s", w.name, k, n.Annotations[k])
		}
	}
}

// expectRepartitionDone checks the end of a successful change: the mark and the taint are gone, and the node says
// (labels, the operator's state) that it serves configName.
func expectRepartitionDone(t *testing.T, node string) *corev1.Node {
	t.Helper()
	n := getNode(t, node)
	if _, ok := n.Annotations[annRepartitionMark]; ok {
		t.Errorf("node %s: mark %s still there after the pod started: %s", node, annRepartitionMark, n.Annotations[annRepartitionMark])
	}
	if hasRepartitionTaint(n) {
		t.Errorf("node %s: taint %s still there: %v", node, repartitionTaint, n.Spec.Taints)
	}
	return n
}

// migPartedEntry reads mig-configs[name] from the mig-parted ConfigMap (nil when absent).
func migPartedEntry(t *testing.T, name string) []nodeagent.MigConfigEntry {
	t.Helper()
	cfg := readMigParted(t)
	return cfg.MigConfigs[name]
}

func readMigParted(t *testing.T) nodeagent.MigPartedConfig {
	t.Helper()
	cm, err := cluster.Client.CoreV1().ConfigMaps("gpu-operator").Get(context.Background(), migPartedCM, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("ConfigMap %s: %v", migPartedCM, err)
	}
	var cfg nodeagent.MigPartedConfig
	if err := yaml.UnmarshalStrict([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
		t.Fatalf("ConfigMap %s config.yaml is not a mig-parted file: %v\n%s", migPartedCM, err, cm.Data["config.yaml"])
	}
	return cfg
}

// logLines returns the lines of a component's log that contain every one of parts.
func logLines(path string, parts ...string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		for _, p := range parts {
			if !strings.Contains(sc.Text(), p) {
				continue next
			}
		}
		out = append(out, sc.Text())
	}
	return out
}

// ---- scenarios -----------------------------------------------------------------------------------------------------

// TestRepartitionMIGForPendingPod: a pod waiting for MIG profile 3g.48gb, which no node offers, gets an idle H20
// (MIG on, another layout) repartitioned: gpushare writes a gpushare-<hash> entry into the mig-parted ConfigMap,
// marks and taints the node, flips nvidia.com/mig.config once the entry has propagated, waits for the MIG manager's
// success and the new allocatable, clears the mark; the pod then runs there.
func TestRepartitionMIGForPendingPod(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	pool := newPool()
	node := addPoolNode(t, pool, "h20", h20(nodeagent.ModeMIG, "e2e-h20-mixed"))
	w := watchNode(t, node)
	p := createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))
	expectResource(t, p, "nvidia.com/mig-3g.48gb")

	if got := waitRunningOn(t, ns, "wants-3g", 60*time.Second); got != node {
		t.Fatalf("pod runs on %s, want %s (the pool's only node)", got, node)
	}
	w.stop()
	n := expectRepartitionDone(t, node)
	cfg := n.Labels[nodeagent.LabelMIGConfig]
	if !strings.HasPrefix(cfg, "gpushare-") || n.Labels[nodeagent.LabelMIGConfigState] != "success" {
		t.Errorf("node %s: nvidia.com/mig.config=%q state %q, want a gpushare-<hash> config in state success", node, cfg,
			n.Labels[nodeagent.LabelMIGConfigState])
	}
	if n.Labels[nodeagent.LabelDevicePluginCfg] != "mig-mixed" {
		t.Errorf("node %s: nvidia.com/device-plugin.config=%q, want mig-mixed (CONTRACT 5's MIG labels)", node, n.Labels[nodeagent.LabelDevicePluginCfg])
	}
	if q := qty(n, "nvidia.com/mig-3g.48gb"); q == "<none>" || q == "0" {
		t.Errorf("node %s: allocatable nvidia.com/mig-3g.48gb = %s", node, q)
	}
	entry := migPartedEntry(t, cfg)
	found := false
	for _, e := range entry {
		found = found || (e.MigEnabled && e.MigDevices["3g.48gb"] > 0)
	}
	if !found {
		t.Errorf("mig-parted ConfigMap entry %s = %+v, want a 3g.48gb instance", cfg, entry)
	}
	w.mu.Lock()
	skipped := !w.marked || !w.tainted || len(w.phases) == 0 || w.phases[len(w.phases)-1] != "applying" ||
		!strings.Contains(strings.Join(w.states, ","), "pending") || w.migCfgs[0] != "e2e-h20-mixed" || w.migCfgs[len(w.migCfgs)-1] != cfg
	w.mu.Unlock() // before printing w: its String() takes the lock
	if skipped {
		t.Errorf("the change did not go through mark + taint, label flip and the MIG manager's pending: %v", w)
	}
	t.Logf("%v", w)
	waitEvent(t, "default", node, "RepartitionSucceeded", 10*time.Second, func(m string) bool { return strings.Contains(m, cfg) })
	waitEvent(t, ns, "wants-3g", "GpuRepartitioned", 10*time.Second, func(m string) bool { return strings.Contains(m, node) })
}

// TestRepartitionBurstPodsFollowAtOnce: read-your-writes for the extender (issue 12). When the controller clears a
// node's mark, kube-scheduler retries the waiting pods at once; if gpushare's extender still saw the mark in its
// watch cache it would reject the node as "being repartitioned" and the pod would wait for another cluster event or
// the scheduler's 5-minute flush. Ten bursts of two repartitions each: every pod is bound within a few seconds of
// the mark leaving the node it runs on. On this harness the race is narrow (the test also passed with the
// write-through switched off, 2026-12-05): it guards the promise end to end, and kube's unit test
// CacheTest.OwnWriteIsSeenAtOnceAndAnOlderWatchEventDoesNotUndoIt shows the mechanism with the watch held back.
func TestRepartitionBurstPodsFollowAtOnce(t *testing.T) {
	requireExtender(t)
	const rounds, perRound = 10, 2
	const allowed = 5 * time.Second // plus the condition's one-second resolution
	var worst time.Duration
	for round := 0; round < rounds; round++ {
		ns := newNamespace(t)
		pool := newPool()
		watches := map[string]*nodeWatch{}
		for i := 0; i < perRound; i++ {
			node := addPoolNode(t, pool, fmt.Sprintf("h20-%d", i), h20(nodeagent.ModeMIG, "e2e-h20-mixed"))
			watches[node] = watchNode(t, node)
		}
		for i := 0; i < perRound; i++ {
			createPod(t, ns, migPod(fmt.Sprintf("burst-%d", i), "3g.48gb", inPool(pool)))
		}
		measured := 0
		for i := 0; i < perRound; i++ {
			name := fmt.Sprintf("burst-%d", i)
			node := waitScheduled(t, ns, name, 60*time.Second)
			p, err := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get pod %s/%s: %v", ns, name, err)
			}
			var scheduledAt time.Time
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
					scheduledAt = c.LastTransitionTime.Time
				}
			}
			w := watches[node]
			if w == nil {
				t.Fatalf("pod %s/%s bound to %s, outside its pool", ns, name, node)
			}
			// The watch polls every 50 ms and the pod may bind sooner than that after the clear: give
			// it a moment to see the clear of a mark it saw.
			var cleared time.Time
			for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				w.mu.Lock()
				marked := w.marked
				cleared = w.clearedAt
				w.mu.Unlock()
				if !marked || !cleared.IsZero() || time.Now().After(deadline) {
					break
				}
			}
			if cleared.IsZero() || scheduledAt.IsZero() {
				continue // bound to a node that already offered the profile, or not through a repartition
			}
			measured++
			lag := scheduledAt.Sub(cleared)
			worst = max(worst, lag)
			if lag > allowed+time.Second {
				t.Errorf("round %d: pod %s bound to %s %s after its mark was cleared (want <= %s); %v", round, name, node,
					lag.Round(time.Millisecond), allowed, w)
			}
		}
		if measured == 0 {
			t.Errorf("round %d: no pod was bound through a repartition (no node's mark came and went)", round)
		}
		for _, w := range watches {
			w.stop()
		}
	}
	t.Logf("%d bursts of %d repartitions: worst bind after the mark was cleared %s", rounds, perRound, worst.Round(time.Millisecond))
}

// TestRepartitionPrunesOrphanEntries: ConfigMap entries gpushare wrote (its written-at annotation on the ConfigMap)
// that no node's label or mark names, older than repartition.entryGrace, are removed from both GPU Operator
// ConfigMaps, as a replica killed between the entry write and the mark would leave them. An entry of someone else,
// and a gpushare-named entry without gpushare's annotation, stay.
func TestRepartitionPrunesOrphanEntries(t *testing.T) {
	requireExtender(t)
	tag := suffix()
	orphan, foreign, unmarked := "gpushare-orphan-"+tag, "team-layout-"+tag, "gpushare-unmarked-"+tag
	dpOrphan := "gpushare-dp-orphan-" + tag
	longAgo := time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	layout := []nodeagent.MigConfigEntry{{Devices: []any{0}, MigEnabled: true, MigDevices: map[string]int{"1g.12gb": 7}}}
	editConfigMapObject(t, migPartedCM, func(cm *corev1.ConfigMap) {
		var cfg nodeagent.MigPartedConfig
		if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &cfg); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{orphan, foreign, unmarked} {
			cfg.MigConfigs[name] = layout
		}
		b, _ := yaml.Marshal(cfg)
		cm.Data["config.yaml"] = string(b)
		cm.Annotations["gpushare.io/written-at."+orphan] = longAgo
		cm.Annotations["gpushare.io/written-at."+foreign] = longAgo // not gpushare-named: never ours
	})
	editConfigMapObject(t, devicePluginCM, func(cm *corev1.ConfigMap) {
		cm.Data[dpOrphan] = "version: v1\n"
		cm.Annotations["gpushare.io/written-at."+dpOrphan] = longAgo
	})
	t.Cleanup(func() {
		editConfigMap(t, migPartedCM, func(d map[string]string) {
			var cfg nodeagent.MigPartedConfig
			if err := yaml.Unmarshal([]byte(d["config.yaml"]), &cfg); err != nil {
				t.Fatal(err)
			}
			delete(cfg.MigConfigs, foreign)
			delete(cfg.MigConfigs, unmarked)
			b, _ := yaml.Marshal(cfg)
			d["config.yaml"] = string(b)
		})
	})

	deadline := time.Now().Add(3*harness.EntryGcInterval + 10*time.Second)
	for {
		cfg := readMigParted(t)
		dp, err := cluster.Client.CoreV1().ConfigMaps("gpu-operator").Get(context.Background(), devicePluginCM, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, migLeft := cfg.MigConfigs[orphan]
		_, dpLeft := dp.Data[dpOrphan]
		if !migLeft && !dpLeft {
			if _, ok := cfg.MigConfigs[foreign]; !ok {
				t.Errorf("entry %s (not gpushare's) was removed", foreign)
			}
			if _, ok := cfg.MigConfigs[unmarked]; !ok {
				t.Errorf("entry %s (gpushare-named, but no written-at annotation) was removed", unmarked)
			}
			mig, _ := cluster.Client.CoreV1().ConfigMaps("gpu-operator").Get(context.Background(), migPartedCM, metav1.GetOptions{})
			if _, ok := mig.Annotations["gpushare.io/written-at."+orphan]; ok {
				t.Errorf("the removed entry's written-at annotation is still there")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan entries still there after %s: mig-parted %v, device-plugin %v (gpushare log: %v)",
				3*harness.EntryGcInterval+10*time.Second, migLeft, dpLeft,
				logLines(cluster.GpushareLog("gpushare"), "ConfigMap entr"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRepartitionMPSForPendingPod: a pod waiting for an MPS share turns an idle full-GPU node (RTX 4090, no sharing)
// into an MPS node through a gpushare-<hash> device-plugin config entry and the nvidia.com/device-plugin.config
// label, then runs there.
func TestRepartitionMPSForPendingPod(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	pool := newPool()
	node := addPoolNode(t, pool, "4090", nodeagent.NodeSpec{Product: "NVIDIA-GeForce-RTX-4090", Count: 1, MemoryMiB: rtx4090MemoryMiB,
		Mode: nodeagent.ModeFull})
	w := watchNode(t, node)
	p := createPod(t, ns, newPod("wants-mps", withAnnotations(annMode, "mps", annMemory, "6Gi"), withLimits("nvidia.com/gpu", "1"), inPool(pool)))
	expectResource(t, p, "nvidia.com/gpu.shared")

	if got := waitRunningOn(t, ns, "wants-mps", 60*time.Second); got != node {
		t.Fatalf("pod runs on %s, want %s", got, node)
	}
	w.stop()
	n := expectRepartitionDone(t, node)
	cfg := n.Labels[nodeagent.LabelDevicePluginCfg]
	if !strings.HasPrefix(cfg, "gpushare-") || n.Labels[nodeagent.LabelMPSCapable] != "true" || n.Labels[nodeagent.LabelSharingStrategy] != "mps" {
		t.Errorf("node %s: device-plugin.config=%q mps.capable=%q sharing-strategy=%q, want a gpushare-<hash> MPS config", node, cfg,
			n.Labels[nodeagent.LabelMPSCapable], n.Labels[nodeagent.LabelSharingStrategy])
	}
	replicas, _ := strconv.Atoi(n.Labels[nodeagent.LabelReplicas])
	if replicas < 2 || qty(n, "nvidia.com/gpu.shared") != strconv.Itoa(replicas) {
		t.Errorf("node %s: gpu.replicas=%q, allocatable gpu.shared %s", node, n.Labels[nodeagent.LabelReplicas], qty(n, "nvidia.com/gpu.shared"))
	}
	// A 6Gi share of a 24 GiB GPU: the replicas must leave every pod at least that much.
	if replicas > 0 && int64(rtx4090MemoryMiB)/int64(replicas) < 6*1024 {
		t.Errorf("node %s: %d replicas of %d MiB leave less than the 6Gi the pod asked for", node, replicas, rtx4090MemoryMiB)
	}
	cm, err := cluster.Client.CoreV1().ConfigMaps("gpu-operator").Get(context.Background(), devicePluginCM, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var dp nodeagent.DevicePluginConfig
	if err := yaml.Unmarshal([]byte(cm.Data[cfg]), &dp); err != nil || dp.Sharing == nil || dp.Sharing.MPS == nil ||
		len(dp.Sharing.MPS.Resources) != 1 || dp.Sharing.MPS.Resources[0].Replicas != replicas {
		t.Errorf("device-plugin ConfigMap entry %s = %q (%v), want MPS with %d replicas", cfg, cm.Data[cfg], err, replicas)
	}
	w.mu.Lock()
	skipped := !w.marked || !w.tainted || w.dpCfgs[0] != "" || w.dpCfgs[len(w.dpCfgs)-1] != cfg
	w.mu.Unlock() // before printing w: its String() takes the lock
	if skipped {
		t.Errorf("the change did not go through mark + taint and the label flip: %v", w)
	}
	t.Logf("%v", w)
}

// TestRepartitionNeverTouchesBusyNode: a node with a running GPU pod is never chosen, even though the planner would
// otherwise take it first (nodes tie, and it sorts first by name): the idle node of the pool is changed instead; and
// with no idle node the pod stays Pending, with gpushare saying why, and the busy node is left as it is.
func TestRepartitionNeverTouchesBusyNode(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	pool := newPool()
	busy := addPoolNode(t, pool, "a-busy", h20(nodeagent.ModeFull, ""))
	// The holder asks for a whole GPU (out of gpushare's scope) and is placed by kube-scheduler like any pod.
	createPod(t, ns, newPod("holder", withLimits("nvidia.com/gpu", "1"), inPool(pool), onNode(busy)))
	waitRunning(t, ns, "holder", 30*time.Second)
	wBusy := watchNode(t, busy)

	t.Run("no idle node", func(t *testing.T) {
		createPod(t, ns, migPod("waits", "3g.48gb", inPool(pool)))
		// gpushare plans for the pod every round and logs why it stays pending.
		log := cluster.GpushareLog("gpushare")
		deadline := time.Now().Add(30 * time.Second)
		var lines []string
		for time.Now().Before(deadline) && len(lines) == 0 {
			time.Sleep(500 * time.Millisecond)
			// Text format: `repartition: pod stays pending pod=<ns>/waits reason="...<busy>..."`.
			lines = logLines(log, "stays pending", "pod="+ns+"/waits", busy)
		}
		if len(lines) == 0 {
			t.Fatalf("gpushare did not say why %s/waits stays pending (looked for its debug line naming %s in %s)", ns, busy, log)
		}
		if !strings.Contains(lines[0], "running GPU pod") {
			t.Errorf("gpushare's reason does not name the running GPU pod: %s", lines[0])
		}
		t.Logf("gpushare: %s", lines[0])
		time.Sleep(2 * time.Second) // a few more planning rounds
		if p, err := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), "waits", metav1.GetOptions{}); err != nil {
			t.Errorf("pod waits: %v", err)
		} else if p.Spec.NodeName != "" {
			t.Errorf("pod waits bound to %s, want Pending", p.Spec.NodeName)
		}
		waitEvent(t, ns, "waits", "FailedScheduling", 10*time.Second, func(string) bool { return true })
		zero := int64(0)
		if err := cluster.Client.CoreV1().Pods(ns).Delete(context.Background(), "waits", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("idle node used", func(t *testing.T) {
		idle := addPoolNode(t, pool, "b-idle", h20(nodeagent.ModeFull, ""))
		createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))
		if got := waitRunningOn(t, ns, "wants-3g", 60*time.Second); got != idle {
			t.Fatalf("pod runs on %s, want %s (the idle node)", got, idle)
		}
		expectRepartitionDone(t, idle)
	})
	wBusy.stop()
	expectUntouched(t, wBusy, "all-disabled", "")
	if p, err := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), "holder", metav1.GetOptions{}); err != nil {
		t.Errorf("holder: %v", err)
	} else if p.Status.Phase != corev1.PodRunning {
		t.Errorf("holder is %s, want it still Running", p.Status.Phase)
	}
}

// TestRepartitionSkipsNodesThePodCannotUse: two idle H20s; the one the planner would take first (ties go by node
// name) is tainted for another team. kube-scheduler would never put the pod there, so gpushare changes the other
// one; the tainted node is never touched.
func TestRepartitionSkipsNodesThePodCannotUse(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	pool := newPool()
	tainted := h20(nodeagent.ModeFull, "")
	tainted.Taints = []nodeagent.Taint{{Key: "dedicated", Value: "team-b", Effect: "NoSchedule"}}
	other := addPoolNode(t, pool, "a-team-b", tainted)
	open := addPoolNode(t, pool, "b-open", h20(nodeagent.ModeFull, ""))
	wOther := watchNode(t, other)
	createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))
	if got := waitRunningOn(t, ns, "wants-3g", 60*time.Second); got != open {
		t.Fatalf("pod runs on %s, want %s", got, open)
	}
	wOther.stop()
	expectUntouched(t, wOther, "all-disabled", "")
	expectRepartitionDone(t, open)
}

// TestRepartitionEvictsDisruptablePods: with repartition.allowDisruption (the harness turns it on), the pool's only
// node runs a whole-GPU pod that allows its eviction (repartition.gpushare.io/disruptable=true). A pod waiting for
// 3g.48gb gets that node anyway: gpushare marks and taints it, evicts the holder through the Eviction API (a
// GpuRepartitionEvicted Warning on it), and moves no label while the holder is there. The holder carries a
// finalizer of the test's, so it stays (terminating, still holding its GPU) until the test lets it go: only then
// does the layout change and the waiting pod run there.
func TestRepartitionEvictsDisruptablePods(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	pool := newPool()
	node := addPoolNode(t, pool, "a", h20(nodeagent.ModeFull, ""))
	const finalizer = "e2e.gpushare.io/hold"
	pods := cluster.Client.CoreV1().Pods(ns)
	holder := newPod("holder", withAnnotations(harness.DisruptableAnnotation, "true"),
		withLimits("nvidia.com/gpu", "1"), inPool(pool), onNode(node))
	holder.Finalizers = []string{finalizer}
	createPod(t, ns, holder)
	release := func() { // drops the finalizer: the holder can go
		t.Helper()
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		if _, err := pods.Patch(context.Background(), "holder", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("release holder: %v", err)
		}
	}
	t.Cleanup(release)
	waitRunning(t, ns, "holder", 30*time.Second)
	if p, err := pods.Get(context.Background(), "holder", metav1.GetOptions{}); err != nil {
		t.Fatalf("holder: %v", err)
	} else if _, mutated := p.Annotations[annAssigned]; mutated {
		t.Fatalf("holder was mutated by the webhook (%v): the disruptable key must stay out of its scope", p.Annotations)
	}
	createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))

	waitNode(t, node, 60*time.Second, "the mark in phase draining", func(n *corev1.Node) bool {
		m := repartitionMark(t, n)
		return m != nil && m["phase"] == "draining"
	})
	var evictedAt *metav1.Time
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && evictedAt == nil; time.Sleep(50 * time.Millisecond) {
		p, err := pods.Get(context.Background(), "holder", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("holder: %v", err)
		}
		evictedAt = p.DeletionTimestamp
	}
	if evictedAt == nil {
		t.Fatalf("the holder was never evicted (no deletionTimestamp)")
	}
	// Several controller passes and more than propagationDelay: while the holder is there, nothing moves.
	time.Sleep(harness.PropagationDelay + 2*time.Second)
	n := getNode(t, node)
	if m := repartitionMark(t, n); m == nil || m["phase"] != "draining" || n.Labels[nodeagent.LabelMIGConfig] != "all-disabled" {
		t.Fatalf("node %s changed while the evicted holder still held its GPU: %s", node, describeNode(n))
	}
	if !hasRepartitionTaint(n) {
		t.Errorf("node %s is not tainted while it drains: %s", node, describeNode(n))
	}
	if p, err := pods.Get(context.Background(), "wants-3g", metav1.GetOptions{}); err != nil || p.Spec.NodeName != "" {
		t.Errorf("wants-3g was bound (%v) while the node drained", err)
	}
	w := watchNode(t, node)
	release()

	if got := waitRunningOn(t, ns, "wants-3g", 60*time.Second); got != node {
		t.Fatalf("pod runs on %s, want %s", got, node)
	}
	if _, err := pods.Get(context.Background(), "holder", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("holder still there after the change: %v", err)
	}
	w.stop()
	t.Logf("after the release: %v", w)
	n = expectRepartitionDone(t, node)
	if qty(n, "nvidia.com/mig-3g.48gb") == "0" {
		t.Errorf("node %s does not offer 3g.48gb: %s", node, describeNode(n))
	}
	waitEvent(t, ns, "holder", "GpuRepartitionEvicted", 10*time.Second, func(m string) bool { return strings.Contains(m, node) })
}

// TestRepartitionFailedMovesOn: the MIG manager of the node the planner picks first (two idle H20s; ties go by
// node name) reports failed (the agent's failMig knob, as a GPU reset failure would): gpushare gives up on it with a
// Warning Event, clears its mark, backs it off, and repartitions the other node, where the pod then runs.
func TestRepartitionFailedMovesOn(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	pool := newPool()
	failing := h20(nodeagent.ModeFull, "")
	failing.FailMig = true
	bad := addPoolNode(t, pool, "a-fails", failing)
	good := addPoolNode(t, pool, "b-works", h20(nodeagent.ModeFull, ""))
	wBad := watchNode(t, bad)
	createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))

	if got := waitRunningOn(t, ns, "wants-3g", 75*time.Second); got != good {
		t.Fatalf("pod runs on %s, want %s (after %s failed)", got, good, bad)
	}
	wBad.stop()
	t.Logf("%v", wBad)
	wBad.mu.Lock()
	if !wBad.marked || !strings.Contains(strings.Join(wBad.states, ","), "failed") {
		t.Errorf("%s was not tried first, or its MIG manager never said failed: %v", bad, wBad)
	}
	wBad.mu.Unlock()
	n := expectRepartitionDone(t, bad)
	// Given up, gpushare put back the old nvidia.com/mig.config, so the MIG manager re-applies the layout the GPU
	// has (and a later try of the same config is a label change again): the node says success on its old whole GPU.
	n, _ = waitNode(t, bad, 20*time.Second, "mig.config back to all-disabled and success", func(n *corev1.Node) bool {
		return n.Labels[nodeagent.LabelMIGConfig] == "all-disabled" && n.Labels[nodeagent.LabelMIGConfigState] == "success"
	})
	if qty(n, "nvidia.com/gpu") != "1" {
		t.Errorf("node %s: allocatable gpu %s, want its old whole GPU", bad, qty(n, "nvidia.com/gpu"))
	}
	wBad.mu.Lock()
	if len(wBad.migCfgs) < 3 || wBad.migCfgs[0] != "all-disabled" || wBad.migCfgs[len(wBad.migCfgs)-1] != "all-disabled" {
		t.Errorf("node %s: mig.config went %q, want all-disabled, the plan's config, all-disabled again", bad, wBad.migCfgs)
	}
	wBad.mu.Unlock()
	until, err := time.Parse(time.RFC3339Nano, n.Annotations[annBackoff])
	if err != nil || time.Until(until) < harness.FailureBackoff/2 {
		t.Errorf("node %s: %s=%q, want a time about %s ahead", bad, annBackoff, n.Annotations[annBackoff], harness.FailureBackoff)
	}
	expectRepartitionDone(t, good)
	msg := waitEvent(t, "default", bad, "RepartitionFailed", 10*time.Second, func(string) bool { return true })
	evs, _ := cluster.Client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == bad && e.Reason == "RepartitionFailed" && e.Type != corev1.EventTypeWarning {
			t.Errorf("event RepartitionFailed on %s is %s, want Warning", bad, e.Type)
		}
	}
	t.Logf("RepartitionFailed: %s", msg)
	waitEvent(t, ns, "wants-3g", "GpuRepartitionFailed", 10*time.Second, func(m string) bool { return strings.Contains(m, bad) })
}

// configMapWriter is other controllers editing the GPU Operator's ConfigMaps as fast as they can: they keep adding
// and changing their own entries (device-plugin keys; mig-configs inside mig-parted's config.yaml, which they
// rewrite whole), each time by Get and then Update with the resourceVersion read, again after a 409.
type configMapWriter struct {
	tag       string
	mu        sync.Mutex
	dp        map[string]string                     // key -> its last value written
	mig       map[string][]nodeagent.MigConfigEntry // mig-configs name -> its last value written
	unsure    map[string]bool                       // "<ConfigMap>/<key>" whose last write was cut short by the stop
	writes    int
	conflicts int
}

// run writes into cm until ctx ends; id tells concurrent runs' keys apart.
func (w *configMapWriter) run(ctx context.Context, cm string, id int) error {
	cms := cluster.Client.CoreV1().ConfigMaps("gpu-operator")
	for rev := 0; ; rev++ {
		key := fmt.Sprintf("e2e-writer-%s-%d-%d", w.tag, id, rev%3) // the prefix the test's cleanup removes
		for {
			obj, err := cms.Get(ctx, cm, metav1.GetOptions{})
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			var migValue []nodeagent.MigConfigEntry
			dpValue := fmt.Sprintf("version: v1\nflags:\n  migStrategy: mixed\n# writer revision %d\n", rev)
			if cm == migPartedCM {
				var cfg nodeagent.MigPartedConfig
				if err := yaml.Unmarshal([]byte(obj.Data["config.yaml"]), &cfg); err != nil {
					return fmt.Errorf("config.yaml as the writer read it: %w", err)
				}
				migValue = []nodeagent.MigConfigEntry{{Devices: "all", MigEnabled: true, MigDevices: map[string]int{"1g.12gb": 1 + rev%7}}}
				cfg.MigConfigs[key] = migValue
				b, _ := yaml.Marshal(cfg)
				obj.Data["config.yaml"] = string(b)
			} else {
				obj.Data[key] = dpValue
			}
			_, err = cms.Update(ctx, obj, metav1.UpdateOptions{})
			w.mu.Lock()
			switch {
			case err == nil:
				w.writes++
				if cm == migPartedCM {
					w.mig[key] = migValue
				} else {
					w.dp[key] = dpValue
				}
			case apierrors.IsConflict(err):
				w.conflicts++
				w.mu.Unlock()
				continue
			case ctx.Err() != nil: // stopped while the Update was on its way: whether it landed is unknown
				w.unsure[cm+"/"+key] = true
			default:
				w.mu.Unlock()
				return err
			}
			w.mu.Unlock()
			if ctx.Err() != nil {
				return nil
			}
			break
		}
		time.Sleep(time.Duration(rand.IntN(4)) * time.Millisecond)
	}
}

// TestRepartitionConcurrentConfigMapWriter: while gpushare writes a new MIG entry and a new MPS entry into the GPU
// Operator's ConfigMaps, another writer keeps changing its own entries in both: in the end every entry of the other
// writer holds the last value it wrote, and gpushare's entries are there too (neither side lost a key to the
// other's read-modify-write).
func TestRepartitionConcurrentConfigMapWriter(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	pool := newPool()
	h := addPoolNode(t, pool, "h20", h20(nodeagent.ModeFull, ""))
	g := addPoolNode(t, pool, "4090", nodeagent.NodeSpec{Product: "NVIDIA-GeForce-RTX-4090", Count: 1, MemoryMiB: rtx4090MemoryMiB, Mode: nodeagent.ModeFull})

	w := &configMapWriter{tag: suffix(), dp: map[string]string{}, mig: map[string][]nodeagent.MigConfigEntry{}, unsure: map[string]bool{}}
	// A big mig-parted file, as a fleet with many per-node layouts has: gpushare's read-modify-write of config.yaml
	// (parse, merge, write back) takes long enough for the writers' updates to land in between. The writers' entries
	// go when the test ends (they are theirs; gpushare's entries stay, as in a cluster).
	prefix := "e2e-writer-" + w.tag + "-"
	t.Cleanup(func() {
		editConfigMap(t, migPartedCM, func(d map[string]string) {
			var cfg nodeagent.MigPartedConfig
			if err := yaml.Unmarshal([]byte(d["config.yaml"]), &cfg); err != nil {
				t.Fatal(err)
			}
			for k := range cfg.MigConfigs {
				if strings.HasPrefix(k, prefix) {
					delete(cfg.MigConfigs, k)
				}
			}
			b, _ := yaml.Marshal(cfg)
			d["config.yaml"] = string(b)
		})
		editConfigMap(t, devicePluginCM, func(d map[string]string) {
			for k := range d {
				if strings.HasPrefix(k, prefix) {
					delete(d, k)
				}
			}
		})
	})
	const bulk = 500
	editConfigMap(t, migPartedCM, func(d map[string]string) {
		var cfg nodeagent.MigPartedConfig
		if err := yaml.Unmarshal([]byte(d["config.yaml"]), &cfg); err != nil {
			t.Fatal(err)
		}
		for i := range bulk {
			v := []nodeagent.MigConfigEntry{{Devices: []any{i % 8}, MigEnabled: true, MigDevices: map[string]int{"1g.12gb": 1 + i%7}}}
			cfg.MigConfigs[fmt.Sprintf("%sbulk-%d", prefix, i)] = v
			w.mig[fmt.Sprintf("%sbulk-%d", prefix, i)] = v
		}
		b, _ := yaml.Marshal(cfg)
		d["config.yaml"] = string(b)
	})
	editConfigMap(t, devicePluginCM, func(d map[string]string) {
		for i := range bulk {
			v := fmt.Sprintf("version: v1\nflags:\n  migStrategy: mixed\n# bulk %d\n", i)
			d[fmt.Sprintf("%sbulk-%d", prefix, i)] = v
			w.dp[fmt.Sprintf("%sbulk-%d", prefix, i)] = v
		}
	})

	ctx, stop := context.WithCancel(context.Background())
	// Several at once on each ConfigMap: their updates come often enough to land between gpushare's read and write.
	const perConfigMap = 3
	errs := make(chan error, 2*perConfigMap)
	for _, cm := range []string{migPartedCM, devicePluginCM} {
		for id := range perConfigMap {
			go func() { errs <- w.run(ctx, cm, id) }()
		}
	}
	started := time.Now()
	var stopped time.Time
	stopWriter := func() {
		if stop == nil {
			return
		}
		stop()
		stop = nil
		stopped = time.Now()
		for range 2 * perConfigMap {
			if err := <-errs; err != nil {
				t.Errorf("the other writer failed: %v", err)
			}
		}
	}
	t.Cleanup(stopWriter)

	// Layouts no other test asks for (2g.24gb on one H20; 4Gi shares: 5 MPS replicas of a 4090), so gpushare writes
	// new entries while the other writer runs.
	createPod(t, ns, migPod("wants-2g", "2g.24gb", inPool(pool), onNode(h)))
	createPod(t, ns, newPod("wants-mps", withAnnotations(annMode, "mps", annMemory, "4Gi"), withLimits("nvidia.com/gpu", "1"), inPool(pool), onNode(g)))
	if got := waitRunningOn(t, ns, "wants-2g", 60*time.Second); got != h {
		t.Errorf("wants-2g runs on %s, want %s", got, h)
	}
	if got := waitRunningOn(t, ns, "wants-mps", 30*time.Second); got != g {
		t.Errorf("wants-mps runs on %s, want %s", got, g)
	}
	stopWriter()
	t.Logf("the other writer: %d writes, %d conflicts; gpushare re-read %d time(s) after a conflict", w.writes, w.conflicts,
		len(logLines(cluster.GpushareLog("gpushare"), "changed while it was written", "/configmaps/")))
	if len(w.dp) == 0 || len(w.mig) == 0 || w.writes < 50 {
		t.Errorf("the other writer wrote %d times (%d device-plugin and %d mig-parted entries): it did not race gpushare", w.writes, len(w.dp), len(w.mig))
	}

	// gpushare's entries: named by the node labels, written while the other writer ran.
	entries := map[string]string{migPartedCM: getNode(t, h).Labels[nodeagent.LabelMIGConfig], devicePluginCM: getNode(t, g).Labels[nodeagent.LabelDevicePluginCfg]}
	cms := map[string]*corev1.ConfigMap{}
	for cmName, entry := range entries {
		cm, err := cluster.Client.CoreV1().ConfigMaps("gpu-operator").Get(context.Background(), cmName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cms[cmName] = cm
		if !strings.HasPrefix(entry, "gpushare-") {
			t.Errorf("ConfigMap %s: the node label names %q, not a gpushare-<hash> entry", cmName, entry)
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, cm.Annotations["gpushare.io/written-at."+entry])
		if err == nil && at.Before(started) { // only with go test -count > 1: the same layouts, already written
			t.Logf("ConfigMap %s: entry %s was written at %s, by an earlier run in this cluster: nothing raced it", cmName, entry, at)
			continue
		}
		if err != nil || at.After(stopped) {
			t.Errorf("ConfigMap %s: gpushare.io/written-at.%s = %q: want a time while the other writer ran (%s .. %s)", cmName, entry,
				cm.Annotations["gpushare.io/written-at."+entry], started.UTC().Format(time.RFC3339Nano), stopped.UTC().Format(time.RFC3339Nano))
		}
	}
	var cfg nodeagent.MigPartedConfig
	if err := yaml.UnmarshalStrict([]byte(cms[migPartedCM].Data["config.yaml"]), &cfg); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	if len(cfg.MigConfigs[entries[migPartedCM]]) == 0 {
		t.Errorf("gpushare's mig-configs[%s] is not in config.yaml", entries[migPartedCM])
	}
	if cms[devicePluginCM].Data[entries[devicePluginCM]] == "" {
		t.Errorf("gpushare's device-plugin entry %s is not in the ConfigMap", entries[devicePluginCM])
	}
	for k, v := range w.mig {
		if w.unsure[migPartedCM+"/"+k] {
			continue
		}
		if got := mustJSON(cfg.MigConfigs[k]); got != mustJSON(v) {
			t.Errorf("the other writer's mig-configs[%s] = %s, want %s", k, got, mustJSON(v))
		}
	}
	for k, v := range w.dp {
		if w.unsure[devicePluginCM+"/"+k] {
			continue
		}
		if got := cms[devicePluginCM].Data[k]; got != v {
			t.Errorf("the other writer's device-plugin key %s = %q, want %q", k, got, v)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// metricSum adds up the samples of a Prometheus text exposition whose name is name and whose labels include want.
func metricSum(text, name string, want map[string]string) float64 {
	total := 0.0
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		labels := ""
		if strings.HasPrefix(rest, "{") {
			end := strings.Index(rest, "}")
			if end < 0 {
				continue
			}
			labels, rest = rest[1:end], rest[end+1:]
		}
		if !strings.HasPrefix(rest, " ") {
			continue // a longer name with this prefix
		}
		ok := true
		for k, v := range want {
			ok = ok && strings.Contains(","+labels+",", fmt.Sprintf(",%s=%q,", k, v))
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); ok && err == nil {
			total += f
		}
	}
	return total
}

// repartitionCounters reads the repartition counters of one gpushare process: plans computed and steps taken.
func repartitionCounters(t *testing.T, url string) (plans, steps float64) {
	t.Helper()
	code, body, err := cluster.GetGpushare(url, "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET %s/metrics: %d %v", url, code, err)
	}
	return metricSum(string(body), "gpushare_repartition_plans_total", nil), metricSum(string(body), "gpushare_repartition_steps_total", nil)
}

// leaseHolder is the Lease's holderIdentity ("" while there is none).
func leaseHolder(t *testing.T) string {
	t.Helper()
	l, err := cluster.Client.CoordinationV1().Leases(harness.LeaseNamespace).Get(context.Background(), harness.LeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatalf("Lease %s/%s: %v", harness.LeaseNamespace, harness.LeaseName, err)
	}
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// TestRepartitionTwoReplicasOneActs: with a second gpushare running (same config, its own port), the Lease has one
// holder, only that replica plans and writes (its counters move, the other's stay at zero and its log has no
// repartition step), and exactly one of two idle nodes is changed for one pending pod.
func TestRepartitionTwoReplicasOneActs(t *testing.T) {
	requireExtender(t)
	ns := newNamespace(t)
	const second = "gpushare-2"
	url2, err := cluster.StartGpushareReplica(ctxFor(t, 90*time.Second), second)
	if err != nil {
		t.Fatalf("start %s: %v", second, err)
	}
	t.Cleanup(func() { cluster.StopGpushareReplica(second) })
	replicas := map[string]string{"gpushare": "", second: url2} // name -> URL ("" is the first one)

	pool := newPool()
	a := addPoolNode(t, pool, "a", h20(nodeagent.ModeFull, ""))
	b := addPoolNode(t, pool, "b", h20(nodeagent.ModeFull, ""))
	wa, wb := watchNode(t, a), watchNode(t, b)
	before := map[string][2]float64{}
	for name, url := range replicas {
		p, s := repartitionCounters(t, url)
		before[name] = [2]float64{p, s}
	}
	createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))
	got := waitRunningOn(t, ns, "wants-3g", 60*time.Second)
	wa.stop()
	wb.stop()

	holder := leaseHolder(t)
	if holder == "" {
		t.Fatalf("Lease %s/%s has no holder", harness.LeaseNamespace, harness.LeaseName)
	}
	// Each process logs the identity it acquired the Lease as; exactly one log names the holder.
	leader := ""
	for name := range replicas {
		// Text format: `lease: acquired ... identity=<holder>`.
		if len(logLines(cluster.GpushareLog(name), "lease: acquired", "identity="+holder)) > 0 {
			if leader != "" {
				t.Errorf("both %s and %s say they acquired the Lease as %s", leader, name, holder)
			}
			leader = name
		}
	}
	if leader == "" {
		t.Fatalf("no replica's log says it acquired the Lease as %s", holder)
	}
	for name, url := range replicas {
		p, s := repartitionCounters(t, url)
		dp, ds := p-before[name][0], s-before[name][1]
		t.Logf("%s: +%v plans, +%v steps (leader: %v)", name, dp, ds, name == leader)
		if name == leader && (dp < 1 || ds < 1) {
			t.Errorf("leader %s: %v plans and %v steps for this pod, want some", name, dp, ds)
		}
		if name != leader && (dp != 0 || ds != 0) {
			t.Errorf("follower %s: %v plans and %v steps meanwhile, want none", name, dp, ds)
		}
	}
	follower := second
	if leader == second {
		follower = "gpushare"
	}
	if lines := logLines(cluster.GpushareLog(follower), " repartition: "); leader == "gpushare" && len(lines) > 0 {
		t.Errorf("follower %s logged repartition steps: %q", follower, lines)
	}
	changed, untouched := wa, wb
	if got == b {
		changed, untouched = wb, wa
	}
	changed.mu.Lock()
	if !changed.marked {
		t.Errorf("the pod runs on %s, but it was never marked: %v", got, changed)
	}
	changed.mu.Unlock()
	expectUntouched(t, untouched, "all-disabled", "")
	expectRepartitionDone(t, got)
}

// TestRepartitionLeaderReleasesTheLeaseOnSIGTERM: a leader stopped cleanly (a rolling update) releases the Lease as
// client-go's ReleaseOnCancel does, so the standby leads within its next round or two, not a whole lease
// (15 s) after the last renewal.
func TestRepartitionLeaderReleasesTheLeaseOnSIGTERM(t *testing.T) {
	const second = "gpushare-release"
	if _, err := cluster.StartGpushareReplica(ctxFor(t, 90*time.Second), second); err != nil {
		t.Fatalf("start %s: %v", second, err)
	}
	t.Cleanup(func() { cluster.StopGpushareReplica(second) })
	// The identity of the process's latest acquisition (a log may hold earlier runs of the same name).
	identityOf := func(name string) string {
		id := ""
		for _, line := range logLines(cluster.GpushareLog(name), "lease: acquired") {
			if i := strings.Index(line, "identity="); i >= 0 {
				id = strings.Fields(line[i+len("identity="):])[0]
			}
		}
		return id
	}
	// The first gpushare has led since the cluster started; the second only follows.
	deadline := time.Now().Add(30 * time.Second)
	for leaseHolder(t) == "" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	leader, follower := "gpushare", second
	if holder := leaseHolder(t); holder != identityOf("gpushare") {
		if holder == "" || holder != identityOf(second) {
			t.Fatalf("Lease held by %q; gpushare acquired it as %q, %s as %q", holder, identityOf("gpushare"), second, identityOf(second))
		}
		leader, follower = second, "gpushare"
	}
	releasedBefore := len(logLines(cluster.GpushareLog(leader), "lease: released"))
	acquiredBefore := len(logLines(cluster.GpushareLog(follower), "lease: acquired"))
	stopped := time.Now()
	if leader == "gpushare" {
		cluster.StopGpushare()
		t.Cleanup(func() {
			if err := cluster.StartGpushare(ctxFor(t, 90*time.Second)); err != nil {
				t.Errorf("restart gpushare: %v", err)
			}
		})
	} else {
		cluster.StopGpushareReplica(second)
	}
	if lines := logLines(cluster.GpushareLog(leader), "lease: released"); len(lines) == releasedBefore {
		t.Errorf("%s stopped without logging \"lease: released\"", leader)
	}
	// The follower has led once it logs a new acquisition and the Lease names that identity.
	took := func() bool {
		return len(logLines(cluster.GpushareLog(follower), "lease: acquired")) > acquiredBefore &&
			leaseHolder(t) == identityOf(follower)
	}
	for !took() && time.Since(stopped) < 20*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(stopped)
	if !took() {
		t.Fatalf("%s did not take the Lease within %s of %s's SIGTERM (holder %q)", follower, elapsed, leader, leaseHolder(t))
	}
	t.Logf("%s led %s after %s's SIGTERM", follower, elapsed.Round(100*time.Millisecond), leader)
	// A released Lease is free at once: the follower retries every renew period (5 s); without the release it would
	// wait out the lease (15 s) from the last renewal it saw.
	if elapsed > 12*time.Second {
		t.Errorf("takeover took %s, want within about one renew period (the lease was released)", elapsed)
	}
}

// TestRepartitionKilledWhileMarked and TestRepartitionKilledWhileApplying: gpushare dies (SIGKILL) in the middle of
// a change and is started again; once the dead replica's Lease has expired, the new process reads the node's mark
// and finishes or re-drives the change: the pod runs there and the mark is cleared.
func TestRepartitionKilledWhileMarked(t *testing.T) {
	killMidChange(t, "marked", func(mark map[string]any, n *corev1.Node) bool { return mark != nil })
}

func TestRepartitionKilledWhileApplying(t *testing.T) {
	killMidChange(t, "applying", func(mark map[string]any, n *corev1.Node) bool {
		return mark != nil && mark["phase"] == "applying" && n.Labels[nodeagent.LabelMIGConfigState] == "pending"
	})
}

func killMidChange(t *testing.T, when string, now func(mark map[string]any, n *corev1.Node) bool) {
	requireExtender(t)
	ns := newNamespace(t)
	t.Cleanup(func() {
		if cluster.GpushareRunning() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cluster.StartGpushare(ctx); err != nil {
			t.Errorf("restart gpushare: %v", err)
		}
	})
	pool := newPool()
	// Two GPUs: a layout no other test writes, so the entry is new and the mark waits out the propagation delay.
	spec := h20(nodeagent.ModeFull, "")
	spec.Count = 2
	if when == "applying" {
		spec.Count = 3
	}
	node := addPoolNode(t, pool, "h20", spec)
	createPod(t, ns, migPod("wants-3g", "3g.48gb", inPool(pool)))

	deadline := time.Now().Add(45 * time.Second)
	var mark map[string]any
	for {
		n := getNode(t, node)
		if mark = repartitionMark(t, n); now(mark, n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s never reached %q: %s", node, when, describeNode(n))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cluster.KillGpushare()
	killed := time.Now()
	n := getNode(t, node)
	t.Logf("killed gpushare with the node's mark in phase %v; node %s", mark["phase"], describeNode(n))
	if _, ok := n.Annotations[annRepartitionMark]; !ok {
		t.Fatalf("the mark was gone by the time gpushare died: nothing left to resume")
	}
	if err := cluster.StartGpushare(ctxFor(t, time.Minute)); err != nil {
		t.Fatalf("restart gpushare: %v", err)
	}
	if got := waitRunningOn(t, ns, "wants-3g", 75*time.Second); got != node {
		t.Fatalf("pod runs on %s, want %s", got, node)
	}
	t.Logf("pod Running %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	n = expectRepartitionDone(t, node)
	if cfg := n.Labels[nodeagent.LabelMIGConfig]; !strings.HasPrefix(cfg, "gpushare-") || cfg != mark["configName"] ||
		n.Labels[nodeagent.LabelMIGConfigState] != "success" {
		t.Errorf("node %s: nvidia.com/mig.config=%q state %q, want %v in state success", node, cfg, n.Labels[nodeagent.LabelMIGConfigState], mark["configName"])
	}
	waitEvent(t, "default", node, "RepartitionSucceeded", 10*time.Second, func(string) bool { return true })
}
