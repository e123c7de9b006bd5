package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	draCEL "k8s.io/dynamic-resource-allocation/cel"
	"k8s.io/dynamic-resource-allocation/structured"
	resourceinternal "k8s.io/kubernetes/pkg/apis/resource"
	resourcev1conv "k8s.io/kubernetes/pkg/apis/resource/v1"
	resourcevalidation "k8s.io/kubernetes/pkg/apis/resource/validation"
	"sigs.k8s.io/yaml"
)

const h100 = "NVIDIA-H100-80GB-HBM3"

func draNode(t *testing.T, spec NodeSpec, layout map[string]int) *nodeState {
	t.Helper()
	c := catalog(t)
	if err := spec.check(); err != nil {
		t.Fatal(err)
	}
	st := &nodeState{spec: spec, model: c.ForProduct(spec.Product), memMiB: 81559, gpus: make([]gpu, spec.Count)}
	if layout != nil {
		for i := range st.gpus {
			st.gpus[i] = gpu{MigEnabled: true, Devices: layout}
		}
	}
	return st
}

var balanced = map[string]int{"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1}

// validate runs kube-apiserver's own validation of a ResourceSlice (v1 converted to the internal type), as a
// create would: every slice the agent publishes must pass it.
func validate(t *testing.T, s resourceapi.ResourceSlice, i int) {
	t.Helper()
	s = *s.DeepCopy()
	s.Name = fmt.Sprintf("%sx%d", s.GenerateName, i) // what generateName gives
	var in resourceinternal.ResourceSlice
	if err := resourcev1conv.Convert_v1_ResourceSlice_To_resource_ResourceSlice(&s, &in, nil); err != nil {
		t.Fatal(err)
	}
	if errs := resourcevalidation.ValidateResourceSlice(&in); len(errs) > 0 {
		t.Errorf("slice %d refused by the apiserver's validation: %v", i, errs.ToAggregate())
	}
}

func TestPlaceH100(t *testing.T) {
	g := catalog(t).ForProduct(h100)
	got, err := g.Place(balanced)
	if err != nil {
		t.Fatal(err)
	}
	// 3g.40gb may start at 0 or 4, 2g.20gb at 0, 2, 4, 1g.10gb at 0..6 (never 7): 3g at 0 leaves no room for two 1g.
	if s := fmt.Sprint(got); s != "[{0 2g.20gb 0 2} {0 1g.10gb 2 1} {0 1g.10gb 3 1} {0 3g.40gb 4 4}]" {
		t.Errorf("placements %s", s)
	}
	if got, err := g.Place(map[string]int{"1g.10gb": 7}); err != nil || len(got) != 7 || got[6].Start != 6 {
		t.Errorf("7 x 1g.10gb: %v %v", got, err)
	}
	for _, bad := range []map[string]int{{"1g.20gb": 4, "1g.10gb": 1}, {"3g.40gb": 2, "1g.10gb": 1}, {"7g.80gb": 1, "1g.10gb": 1}, {"1g.12gb": 1}} {
		if got, err := g.Place(bad); err == nil {
			t.Errorf("%v placed: %v", bad, got)
		}
	}
}

func TestDeviceNames(t *testing.T) {
	g := catalog(t).ForProduct(h100)
	for p, want := range map[string]string{"1g.10gb": "gpu-0-mig-1g10gb-19-3", "1g.10gb+me": "gpu-0-mig-1g10gb-me-20-3",
		"7g.80gb": "gpu-0-mig-7g80gb-0-3", "1g.20gb": "gpu-0-mig-1g20gb-15-3", "3g.40gb": "gpu-0-mig-3g40gb-9-3"} {
		if got := g.MigDeviceName(0, g.Profile(p), 3); got != want {
			t.Errorf("%s: %s, want %s", p, got, want)
		}
	}
	pro := catalog(t).ForProduct("NVIDIA-RTX-PRO-6000-Blackwell-Server-Edition")
	if got := pro.MigDeviceName(1, pro.Profile("1g.24gb+me.all"), 9); got != "gpu-1-mig-1g24gb-meall-65-9" {
		t.Errorf("RTX PRO 1g.24gb+me.all: %s", got)
	}
	if got := (&NodeSpec{Product: h100}).ProductNameOf(); got != "NVIDIA H100 80GB HBM3" {
		t.Errorf("productName %q", got)
	}
}

func attr(d resourceapi.Device, k string) string {
	a, ok := d.Attributes[resourceapi.QualifiedName(k)]
	switch {
	case !ok:
		return ""
	case a.StringValue != nil:
		return *a.StringValue
	case a.VersionValue != nil:
		return *a.VersionValue
	}
	return fmt.Sprint(a)
}

func TestStaticSlices(t *testing.T) {
	st := draNode(t, NodeSpec{Name: "dra-s", Product: h100, Count: 2, DRA: DRAStatic, MigConfig: "x"}, balanced)
	slices, err := st.ResourceSlices(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(slices) != 1 {
		t.Fatalf("%d slices, want 1 (8 devices fit one)", len(slices))
	}
	s := slices[0]
	validate(t, s, 0)
	if s.Spec.Driver != DRADriver || s.Spec.NodeName == nil || *s.Spec.NodeName != "dra-s" || s.Spec.Pool.Name != "dra-s" ||
		s.Spec.Pool.Generation != 3 || s.Spec.Pool.ResourceSliceCount != 1 || len(s.Spec.SharedCounters) != 0 ||
		s.GenerateName != "0-gpu.nvidia.com-dra-s-" {
		t.Errorf("slice header %+v %+v", s.ObjectMeta, s.Spec.Pool)
	}
	var names []string
	for _, d := range s.Spec.Devices {
		names = append(names, d.Name)
		if attr(d, "type") != "mig" || attr(d, "productName") != "NVIDIA H100 80GB HBM3" || !strings.HasPrefix(attr(d, "uuid"), "MIG-") ||
			!strings.HasPrefix(attr(d, "parentUUID"), "GPU-") || attr(d, "architecture") != "Hopper" || len(d.ConsumesCounters) != 0 {
			t.Errorf("device %s attributes %v", d.Name, d.Attributes)
		}
		if !strings.Contains(d.Name, CanonicalProfile(attr(d, "profile"))) {
			t.Errorf("device %s has profile %s", d.Name, attr(d, "profile"))
		}
	}
	want := "gpu-0-mig-2g20gb-14-0 gpu-0-mig-1g10gb-19-2 gpu-0-mig-1g10gb-19-3 gpu-0-mig-3g40gb-9-4 " +
		"gpu-1-mig-2g20gb-14-0 gpu-1-mig-1g10gb-19-2 gpu-1-mig-1g10gb-19-3 gpu-1-mig-3g40gb-9-4"
	if strings.Join(names, " ") != want {
		t.Errorf("devices %v\nwant %s", names, want)
	}
	d := s.Spec.Devices[3] // 3g.40gb at 4: memorySlice4..7, 39.5 GiB
	mem, sms := d.Capacity["memory"].Value, d.Capacity["multiprocessors"].Value
	if mem.String() != "40448Mi" || sms.String() != "60" {
		t.Errorf("3g.40gb capacity %v", d.Capacity)
	}
	for m := 0; m < 8; m++ {
		_, ok := d.Capacity[resourceapi.QualifiedName(fmt.Sprintf("memorySlice%d", m))]
		if ok != (m >= 4) {
			t.Errorf("3g.40gb at 4: memorySlice%d present %v", m, ok)
		}
	}
	if attr(s.Spec.Devices[0], "parentUUID") == attr(s.Spec.Devices[4], "parentUUID") {
		t.Error("GPUs 0 and 1 share a UUID")
	}

	// MIG off: whole GPUs, type gpu, memory only.
	whole := draNode(t, NodeSpec{Name: "dra-w", Product: h100, Count: 1, DRA: DRAStatic}, nil)
	ws, err := whole.ResourceSlices(1)
	if err != nil || len(ws) != 1 || len(ws[0].Spec.Devices) != 1 {
		t.Fatalf("%v %v", ws, err)
	}
	validate(t, ws[0], 0)
	if g := ws[0].Spec.Devices[0]; g.Name != "gpu-0" || attr(g, "type") != "gpu" || len(g.Capacity) != 1 {
		t.Errorf("whole GPU %+v", g)
	}
}

func TestDynamicSlices(t *testing.T) {
	st := draNode(t, NodeSpec{Name: "dra-d", Product: h100, Count: 2, DRA: DRADynamic}, nil)
	slices, err := st.ResourceSlices(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(slices) != 3 {
		t.Fatalf("%d slices, want 3 (counters, then one per GPU)", len(slices))
	}
	for i, s := range slices {
		validate(t, s, i)
		if s.Spec.Pool.ResourceSliceCount != 3 || s.Spec.Pool.Name != "dra-d" || *s.Spec.NodeName != "dra-d" {
			t.Errorf("slice %d pool %+v", i, s.Spec.Pool)
		}
	}
	sets := slices[0].Spec.SharedCounters
	if len(slices[0].Spec.Devices) != 0 || len(sets) != 2 || sets[0].Name != "gpu-0-counter-set" || len(sets[0].Counters) != 15 {
		t.Fatalf("counter slice %+v", slices[0].Spec)
	}
	m, s7 := sets[0].Counters["memory"].Value, sets[0].Counters["memory-slice-7"].Value
	if m.String() != "81152Mi" || s7.String() != "1" {
		t.Errorf("counters %v", sets[0].Counters)
	}
	devs := slices[1].Spec.Devices
	if len(devs) != 26 || devs[0].Name != "gpu-0" || attr(devs[0], "type") != "gpu" || len(devs[0].ConsumesCounters[0].Counters) != 15 {
		t.Fatalf("GPU 0 slice: %d devices, first %+v", len(devs), devs[0])
	}
	byName := map[string]resourceapi.Device{}
	for _, d := range append(devs, slices[2].Spec.Devices...) {
		byName[d.Name] = d
		if d.Name != "gpu-0" && d.Name != "gpu-1" && (attr(d, "uuid") != "" || attr(d, "type") != "mig") {
			t.Errorf("DynamicMIG device %s: type %q uuid %q (abstract devices have none)", d.Name, attr(d, "type"), attr(d, "uuid"))
		}
	}
	slicesOf := func(name string) []string {
		d, ok := byName[name]
		if !ok {
			t.Fatalf("no device %s", name)
		}
		var out []string
		for k := range d.ConsumesCounters[0].Counters {
			if strings.HasPrefix(k, "memory-slice-") {
				out = append(out, k)
			}
		}
		sort.Strings(out)
		return out
	}
	if got := fmt.Sprint(slicesOf("gpu-0-mig-3g40gb-9-4")); got != "[memory-slice-4 memory-slice-5 memory-slice-6 memory-slice-7]" {
		t.Errorf("3g.40gb at 4 consumes %s", got)
	}
	if got := fmt.Sprint(slicesOf("gpu-1-mig-1g10gb-me-20-6")); got != "[memory-slice-6]" || byName["gpu-1-mig-1g10gb-me-20-6"].ConsumesCounters[0].CounterSet != "gpu-1-counter-set" {
		t.Errorf("GPU 1 1g.10gb+me at 6 consumes %s", got)
	}
	// No two placements of one profile set need more of any counter than the set has (7 x 1g.10gb, 2 x 3g.40gb,
	// 4g.40gb + 3g.40gb, 1g.10gb+me + 6 x 1g.10gb).
	for _, group := range [][]string{
		{"gpu-0-mig-1g10gb-19-0", "gpu-0-mig-1g10gb-19-1", "gpu-0-mig-1g10gb-19-2", "gpu-0-mig-1g10gb-19-3", "gpu-0-mig-1g10gb-19-4", "gpu-0-mig-1g10gb-19-5", "gpu-0-mig-1g10gb-19-6"},
		{"gpu-0-mig-3g40gb-9-0", "gpu-0-mig-3g40gb-9-4"},
		{"gpu-0-mig-4g40gb-5-0", "gpu-0-mig-3g40gb-9-4"},
		{"gpu-0-mig-1g10gb-me-20-0", "gpu-0-mig-1g10gb-19-1", "gpu-0-mig-1g10gb-19-2", "gpu-0-mig-1g10gb-19-3", "gpu-0-mig-1g10gb-19-4", "gpu-0-mig-1g10gb-19-5", "gpu-0-mig-1g10gb-19-6"},
		{"gpu-0-mig-2g20gb-14-0", "gpu-0-mig-2g20gb-14-2", "gpu-0-mig-2g20gb-14-4", "gpu-0-mig-1g10gb-19-6"},
	} {
		sum := map[string]int64{}
		for _, n := range group {
			for k, v := range byName[n].ConsumesCounters[0].Counters {
				sum[k] += v.Value.Value()
			}
		}
		for k, v := range sum {
			if have := sets[0].Counters[k].Value; v > have.Value() {
				t.Errorf("%v: %s needs %d, the GPU has %s", group, k, v, have.String())
			}
		}
	}
}

// classes are the DeviceClasses gpushare ships (manifests/overlays/dra/deviceclasses.yaml) when that file exists,
// otherwise the same shape built here (one per profile, selector on driver, type and profile).
func classes(t *testing.T, c *Catalog) map[string]*resourceapi.DeviceClass {
	t.Helper()
	out := map[string]*resourceapi.DeviceClass{}
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "manifests", "overlays", "dra", "deviceclasses.yaml"))
	if err == nil {
		for _, doc := range strings.Split("\n"+string(b), "\n---") {
			var dc resourceapi.DeviceClass
			if err := yaml.UnmarshalStrict([]byte(doc), &dc); err != nil {
				t.Fatalf("deviceclasses.yaml: %v\n%s", err, doc)
			}
			if dc.Kind == "DeviceClass" && dc.Spec.ExtendedResourceName != nil {
				out[*dc.Spec.ExtendedResourceName] = &dc
			}
		}
		if len(out) == 0 {
			t.Fatal("manifests/overlays/dra/deviceclasses.yaml has no DeviceClass with an extendedResourceName")
		}
		return out
	}
	t.Logf("manifests/overlays/dra/deviceclasses.yaml: %v; using classes of the same shape", err)
	for _, g := range c.GPUs {
		for _, p := range g.Profiles {
			res := ResourceName(p.Name)
			out[res] = &resourceapi.DeviceClass{
				ObjectMeta: metav1.ObjectMeta{Name: "gpushare-" + strings.TrimPrefix(res, "nvidia.com/")},
				Spec: resourceapi.DeviceClassSpec{ExtendedResourceName: &res, Selectors: []resourceapi.DeviceSelector{{CEL: &resourceapi.CELDeviceSelector{
					Expression: fmt.Sprintf("device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig' && "+
						"device.attributes['gpu.nvidia.com'].profile == '%s'", p.Name)}}}},
			}
		}
	}
	return out
}

// TestDeviceClassesSelectTheirProfile: each class gpushare ships for an H100 profile selects exactly the devices
// of that profile on a DynamicMIG H100 (CEL as the scheduler compiles it), nothing else.
func TestDeviceClassesSelectTheirProfile(t *testing.T) {
	c := catalog(t)
	st := draNode(t, NodeSpec{Name: "dra-c", Product: h100, Count: 1, DRA: DRADynamic}, nil)
	slices, err := st.ResourceSlices(1)
	if err != nil {
		t.Fatal(err)
	}
	cls := classes(t, c)
	compiler := draCEL.GetCompiler(draCEL.Features{})
	for _, p := range c.ForProduct(h100).Profiles {
		dc := cls[ResourceName(p.Name)]
		if dc == nil {
			t.Errorf("no DeviceClass for %s", ResourceName(p.Name))
			continue
		}
		matched := 0
		for _, d := range slices[1].Spec.Devices {
			ok := true
			for _, sel := range dc.Spec.Selectors {
				r := compiler.CompileCELExpression(sel.CEL.Expression, draCEL.Options{})
				if r.Error != nil {
					t.Fatalf("class %s: %v", dc.Name, r.Error)
				}
				m, _, err := r.DeviceMatches(context.Background(), draCEL.Device{Driver: DRADriver, Attributes: d.Attributes, Capacity: d.Capacity})
				if err != nil {
					t.Fatalf("class %s on %s: %v", dc.Name, d.Name, err)
				}
				ok = ok && m
			}
			if ok != (attr(d, "profile") == p.Name) {
				t.Errorf("class %s matches %s (profile %q): %v", dc.Name, d.Name, attr(d, "profile"), ok)
			}
			if ok {
				matched++
			}
		}
		if matched == 0 {
			t.Errorf("class %s matches no device", dc.Name)
		}
	}
}

type classLister map[string]*resourceapi.DeviceClass

func (l classLister) List() ([]*resourceapi.DeviceClass, error) {
	var out []*resourceapi.DeviceClass
	for _, c := range l {
		out = append(out, c)
	}
	return out, nil
}

func (l classLister) Get(name string) (*resourceapi.DeviceClass, error) {
	for _, c := range l {
		if c.Name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no DeviceClass %s", name)
}

// allocate runs the scheduler's structured allocator (DRAPartitionableDevices on, as in 1.36) for one claim of
// count devices of class on the node's slices, with already taken; nil when it cannot be allocated.
func allocate(t *testing.T, st *nodeState, cls classLister, class string, count int64, taken []string) []string {
	t.Helper()
	slices, err := st.ResourceSlices(1)
	if err != nil {
		t.Fatal(err)
	}
	var ptrs []*resourceapi.ResourceSlice
	for i := range slices {
		slices[i].Name = fmt.Sprint("s", i)
		ptrs = append(ptrs, &slices[i])
	}
	state := structured.AllocatedState{AllocatedDevices: sets.New[structured.DeviceID](), AllocatedSharedDeviceIDs: sets.New[structured.SharedDeviceID](),
		AggregatedCapacity: structured.NewConsumedCapacityCollection()}
	for _, d := range taken {
		state.AllocatedDevices.Insert(structured.MakeDeviceID(DRADriver, st.spec.Name, d))
	}
	a, err := structured.NewAllocator(context.Background(), structured.Features{PartitionableDevices: true, PrioritizedList: true},
		state, cls, ptrs, draCEL.NewCache(10, draCEL.Features{}))
	if err != nil {
		t.Fatal(err)
	}
	claim := &resourceapi.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", UID: "uid"},
		Spec: resourceapi.ResourceClaimSpec{Devices: resourceapi.DeviceClaim{Requests: []resourceapi.DeviceRequest{{Name: "r",
			Exactly: &resourceapi.ExactDeviceRequest{DeviceClassName: class, AllocationMode: resourceapi.DeviceAllocationModeExactCount, Count: count}}}}}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: st.spec.Name}}
	res, err := a.Allocate(context.Background(), node, []*resourceapi.ResourceClaim{claim})
	if err != nil {
		t.Fatalf("allocate %d x %s: %v", count, class, err)
	}
	if len(res) == 0 {
		return nil
	}
	var out []string
	for _, r := range res[0].Devices.Results {
		out = append(out, r.Device)
	}
	sort.Strings(out)
	return out
}

// TestAllocatorHonoursCounters: the scheduler's own allocator, on the agent's slices: a DynamicMIG H100 gives two
// 3g.40gb (slices 0-3 and 4-7) and never a third, nor a 1g.10gb next to a 7g.80gb; a static balanced H100 gives
// exactly its two 1g.10gb.
func TestAllocatorHonoursCounters(t *testing.T) {
	c := catalog(t)
	cls := classLister{}
	for _, dc := range classes(t, c) {
		cls[dc.Name] = dc
	}
	name := func(res string) string { return classesByResource(cls, res) }
	dyn := draNode(t, NodeSpec{Name: "dra-a", Product: h100, Count: 1, DRA: DRADynamic}, nil)
	if got := allocate(t, dyn, cls, name("nvidia.com/mig-3g.40gb"), 2, nil); fmt.Sprint(got) != "[gpu-0-mig-3g40gb-9-0 gpu-0-mig-3g40gb-9-4]" {
		t.Errorf("2 x 3g.40gb: %v", got)
	}
	if got := allocate(t, dyn, cls, name("nvidia.com/mig-3g.40gb"), 3, nil); got != nil {
		t.Errorf("3 x 3g.40gb on one H100: %v", got)
	}
	if got := allocate(t, dyn, cls, name("nvidia.com/mig-3g.40gb"), 1, []string{"gpu-0-mig-3g40gb-9-0", "gpu-0-mig-2g20gb-14-4"}); got != nil {
		t.Errorf("3g.40gb with slices 0-5 taken: %v", got)
	}
	if got := allocate(t, dyn, cls, name("nvidia.com/mig-1g.10gb"), 1, []string{"gpu-0-mig-7g80gb-0-0"}); got != nil {
		t.Errorf("1g.10gb beside a 7g.80gb: %v", got)
	}
	if got := allocate(t, dyn, cls, name("nvidia.com/mig-1g.10gb"), 7, nil); len(got) != 7 {
		t.Errorf("7 x 1g.10gb: %v", got)
	}
	static := draNode(t, NodeSpec{Name: "dra-b", Product: h100, Count: 1, DRA: DRAStatic, MigConfig: "x"}, balanced)
	if got := allocate(t, static, cls, name("nvidia.com/mig-1g.10gb"), 2, nil); fmt.Sprint(got) != "[gpu-0-mig-1g10gb-19-2 gpu-0-mig-1g10gb-19-3]" {
		t.Errorf("static 2 x 1g.10gb: %v", got)
	}
	if got := allocate(t, static, cls, name("nvidia.com/mig-1g.10gb"), 3, nil); got != nil {
		t.Errorf("static 3 x 1g.10gb (the layout has 2): %v", got)
	}
}

func classesByResource(cls classLister, res string) string {
	for _, c := range cls {
		if c.Spec.ExtendedResourceName != nil && *c.Spec.ExtendedResourceName == res {
			return c.Name
		}
	}
	return "missing-class-for-" + res
}

func TestDRASpecAndLabels(t *testing.T) {
	for _, bad := range []string{
		"nodes: [{name: x, product: NVIDIA-H100-80GB-HBM3, count: 1, dra: hybrid}]",
		"nodes: [{name: x, product: NVIDIA-H100-80GB-HBM3, count: 1, dra: static, mode: mig, migConfig: a}]",
		"nodes: [{name: x, product: NVIDIA-H100-80GB-HBM3, count: 1, dra: dynamic, migConfig: a}]",
		"nodes: [{name: x, product: NVIDIA-H100-80GB-HBM3, count: 1, dra: static, failMig: true}]",
		"nodes: [{name: x, product: NVIDIA-H100-80GB-HBM3, count: 1, mode: mig, migConfig: a, gfdLabels: true}]",
	} {
		if _, err := ParseSpec([]byte(bad)); err == nil {
			t.Errorf("accepted: %s", bad)
		}
	}
	s, err := ParseSpec([]byte("nodes: [{name: x, product: NVIDIA-H100-80GB-HBM3, count: 1, dra: static, migConfig: e2e-h100-balanced}]"))
	if err != nil || s.Nodes[0].DRA != DRAStatic {
		t.Fatalf("%v %+v", err, s)
	}
	st := draNode(t, NodeSpec{Name: "dra-l", Product: h100, Count: 1, DRA: DRADynamic, Labels: map[string]string{"a": "b"}}, nil)
	for k := range st.labels() {
		if strings.HasPrefix(k, "nvidia.com/") {
			t.Errorf("DRA node without gfdLabels has label %s", k)
		}
	}
	if st.labels()["a"] != "b" {
		t.Error("spec labels missing")
	}
	capacity, alloc := st.capacity()
	for _, l := range []corev1.ResourceList{capacity, alloc} {
		for r := range l {
			if strings.HasPrefix(string(r), "nvidia.com/") {
				t.Errorf("DRA node publishes %s", r)
			}
		}
	}
	st.spec.GFDLabels = true
	if l := st.labels(); l[LabelProduct] != h100 || l[LabelMIGConfig] != "" || l[LabelMIGCapable] != "" {
		t.Errorf("gfdLabels: %v", l)
	}
}
