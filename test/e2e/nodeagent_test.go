package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"gpushare.test/e2e/harness"
	"gpushare.test/e2e/nodeagent"
)

// The node agent is the stand-in for the GPU Operator in every scenario; these tests pin down the protocol it plays.

func setNodeLabel(t *testing.T, node, key string, value *string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{key: value}}})
	if _, err := cluster.Client.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, b, metav1.PatchOptions{}); err != nil {
		t.Fatalf("label node %s %s=%v: %v", node, key, value, err)
	}
}

func editConfigMap(t *testing.T, name string, edit func(map[string]string)) {
	t.Helper()
	editConfigMapObject(t, name, func(cm *corev1.ConfigMap) { edit(cm.Data) })
}

// editConfigMapObject is editConfigMap for changes beyond data (annotations); Data and Annotations are never nil.
func editConfigMapObject(t *testing.T, name string, edit func(*corev1.ConfigMap)) {
	t.Helper()
	cms := cluster.Client.CoreV1().ConfigMaps("gpu-operator")
	for range 10 {
		cm, err := cms.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		edit(cm)
		if _, err = cms.Update(context.Background(), cm, metav1.UpdateOptions{}); err == nil {
			return
		}
	}
	t.Fatalf("update ConfigMap %s: too many conflicts", name)
}

func addMigConfig(t *testing.T, name string, entries []nodeagent.MigConfigEntry) {
	editConfigMap(t, "custom-mig-parted-config", func(d map[string]string) {
		var cfg nodeagent.MigPartedConfig
		if err := yaml.Unmarshal([]byte(d["config.yaml"]), &cfg); err != nil {
			t.Fatal(err)
		}
		cfg.MigConfigs[name] = entries
		b, _ := yaml.Marshal(cfg)
		d["config.yaml"] = string(b)
	})
}

// waitNode polls the node until cond holds; it returns the states of nvidia.com/mig.config.state seen on the way.
func waitNode(t *testing.T, name string, timeout time.Duration, what string, cond func(*corev1.Node) bool) (*corev1.Node, []string) {
	t.Helper()
	var states []string
	var n *corev1.Node
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		n = getNode(t, name)
		s := n.Labels[nodeagent.LabelMIGConfigState]
		if _, hasProduct := n.Labels[nodeagent.LabelProduct]; !hasProduct {
			s += "(no gpu.product)"
		}
		if len(states) == 0 || states[len(states)-1] != s {
			states = append(states, s)
		}
		if cond(n) {
			return n, states
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node %s: %s not reached within %s; states %v; labels %v; allocatable %v", name, what, timeout, states, n.Labels, n.Status.Allocatable)
	return nil, nil
}

func qty(n *corev1.Node, r string) string {
	q, ok := n.Status.Allocatable[corev1.ResourceName(r)]
	if !ok {
		return "<none>"
	}
	return q.String()
}

func TestNodeAgentMIGReconfigure(t *testing.T) {
	ns := newNamespace(t)
	node := addPrivateNode(t, nodeagent.NodeSpec{Name: "e2e-agent-mig-" + suffix(), Product: "NVIDIA-H100-80GB-HBM3", Count: 1,
		MemoryMiB: 81559, Mode: nodeagent.ModeMIG, MigConfig: "e2e-h100-balanced"})
	n := getNode(t, node)
	for k, v := range map[string]string{
		"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/mig.config": "e2e-h100-balanced",
		"nvidia.com/mig.config.state": "success", "nvidia.com/mig.strategy": "mixed", "nvidia.com/mig.capable": "true",
		"nvidia.com/mps.capable": "false", "nvidia.com/gpu.replicas": "0", "nvidia.com/gpu.count": "1",
		"nvidia.com/mig-1g.10gb.count": "2", "nvidia.com/mig-2g.20gb.count": "1", "nvidia.com/mig-3g.40gb.count": "1",
		"nvidia.com/mig-1g.10gb.memory": "9984", "nvidia.com/mig-3g.40gb.slices.gi": "3",
	} {
		if n.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	if got := strings.Join([]string{qty(n, "nvidia.com/mig-1g.10gb"), qty(n, "nvidia.com/mig-2g.20gb"), qty(n, "nvidia.com/mig-3g.40gb"), qty(n, "nvidia.com/gpu")}, " "); got != "2 1 1 <none>" {
		t.Errorf("allocatable mig-1g.10gb, 2g.20gb, 3g.40gb, gpu = %s, want 2 1 1 <none>", got)
	}

	all1g := []nodeagent.MigConfigEntry{{Devices: "all", MigEnabled: true, MigDevices: map[string]int{"1g.10gb": 7}}}
	early := "e2e-all-1g-early-" + suffix()
	addMigConfig(t, early, all1g)
	// Flipping the label before the ConfigMap edit has reached the MIG manager: failed, and not retried.
	setNodeLabel(t, node, nodeagent.LabelMIGConfig, &early)
	waitNode(t, node, 10*time.Second, "state failed (config not yet visible)", func(n *corev1.Node) bool {
		return n.Labels[nodeagent.LabelMIGConfigState] == "failed"
	})

	name := "e2e-all-1g-" + suffix()
	addMigConfig(t, name, all1g)
	time.Sleep(2500 * time.Millisecond) // testdata/nodes.yaml configMapDelay: 2s
	setNodeLabel(t, node, nodeagent.LabelMIGConfig, &name)
	n, states := waitNode(t, node, 15*time.Second, "new layout", func(n *corev1.Node) bool {
		return n.Labels[nodeagent.LabelMIGConfigState] == "success" && n.Labels["nvidia.com/mig-1g.10gb.count"] == "7"
	})
	if !strings.Contains(strings.Join(states, ","), "pending(no gpu.product)") {
		t.Errorf("states seen %v: want pending, with nvidia.com/gpu.product removed, before success", states)
	}
	if qty(n, "nvidia.com/mig-1g.10gb") != "7" || qty(n, "nvidia.com/mig-3g.40gb") != "<none>" || n.Labels["nvidia.com/mig-3g.40gb.count"] != "" {
		t.Errorf("after %s: allocatable %v, labels %v", name, n.Status.Allocatable, n.Labels)
	}

	// A pod holding an instance of a GPU that would change: mig-parted fails (ERROR_IN_USE); the layout stays.
	pod := newPod("holder", withLimits("nvidia.com/mig-1g.10gb", "1"), tolerating(privateTaint))
	pod.Spec.NodeName = node
	createPod(t, ns, pod)
	waitRunning(t, ns, "holder", 15*time.Second)
	back := "e2e-h100-balanced"
	setNodeLabel(t, node, nodeagent.LabelMIGConfig, &back)
	n, states = waitNode(t, node, 15*time.Second, "state failed (GPU busy)", func(n *corev1.Node) bool {
		return n.Labels[nodeagent.LabelMIGConfigState] == "failed"
	})
	if !strings.Contains(n.Annotations[nodeagent.AnnotationError], "ERROR_IN_USE") {
		t.Errorf("annotation %s = %q, want the busy GPU named", nodeagent.AnnotationError, n.Annotations[nodeagent.AnnotationError])
	}
	if qty(n, "nvidia.com/mig-1g.10gb") != "7" || n.Labels[nodeagent.LabelProduct] == "" {
		t.Errorf("after a failed apply: allocatable %v, product %q (want the old layout back)", n.Status.Allocatable, n.Labels[nodeagent.LabelProduct])
	}
	t.Logf("states seen: %v", states)
}

// TestNodeAgentFailMig: the failMig knob: a new layout goes through pending and ends failed, with the old layout
// (and its allocatable) kept; a value already applied still reports success.
func TestNodeAgentFailMig(t *testing.T) {
	node := addPrivateNode(t, nodeagent.NodeSpec{Name: "e2e-agent-failmig-" + suffix(), Product: "NVIDIA-H100-80GB-HBM3", Count: 1,
		MemoryMiB: 81559, Mode: nodeagent.ModeMIG, MigConfig: "e2e-h100-balanced", FailMig: true})
	name := "e2e-all-1g-failmig-" + suffix()
	addMigConfig(t, name, []nodeagent.MigConfigEntry{{Devices: "all", MigEnabled: true, MigDevices: map[string]int{"1g.10gb": 7}}})
	time.Sleep(2500 * time.Millisecond) // testdata/nodes.yaml configMapDelay: 2s
	setNodeLabel(t, node, nodeagent.LabelMIGConfig, &name)
	n, states := waitNode(t, node, 15*time.Second, "state failed", func(n *corev1.Node) bool {
		return n.Labels[nodeagent.LabelMIGConfigState] == "failed"
	})
	if !strings.Contains(strings.Join(states, ","), "pending") || !strings.Contains(n.Annotations[nodeagent.AnnotationError], "failMig") {
		t.Errorf("states %v, %s = %q: want pending, then failed naming failMig", states, nodeagent.AnnotationError, n.Annotations[nodeagent.AnnotationError])
	}
	if qty(n, "nvidia.com/mig-3g.40gb") != "1" || qty(n, "nvidia.com/mig-1g.10gb") != "2" {
		t.Errorf("after the failure: allocatable %v, want the balanced layout kept", n.Status.Allocatable)
	}
	back := "e2e-h100-balanced"
	setNodeLabel(t, node, nodeagent.LabelMIGConfig, &back)
	waitNode(t, node, 10*time.Second, "success (already applied)", func(n *corev1.Node) bool {
		return n.Labels[nodeagent.LabelMIGConfigState] == "success"
	})
}

func TestNodeAgentMPSSwitch(t *testing.T) {
	node := addPrivateNode(t, nodeagent.NodeSpec{Name: "e2e-agent-mps-" + suffix(), Product: "NVIDIA-A100-SXM4-40GB", Count: 2,
		MemoryMiB: 40960, Mode: nodeagent.ModeFull})
	n := getNode(t, node)
	if qty(n, "nvidia.com/gpu") != "2" || n.Labels["nvidia.com/mig.config"] != "all-disabled" || n.Labels["nvidia.com/gpu.sharing-strategy"] != "none" {
		t.Fatalf("initial: allocatable %v labels %v", n.Status.Allocatable, n.Labels)
	}
	key := "e2e-mps-3-" + suffix()
	editConfigMap(t, "device-plugin-config", func(d map[string]string) {
		d[key] = "version: v1\nsharing:\n  mps:\n    renameByDefault: true\n    resources:\n    - name: nvidia.com/gpu\n      replicas: 3\n"
	})
	// Set at once: the key is not visible yet, the config-manager retries until it is (configMapDelay 2s).
	setNodeLabel(t, node, nodeagent.LabelDevicePluginCfg, &key)
	n, _ = waitNode(t, node, 20*time.Second, "MPS on", func(n *corev1.Node) bool { return n.Labels["nvidia.com/mps.capable"] == "true" })
	for k, v := range map[string]string{"nvidia.com/gpu.replicas": "3", "nvidia.com/gpu.sharing-strategy": "mps", "nvidia.com/gpu.count": "2",
		"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"} {
		if n.Labels[k] != v {
			t.Errorf("MPS on: label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	if qty(n, "nvidia.com/gpu.shared") != "6" || qty(n, "nvidia.com/gpu") != "0" {
		t.Errorf("MPS on: allocatable %v, want gpu.shared 6 and gpu 0", n.Status.Allocatable)
	}
	missing := "no-such-config"
	setNodeLabel(t, node, nodeagent.LabelDevicePluginCfg, &missing)
	n, _ = waitNode(t, node, 10*time.Second, "error noted", func(n *corev1.Node) bool {
		return strings.Contains(n.Annotations[nodeagent.AnnotationError], "does not exist")
	})
	if qty(n, "nvidia.com/gpu.shared") != "6" {
		t.Errorf("a missing config must leave the plugin as it was: allocatable %v", n.Status.Allocatable)
	}
	setNodeLabel(t, node, nodeagent.LabelDevicePluginCfg, nil)
	n, _ = waitNode(t, node, 10*time.Second, "MPS off", func(n *corev1.Node) bool { return n.Labels["nvidia.com/mps.capable"] == "false" })
	if qty(n, "nvidia.com/gpu") != "2" || qty(n, "nvidia.com/gpu.shared") != "<none>" || n.Labels["nvidia.com/gpu.replicas"] != "1" {
		t.Errorf("MPS off: allocatable %v labels %v", n.Status.Allocatable, n.Labels)
	}
}

// TestNodeAgentCommand: cmd/nodeagent (the demo's node simulator) creates its nodes, and deletes them on SIGTERM
// with --delete-on-exit.
func TestNodeAgentCommand(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "nodeagent")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/nodeagent").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/nodeagent: %v\n%s", err, out)
	}
	node := "e2e-cmd-" + suffix()
	spec := fmt.Sprintf(`nodes:
- name: %s
  product: NVIDIA-GeForce-RTX-4090
  count: 2
  memoryMiB: 24564
  mode: mps
  replicas: 2
  taints: [{key: %s, value: %s, effect: NoSchedule}]
`, node, privateTaint, node)
	specPath := filepath.Join(dir, "nodes.yaml")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(cluster.LogDir, "nodeagent-cmd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--kubeconfig", cluster.Kubeconfig, "--config", specPath,
		"--catalog", filepath.Join(cluster.Opts.RepoRoot, "policy", "catalog_default.yaml"), "--delete-on-exit")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	var n *corev1.Node
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(logPath)
		if !strings.Contains(string(b), "nodeagent: simulating") {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if got, err := cluster.Client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{}); err == nil && qty(got, "nvidia.com/gpu.shared") == "4" {
			n = got
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n == nil {
		t.Fatalf("node %s with nvidia.com/gpu.shared 4 did not appear; log %s:\n%s", node, logPath, harness.Tail(logPath, 20))
	}
	if n.Labels[nodeagent.LabelDevicePluginCfg] != "mps-2" || n.Labels[nodeagent.LabelMPSCapable] != "true" {
		t.Errorf("labels %v", n.Labels)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("nodeagent exited with %v; log:\n%s", err, harness.Tail(logPath, 20))
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("nodeagent did not stop on SIGTERM")
	}
	if _, err := cluster.Client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{}); err == nil {
		t.Errorf("node %s still there after --delete-on-exit", node)
	}
}
