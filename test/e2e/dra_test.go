package e2e

// The same share intent on DRA clusters (issue 15). Kubernetes 1.36 serves a pod's extended resource
// (nvidia.com/mig-1g.10gb) with a DRA device when a DeviceClass names it in spec.extendedResourceName (KEP-5004,
// beta, on by default): kube-scheduler's DynamicResources plugin allocates a device of that class on the node,
// creates a ResourceClaim for the pod (pod.status.extendedResourceClaimStatus names it) and NodeResourcesFit leaves
// the resource to it on nodes whose allocatable lacks it. gpushare ships one DeviceClass per MIG profile
// (manifests/overlays/dra, `gpushare dra-classes`) and, with dra.enabled, treats nodes of the NVIDIA DRA driver
// (gpu.nvidia.com ResourceSlices, no nvidia.com/* allocatable) as GPU nodes of the product their devices name, which
// it never repartitions.
//
// DRA nodes here are the node agent's (nodeagent/dra.go): no nvidia.com/* capacity or labels, ResourceSlices shaped
// as the driver publishes them, static MIG or DynamicMIG. Like addPrivateNode's, they are tainted so that no other
// test's pod lands there, and this file's pods name the node (or a pool) they are meant for, because the shared
// e2e-h100 offers the same profiles through the device plugin.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/yaml"

	"gpushare.test/e2e/harness"
	"gpushare.test/e2e/nodeagent"
)

const (
	h100Product = "NVIDIA-H100-80GB-HBM3"
	h100MiB     = 81559
	// The scheduler's mark on the claim it creates for a pod's extended resources
	// (resourceapi.ExtendedResourceClaimAnnotation).
	annExtendedClaim = "resource.kubernetes.io/extended-resource-claim"
)

func requireDRA(t *testing.T) {
	t.Helper()
	requireExtender(t)
	if !cluster.DRA {
		if os.Getenv("E2E_REQUIRE_GPUSHARE") != "" {
			t.Fatalf("gpushare runs without DRA: %s", cluster.DRAReason)
		}
		t.Skipf("gpushare runs without DRA: %s", cluster.DRAReason)
	}
}

// addDRANode creates a private node, DRA or not (tainted like addPrivateNode's; extra labels as given). When the
// test fails, its labels, annotations, allocatable and ResourceSlices are logged; it is removed at the end (its
// slices with it).
func addDRANode(t *testing.T, spec nodeagent.NodeSpec) string {
	t.Helper()
	spec.Taints = append(spec.Taints, nodeagent.Taint{Key: privateTaint, Value: spec.Name, Effect: string(corev1.TaintEffectNoSchedule)})
	if err := cluster.Agent.AddNode(ctxFor(t, 30*time.Second), spec); err != nil {
		t.Fatalf("add DRA node %s: %v", spec.Name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if n, err := cluster.Client.CoreV1().Nodes().Get(context.Background(), spec.Name, metav1.GetOptions{}); err == nil {
				t.Logf("DRA node %s: labels %v annotations %v taints %v allocatable %v", spec.Name, n.Labels, n.Annotations,
					n.Spec.Taints, n.Status.Allocatable)
			}
			for _, s := range nodeSlices(t, spec.Name) {
				var devs []string
				for _, d := range s.Spec.Devices {
					devs = append(devs, d.Name)
				}
				var sets []string
				for _, cs := range s.Spec.SharedCounters {
					sets = append(sets, cs.Name)
				}
				t.Logf("ResourceSlice %s: pool %+v counter sets %v devices %v", s.Name, s.Spec.Pool, sets, devs)
			}
		}
		if err := cluster.Agent.RemoveNode(context.Background(), spec.Name); err != nil && !apierrors.IsNotFound(err) {
			t.Logf("remove node %s: %v", spec.Name, err)
		}
	})
	return spec.Name
}

// nodeSlices lists the gpu.nvidia.com ResourceSlices of a node.
func nodeSlices(t *testing.T, node string) []resourceapi.ResourceSlice {
	t.Helper()
	l, err := cluster.Client.ResourceV1().ResourceSlices().List(context.Background(), metav1.ListOptions{
		FieldSelector: fields.Set{"spec.nodeName": node, "spec.driver": nodeagent.DRADriver}.AsSelector().String()})
	if err != nil {
		t.Fatalf("list ResourceSlices of %s: %v", node, err)
	}
	return l.Items
}

// sliceDevice finds a device of the node's pool by name.
func sliceDevice(t *testing.T, node, name string) (resourceapi.Device, bool) {
	t.Helper()
	for _, s := range nodeSlices(t, node) {
		for _, d := range s.Spec.Devices {
			if d.Name == name {
				return d, true
			}
		}
	}
	return resourceapi.Device{}, false
}

func attrString(d resourceapi.Device, name string) string {
	if a, ok := d.Attributes[resourceapi.QualifiedName(name)]; ok && a.StringValue != nil {
		return *a.StringValue
	}
	return ""
}

// expectNoGPUPublished checks that a DRA node offers nothing through the device plugin's channels.
func expectNoGPUPublished(t *testing.T, node string) {
	t.Helper()
	n := getNode(t, node)
	for r := range n.Status.Allocatable {
		if strings.HasPrefix(string(r), "nvidia.com/") {
			t.Errorf("DRA node %s has allocatable %s", node, r)
		}
	}
	for k := range n.Labels {
		if strings.HasPrefix(k, "nvidia.com/") {
			t.Errorf("DRA node %s has label %s (GFD labels are off on DRA nodes: gpushare must read the slices)", node, k)
		}
	}
}

// claimOf waits until the pod is bound and its extended-resource claim is allocated and reserved for it, and
// returns both.
func claimOf(t *testing.T, ns, pod string, timeout time.Duration) (*corev1.Pod, *resourceapi.ResourceClaim) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var p *corev1.Pod
	var c *resourceapi.ResourceClaim
	var why string
	for time.Now().Before(deadline) {
		var err error
		if p, err = cluster.Client.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{}); err != nil {
			why = err.Error()
		} else if p.Status.ExtendedResourceClaimStatus == nil || p.Status.ExtendedResourceClaimStatus.ResourceClaimName == "" {
			why = "pod.status.extendedResourceClaimStatus not set"
		} else if c, err = cluster.Client.ResourceV1().ResourceClaims(ns).Get(context.Background(),
			p.Status.ExtendedResourceClaimStatus.ResourceClaimName, metav1.GetOptions{}); err != nil {
			why = err.Error()
		} else if c.Status.Allocation == nil {
			why = "claim " + c.Name + " not allocated"
		} else if p.Spec.NodeName == "" {
			why = "pod not bound"
		} else {
			return p, c
		}
		time.Sleep(300 * time.Millisecond)
	}
	claims, _ := cluster.Client.ResourceV1().ResourceClaims(ns).List(context.Background(), metav1.ListOptions{})
	var cs []string
	if claims != nil {
		for _, c := range claims.Items {
			cs = append(cs, fmt.Sprintf("%s allocation=%s reservedFor=%v", c.Name, mustJSON(c.Status.Allocation), c.Status.ReservedFor))
		}
	}
	t.Fatalf("pod %s/%s: no allocated extended-resource claim within %s (%s); conditions %v; claims in %s: %v; events:\n%s",
		ns, pod, timeout, why, conditions(p), ns, cs, events(ns, pod))
	return nil, nil
}

// expectClaimDevice checks the claim the scheduler made for a pod's one extended resource res: marked as such,
// owned by and reserved for the pod, one request of the DeviceClass for res, and one device of the node's pool
// whose type is mig and profile is profile. It returns the device.
func expectClaimDevice(t *testing.T, p *corev1.Pod, c *resourceapi.ResourceClaim, res, profile string) resourceapi.Device {
	t.Helper()
	st := p.Status.ExtendedResourceClaimStatus
	if len(st.RequestMappings) != 1 || st.RequestMappings[0].ContainerName != "main" || st.RequestMappings[0].ResourceName != res {
		t.Errorf("pod %s: extendedResourceClaimStatus.requestMappings %+v, want container main, resource %s", p.Name, st.RequestMappings, res)
	}
	if c.Annotations[annExtendedClaim] != "true" {
		t.Errorf("claim %s: annotation %s = %q", c.Name, annExtendedClaim, c.Annotations[annExtendedClaim])
	}
	owned := false
	for _, o := range c.OwnerReferences {
		owned = owned || (o.Kind == "Pod" && o.UID == p.UID)
	}
	reserved := false
	for _, r := range c.Status.ReservedFor {
		reserved = reserved || (r.Resource == "pods" && r.UID == p.UID)
	}
	if !owned || !reserved {
		t.Errorf("claim %s: owned by pod %v, reserved for it %v (%+v)", c.Name, owned, reserved, c.Status.ReservedFor)
	}
	class := "gpushare-" + strings.TrimPrefix(res, "nvidia.com/")
	if reqs := c.Spec.Devices.Requests; len(reqs) != 1 || reqs[0].Exactly == nil || reqs[0].Exactly.DeviceClassName != class || reqs[0].Exactly.Count != 1 {
		t.Errorf("claim %s requests %s, want 1 device of DeviceClass %s", c.Name, mustJSON(reqs), class)
	}
	results := c.Status.Allocation.Devices.Results
	if len(results) != 1 {
		t.Fatalf("claim %s: %d devices allocated, want 1: %s", c.Name, len(results), mustJSON(results))
	}
	r := results[0]
	if r.Driver != nodeagent.DRADriver || r.Pool != p.Spec.NodeName {
		t.Errorf("claim %s: device %s/%s/%s, want driver %s, pool %s", c.Name, r.Driver, r.Pool, r.Device, nodeagent.DRADriver, p.Spec.NodeName)
	}
	d, ok := sliceDevice(t, p.Spec.NodeName, r.Device)
	if !ok {
		t.Fatalf("claim %s: device %s is not in the ResourceSlices of %s", c.Name, r.Device, p.Spec.NodeName)
	}
	if attrString(d, "type") != "mig" || attrString(d, "profile") != profile {
		t.Errorf("claim %s: device %s is type %q profile %q, want mig %s", c.Name, d.Name, attrString(d, "type"), attrString(d, "profile"), profile)
	}
	return d
}

// TestDRADeviceClassesMatchCommand: the checked-in DeviceClasses (manifests/overlays/dra/deviceclasses.yaml) are
// what `gpushare dra-classes` prints for the default catalog, one per MIG resource of the catalog, named
// gpushare-mig-<suffix>, mapping nvidia.com/mig-<suffix>, selecting the driver's MIG devices of that profile; and the
// harness created them all.
func TestDRADeviceClassesMatchCommand(t *testing.T) {
	requireDRA(t)
	parse := func(what string, b []byte) map[string]resourceapi.DeviceClass {
		out := map[string]resourceapi.DeviceClass{}
		for _, doc := range strings.Split("\n"+string(b), "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var dc resourceapi.DeviceClass
			if err := yaml.UnmarshalStrict([]byte(doc), &dc); err != nil {
				t.Fatalf("%s: %v\n%s", what, err, doc)
			}
			if dc.Kind == "" && dc.Name == "" {
				continue // a comment-only document
			}
			if dc.APIVersion != "resource.k8s.io/v1" || dc.Kind != "DeviceClass" {
				t.Errorf("%s: %s %s, want resource.k8s.io/v1 DeviceClass", what, dc.APIVersion, dc.Kind)
			}
			out[dc.Name] = dc
		}
		return out
	}
	file := filepath.Join(cluster.Opts.RepoRoot, "manifests", "overlays", "dra", "deviceclasses.yaml")
	fb, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	inFile := parse("deviceclasses.yaml", fb)
	cb, err := cluster.DRAClasses("--catalog", filepath.Join(cluster.Opts.RepoRoot, "policy", "catalog_default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fromCmd := parse("gpushare dra-classes", cb)
	profiles := map[string]string{} // resource -> a profile name
	for _, g := range cluster.Catalog.GPUs {
		for _, p := range g.Profiles {
			profiles[nodeagent.ResourceName(p.Name)] = p.Name
		}
	}
	if len(inFile) != len(profiles) || len(fromCmd) != len(profiles) {
		t.Errorf("%d classes in the file, %d from the command, %d MIG resources in the catalog", len(inFile), len(fromCmd), len(profiles))
	}
	for res, profile := range profiles {
		suffix := strings.TrimPrefix(res, "nvidia.com/")
		name := "gpushare-" + suffix
		dc, ok := inFile[name]
		if !ok {
			t.Errorf("deviceclasses.yaml has no %s (for %s)", name, res)
			continue
		}
		if got := fromCmd[name]; mustJSON(got.Spec) != mustJSON(dc.Spec) {
			t.Errorf("%s differs:\n  file:    %s\n  command: %s", name, mustJSON(dc.Spec), mustJSON(got.Spec))
		}
		if dc.Spec.ExtendedResourceName == nil || *dc.Spec.ExtendedResourceName != res {
			t.Errorf("%s: extendedResourceName %v, want %s", name, dc.Spec.ExtendedResourceName, res)
		}
		var cel []string
		for _, s := range dc.Spec.Selectors {
			if s.CEL != nil {
				cel = append(cel, s.CEL.Expression)
			}
		}
		expr := strings.Join(cel, " && ")
		for _, want := range []string{"device.driver == 'gpu.nvidia.com'", "device.attributes['gpu.nvidia.com'].type == 'mig'",
			"device.attributes['gpu.nvidia.com'].profile == '" + profile + "'"} {
			if !strings.Contains(expr, want) {
				t.Errorf("%s: selector %q lacks %s", name, expr, want)
			}
		}
	}
	live, err := cluster.Client.ResourceV1().DeviceClasses().List(ctxFor(t, 30*time.Second), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, dc := range live.Items {
		have[dc.Name] = true
	}
	for name := range inFile {
		if !have[name] {
			t.Errorf("DeviceClass %s was not created in the cluster", name)
		}
	}
}

// TestDRAStaticMIGProfile (issue 15, a): mig-profile 1g.10gb on nvidia.com/gpu: 1 becomes nvidia.com/mig-1g.10gb
// (the webhook does what it does on device-plugin clusters); kube-scheduler, with gpushare as its extender, places
// the pod on a static-MIG DRA H100 (layout e2e-h100-balanced, published only as ResourceSlices), and the claim
// named in pod.status.extendedResourceClaimStatus holds one of that node's 1g.10gb devices.
func TestDRAStaticMIGProfile(t *testing.T) {
	requireDRA(t)
	ns := newNamespace(t)
	node := addDRANode(t, nodeagent.NodeSpec{Name: "e2e-dra-static-" + suffix(), Product: h100Product, Count: 1, MemoryMiB: h100MiB,
		DRA: nodeagent.DRAStatic, MigConfig: "e2e-h100-balanced"})
	expectNoGPUPublished(t, node)
	slices := nodeSlices(t, node)
	if len(slices) != 1 || len(slices[0].Spec.Devices) != 4 {
		t.Fatalf("node %s: %d slices (%s), want one with the 4 instances of e2e-h100-balanced", node, len(slices), mustJSON(slices))
	}

	p := createPod(t, ns, newPod("dra-1g", withAnnotations(annProfile, "1g.10gb"), withLimits("nvidia.com/gpu", "1"),
		tolerating(privateTaint), onNode(node)))
	expectResource(t, p, "nvidia.com/mig-1g.10gb")
	// What the extender says about the node: it passes (a DRA node of a product that has 1g.10gb).
	if passed, failed := extenderVerdict(t, p, node); !contains(passed, node) {
		t.Errorf("POST /filter refused DRA node %s for a 1g.10gb pod: %v", node, failed)
	}
	bound, claim := claimOf(t, ns, "dra-1g", 60*time.Second)
	if bound.Spec.NodeName != node {
		t.Fatalf("pod bound to %s, want %s", bound.Spec.NodeName, node)
	}
	d := expectClaimDevice(t, bound, claim, "nvidia.com/mig-1g.10gb", "1g.10gb")
	if attrString(d, "productName") != "NVIDIA H100 80GB HBM3" || !strings.HasPrefix(attrString(d, "uuid"), "MIG-") {
		t.Errorf("device %s attributes %s", d.Name, mustJSON(d.Attributes))
	}
	waitRunning(t, ns, "dra-1g", 15*time.Second)
	t.Logf("pod dra-1g on %s holds %s (claim %s)", node, d.Name, claim.Name)
	// Prioritize scores the DRA node (gpushare cannot tell which instance it would get: a middle score).
	args, _ := json.Marshal(map[string]any{"Pod": p, "NodeNames": []string{node}, "Nodes": nil})
	code, body, err := cluster.PostGpushare("/prioritize", args)
	if err != nil || code != 200 {
		t.Fatalf("POST /prioritize: %d %s %v", code, body, err)
	}
	var scores []struct {
		Host  string
		Score int64
	}
	if err := json.Unmarshal(body, &scores); err != nil || len(scores) != 1 || scores[0].Host != node || scores[0].Score <= 0 || scores[0].Score >= 10 {
		t.Errorf("POST /prioritize for DRA node %s answered %s (%v); want one score strictly between 0 and 10", node, body, err)
	}
}

// TestDRADynamicMIGBurst (issue 15, b): on a DynamicMIG H100 (8 memory slices, devices consuming shared counters)
// three 3g.40gb pods (4 slices each) created at once: two are placed, on devices that share no memory slice, and the
// third stays Pending: the counters hold it back.
func TestDRADynamicMIGBurst(t *testing.T) {
	requireDRA(t)
	ns := newNamespace(t)
	node := addDRANode(t, nodeagent.NodeSpec{Name: "e2e-dra-dyn-" + suffix(), Product: h100Product, Count: 1, MemoryMiB: h100MiB,
		DRA: nodeagent.DRADynamic})
	expectNoGPUPublished(t, node)
	if s := nodeSlices(t, node); len(s) != 2 {
		t.Fatalf("node %s: %d slices, want 2 (counters, GPU 0's devices)", node, len(s))
	}
	var burst []*corev1.Pod
	for i := range 3 {
		burst = append(burst, newPod(fmt.Sprintf("big-%d", i), withAnnotations(annProfile, "3g.40gb"),
			withLimits("nvidia.com/gpu", "1"), tolerating(privateTaint), onNode(node)))
	}
	createAtOnce(t, ns, burst...)
	bound := func() []string { // pod names only: the node is known
		names := boundPods(t, ns)
		for i := range names {
			names[i], _, _ = strings.Cut(names[i], "@")
		}
		return names
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && len(bound()) < 2 {
		time.Sleep(300 * time.Millisecond)
	}
	var got []string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if got = bound(); len(got) > 2 {
			t.Fatalf("all three 3g.40gb pods bound to %s (%v): one H100 has room for two", node, got)
		}
	}
	if len(got) != 2 {
		t.Fatalf("bound %v within 70s, want two of the three 3g.40gb pods on %s", got, node)
	}
	used := map[string]string{} // memory slice -> device
	for _, name := range got {
		p, c := claimOf(t, ns, name, 10*time.Second)
		if p.Spec.NodeName != node {
			t.Errorf("pod %s on %s, want %s", name, p.Spec.NodeName, node)
		}
		d := expectClaimDevice(t, p, c, "nvidia.com/mig-3g.40gb", "3g.40gb")
		if len(d.ConsumesCounters) != 1 || d.ConsumesCounters[0].CounterSet != nodeagent.CounterSetName(0) {
			t.Fatalf("device %s consumes %s", d.Name, mustJSON(d.ConsumesCounters))
		}
		n := 0
		for counter := range d.ConsumesCounters[0].Counters {
			if !strings.HasPrefix(counter, "memory-slice-") {
				continue
			}
			n++
			if other, ok := used[counter]; ok {
				t.Errorf("devices %s and %s both hold %s", other, d.Name, counter)
			}
			used[counter] = d.Name
		}
		if n != 4 {
			t.Errorf("device %s holds %d memory slices, want 4", d.Name, n)
		}
		t.Logf("pod %s holds %s", name, d.Name)
	}
	loser := ""
	for i := range 3 {
		if n := fmt.Sprintf("big-%d", i); !contains(got, n) {
			loser = n
		}
	}
	msg := waitEvent(t, ns, loser, "FailedScheduling", 30*time.Second, func(string) bool { return true })
	t.Logf("%s stays Pending: %s", loser, msg)
	if p, _ := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), loser, metav1.GetOptions{}); p == nil || p.Spec.NodeName != "" ||
		p.Status.ExtendedResourceClaimStatus != nil {
		t.Errorf("pod %s: bound or given a claim: %+v", loser, p)
	}
}

// gpushareEntries are the gpushare-* entries of the GPU Operator's two ConfigMaps (what the repartitioner writes).
func gpushareEntries(t *testing.T) []string {
	t.Helper()
	var out []string
	for name := range readMigParted(t).MigConfigs {
		if strings.HasPrefix(name, "gpushare-") {
			out = append(out, "mig-parted:"+name)
		}
	}
	cm, err := cluster.Client.CoreV1().ConfigMaps("gpu-operator").Get(context.Background(), devicePluginCM, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("ConfigMap %s: %v", devicePluginCM, err)
	}
	for k := range cm.Data {
		if strings.HasPrefix(k, "gpushare-") {
			out = append(out, "device-plugin:"+k)
		}
	}
	sort.Strings(out)
	return out
}

// expectDRANodeUntouched: gpushare never marked, tainted or relabelled the DRA node (no nvidia.com/mig.config or
// device-plugin.config at any time, no gpushare.io or repartition.gpushare.io annotation).
func expectDRANodeUntouched(t *testing.T, w *nodeWatch) {
	t.Helper()
	expectUntouched(t, w, "", "")
	n := getNode(t, w.name)
	for k, v := range n.Annotations {
		if strings.Contains(k, "gpushare.io") {
			t.Errorf("DRA node %s has annotation %s=%s", w.name, k, v)
		}
	}
	for k, v := range n.Labels {
		if strings.HasPrefix(k, "nvidia.com/") {
			t.Errorf("DRA node %s has label %s=%s", w.name, k, v)
		}
	}
	for _, tt := range n.Spec.Taints {
		if tt.Key != privateTaint {
			t.Errorf("DRA node %s has taint %v", w.name, tt)
		}
	}
}

// TestDRAMixedCluster (issue 15, c): a pool of a device-plugin H20 (MIG, e2e-h20-mixed) and a static-MIG DRA H100,
// both labelled for repartitioning. A pod for H20 1g.12gb lands on the H20 (device plugin, no claim); a pod sized by
// gpu-memory and restricted to NVIDIA-H100-80GB-HBM3 (a product only the DRA node's slices name) gets 1g.10gb and a
// DRA device there; the extender refuses the DRA node to an H20-only pod, by product; a 7g.80gb H100 pod that no
// node serves stays Pending, and gpushare never repartitions, marks, taints or labels the idle DRA node for it.
func TestDRAMixedCluster(t *testing.T) {
	requireDRA(t)
	ns := newNamespace(t)
	pool := "dra-" + suffix()
	labels := map[string]string{harness.RepartitionNodeLabel: "true", poolLabel: pool}
	h20Node := addDRANode(t, nodeagent.NodeSpec{Name: "e2e-" + pool + "-h20", Product: "NVIDIA-H20", Count: 1, MemoryMiB: h20MemoryMiB,
		Mode: nodeagent.ModeMIG, MigConfig: "e2e-h20-mixed", Labels: labels})
	draNode := addDRANode(t, nodeagent.NodeSpec{Name: "e2e-" + pool + "-h100", Product: h100Product, Count: 1, MemoryMiB: h100MiB,
		DRA: nodeagent.DRAStatic, MigConfig: "e2e-h100-balanced", Labels: labels})
	w := watchNode(t, draNode)
	expectNoGPUPublished(t, draNode)

	// The H20 pod first: afterwards the H20 is busy, so the only node a repartition could touch is the DRA one.
	h20Pod := createPod(t, ns, newPod("h20-1g", withAnnotations(annProduct, "NVIDIA-H20", annProfile, "1g.12gb"),
		withLimits("nvidia.com/gpu", "1"), tolerating(privateTaint), inPool(pool)))
	expectResource(t, h20Pod, "nvidia.com/mig-1g.12gb")
	if got := waitRunningOn(t, ns, "h20-1g", 60*time.Second); got != h20Node {
		t.Fatalf("H20 pod runs on %s, want %s", got, h20Node)
	}
	if p, _ := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), "h20-1g", metav1.GetOptions{}); p != nil && p.Status.ExtendedResourceClaimStatus != nil {
		t.Errorf("device-plugin pod h20-1g got an extended-resource claim %+v", p.Status.ExtendedResourceClaimStatus)
	}
	if _, failed := extenderVerdict(t, h20Pod, draNode); failed[draNode] == "" {
		t.Errorf("POST /filter passed DRA node %s (H100) for a pod restricted to NVIDIA-H20", draNode)
	} else {
		t.Logf("extender refuses %s to the H20 pod: %s", draNode, failed[draNode])
	}

	// A pod only a repartition of the idle DRA node could serve.
	before := gpushareEntries(t)
	big := createPod(t, ns, newPod("h100-7g", withAnnotations(annProduct, h100Product, annProfile, "7g.80gb"),
		withLimits("nvidia.com/gpu", "1"), tolerating(privateTaint), inPool(pool)))
	expectResource(t, big, "nvidia.com/mig-7g.80gb")
	waitEvent(t, ns, "h100-7g", "FailedScheduling", 30*time.Second, func(string) bool { return true })
	// batchWindow 1s + propagationDelay (harness.PropagationDelay): a repartition would have begun (ConfigMap entry, mark) by now.
	time.Sleep(3*harness.PropagationDelay + 2*time.Second)
	for _, e := range gpushareEntries(t) {
		if !contains(before, e) {
			t.Errorf("gpushare wrote GPU Operator ConfigMap entry %s while only the DRA node could serve the pending pod (before: %v)", e, before)
		}
	}
	if p, _ := cluster.Client.CoreV1().Pods(ns).Get(context.Background(), "h100-7g", metav1.GetOptions{}); p == nil || p.Spec.NodeName != "" {
		t.Errorf("7g.80gb pod was bound: %+v", p)
	}
	if lines := logLines(cluster.GpushareLog("gpushare"), draNode); len(lines) > 0 {
		t.Logf("gpushare's log about %s:\n%s", draNode, strings.Join(lines[max(0, len(lines)-10):], "\n"))
	}

	// gpu-memory sizing restricted to the DRA node's product.
	mem := createPod(t, ns, newPod("h100-mem", withAnnotations(annProduct, h100Product, annMemory, "8Gi"),
		withLimits("nvidia.com/gpu", "1"), tolerating(privateTaint), inPool(pool)))
	expectResource(t, mem, "nvidia.com/mig-1g.10gb") // CONTRACT rule 4: smallest H100 profile by memory, then compute
	if passed, failed := extenderVerdict(t, mem, draNode, h20Node); !contains(passed, draNode) || contains(passed, h20Node) {
		t.Errorf("POST /filter for the H100 pod: passed %v, failed %v; want %s only", passed, failed, draNode)
	}
	p, c := claimOf(t, ns, "h100-mem", 60*time.Second)
	if p.Spec.NodeName != draNode {
		t.Fatalf("H100 pod bound to %s, want the DRA node %s", p.Spec.NodeName, draNode)
	}
	d := expectClaimDevice(t, p, c, "nvidia.com/mig-1g.10gb", "1g.10gb")
	waitRunning(t, ns, "h100-mem", 15*time.Second)
	t.Logf("h100-mem on %s holds %s", draNode, d.Name)

	w.stop()
	expectDRANodeUntouched(t, w)
	if got := getNode(t, h20Node).Labels[nodeagent.LabelMIGConfig]; got != "e2e-h20-mixed" {
		t.Errorf("busy device-plugin node %s: nvidia.com/mig.config=%q, want e2e-h20-mixed", h20Node, got)
	}
}

// mutateOffline runs `gpushare mutate` (no cluster) on an AdmissionReview.
func mutateOffline(t *testing.T, review []byte) admissionv1.AdmissionReview {
	t.Helper()
	cmd := exec.Command(cluster.Opts.GpushareBin, "mutate", "-")
	cmd.Stdin = bytes.NewReader(review)
	out, err := cmd.Output()
	var ar admissionv1.AdmissionReview
	if err != nil || json.Unmarshal(out, &ar) != nil || ar.Response == nil {
		t.Fatalf("gpushare mutate: %v: %s", err, out)
	}
	return ar
}

// TestDRARefusalsUnchanged (issue 15, d): the webhook refuses what it refused before DRA nodes joined, with the same
// message: POST /mutate's message for each pod is taken first, then a DRA H100 joins (the shared cluster has H100s
// already, so the models in scope do not change), and kube-apiserver's refusal then carries that same message, as
// does POST /mutate. The MPS count refusal depends on no cluster state: `gpushare mutate` without a cluster says the
// same.
func TestDRARefusalsUnchanged(t *testing.T) {
	requireDRA(t)
	ns := newNamespace(t)
	cases := []struct {
		name    string
		pod     *corev1.Pod
		must    []string // the message names these
		offline bool     // compare with `gpushare mutate` too
	}{
		{"mps-two", newPod("mps-two", withAnnotations(annMode, "mps"), withLimits("nvidia.com/gpu", "2")), []string{"main", "2"}, true},
		{"mps-and-profile", newPod("mps-and-profile", withAnnotations(annMode, "mps", annProfile, "1g.10gb"), withLimits("nvidia.com/gpu", "1")),
			[]string{"gpushare.io/"}, false},
		{"unknown-profile", newPod("unknown-profile", withAnnotations(annProfile, "9g.99gb"), withLimits("nvidia.com/gpu", "1")),
			[]string{annProfile, "9g.99gb"}, false},
	}
	denial := func(t *testing.T, review []byte) string {
		t.Helper()
		code, body, err := cluster.PostGpushare("/mutate", review)
		var ar admissionv1.AdmissionReview
		if err != nil || code != 200 || json.Unmarshal(body, &ar) != nil || ar.Response == nil {
			t.Fatalf("POST /mutate: %d %s %v", code, body, err)
		}
		if ar.Response.Allowed || ar.Response.Result == nil || ar.Response.Result.Code != 403 || ar.Response.Result.Message == "" {
			t.Fatalf("POST /mutate did not deny with 403 and a message: %s", body)
		}
		return ar.Response.Result.Message
	}
	before := map[string]string{}
	for _, tc := range cases {
		before[tc.name] = denial(t, admissionReview(t, ns, tc.pod))
	}
	addDRANode(t, nodeagent.NodeSpec{Name: "e2e-dra-ref-" + suffix(), Product: h100Product, Count: 1, MemoryMiB: h100MiB, DRA: nodeagent.DRADynamic})
	time.Sleep(2 * time.Second) // gpushare's cache sees the node and its slices
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := tc.pod
			_, err := cluster.Client.CoreV1().Pods(ns).Create(ctxFor(t, 30*time.Second), pod, metav1.CreateOptions{})
			if err == nil {
				t.Fatalf("pod %s was created; want it refused", pod.Name)
			}
			review := admissionReview(t, ns, pod)
			live := denial(t, review)
			if live != before[tc.name] {
				t.Errorf("with a DRA node POST /mutate says %q; before it said %q", live, before[tc.name])
			}
			if msg := err.Error(); !strings.Contains(msg, "denied the request") || !strings.Contains(msg, before[tc.name]) {
				t.Errorf("kube-apiserver said %q; want a webhook denial carrying gpushare's message %q", msg, before[tc.name])
			}
			if tc.offline {
				if off := mutateOffline(t, review); off.Response.Allowed || off.Response.Result == nil || off.Response.Result.Message != live {
					t.Errorf("POST /mutate says %q; gpushare mutate (no cluster) says %s", live, mustJSON(off.Response.Result))
				}
			}
			for _, m := range tc.must {
				if !strings.Contains(live, m) {
					t.Errorf("message %q does not name %q", live, m)
				}
			}
			t.Logf("refused: %s", live)
		})
	}
}

// TestDRAProductsCountAsPresent: the webhook counts a DRA node's product (from its slices' productName) as present
// in the cluster. mode mig + gpu-memory 15Gi picks the smallest profile among the present models; no node of the
// shared cluster has a profile between 15 and 19.5 GiB, an H200's 1g.18gb (16 GiB) is one: once a DRA H200 joins
// (no labels, no allocatable), the choice becomes nvidia.com/mig-1g.18gb.
func TestDRAProductsCountAsPresent(t *testing.T) {
	requireDRA(t)
	ns := newNamespace(t)
	choice := func() string {
		p, err := cluster.Client.CoreV1().Pods(ns).Create(context.Background(), newPod("sized", withAnnotations(annMode, "mig", annMemory, "15Gi"),
			withLimits("nvidia.com/gpu", "1")), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatalf("dry-run create: %v", err)
		}
		return p.Annotations[annAssigned]
	}
	nodes, err := cluster.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if strings.Contains(n.Labels[nodeagent.LabelProduct], "H200") || strings.Contains(n.Labels[nodeagent.LabelProduct], "GH200") {
			t.Skipf("node %s is an %s already", n.Name, n.Labels[nodeagent.LabelProduct])
		}
	}
	if got := choice(); got == "nvidia.com/mig-1g.18gb" {
		t.Fatalf("without an H200 the choice is already %s; the test cannot tell", got)
	} else {
		t.Logf("without an H200: %s", got)
	}
	node := addDRANode(t, nodeagent.NodeSpec{Name: "e2e-dra-h200-" + suffix(), Product: "NVIDIA-H200", Count: 1, DRA: nodeagent.DRADynamic})
	expectNoGPUPublished(t, node)
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if got = choice(); got == "nvidia.com/mig-1g.18gb" {
			t.Logf("with DRA node %s: %s", node, got)
			return
		}
	}
	t.Errorf("with DRA H200 node %s (productName %q in its slices) the choice is %q, want nvidia.com/mig-1g.18gb: "+
		"the webhook does not count DRA nodes' products as present", node, "NVIDIA H200", got)
}
