package nodeagent

// DRA nodes: what the NVIDIA DRA driver's kubelet plugin (driver gpu.nvidia.com) publishes instead of the device
// plugin's extended resources. Shapes follow docs/reference/nvidia-dra-driver.md (driver @9593204, Kubernetes
// 1.36): one pool per node, named after it; device names gpu-<minor> and
// gpu-<minor>-mig-<profile>-<giProfileID>-<placementStart>; bare attribute and capacity names (domain gpu.nvidia.com);
// static MIG devices carry uuid and memorySlice<i> capacities; DynamicMIG publishes a counters-only slice (one
// counter set gpu-<minor>-counter-set per GPU) and one devices-only slice per GPU, every profile x placement
// consuming the memory-slice-<i> counters it covers (Kubernetes >= 1.35 rejects a slice that has both).
//
// Simplified: NVML values the catalog does not have are approximations: multiprocessors default to 16 per compute
// slice, copy engines, decoders and JPEG engines to the compute slices (8 copy engines for a full-GPU profile on an
// 8-slice grid), encoders to 0 (H100 has no NVENC), OFA engines to 1 for +me and full-GPU profiles. Placements are
// the first that fit, largest instances first (mig-parted leaves the choice to NVML). UUIDs and PCI addresses are
// made up from the node name, stable across runs.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// DRAMode is how a DRA node's driver announces its GPUs.
type DRAMode string

const (
	DRAStatic  DRAMode = "static"  // MIG set up beforehand (mig-parted): one device per existing instance
	DRADynamic DRAMode = "dynamic" // the driver's DynamicMIG: partitionable devices with shared counters

	// DRADriver is the NVIDIA DRA driver's name (its ResourceSlices' spec.driver, the attribute domain).
	DRADriver = "gpu.nvidia.com"

	draDriverVersion     = "570.133.20" // as the GFD labels of device-plugin nodes say (state.go)
	draCUDADriverVersion = "12.8.0"
	// Device limits of a ResourceSlice (k8s.io/api/resource/v1): 128, or 64 when a device consumes counters.
	maxDevicesPerSlice        = resourceapi.ResourceSliceMaxDevices
	maxCounterDevicesPerSlice = resourceapi.ResourceSliceMaxDevicesWithAdvancedFeatures
	maxCounterSetsPerSlice    = resourceapi.ResourceSliceMaxCounterSets
)

// MigInstance is one MIG GPU instance on a GPU: profile and placement [Start, Start+Size) in memory slices.
type MigInstance struct {
	GPU     int
	Profile string
	Start   int
	Size    int
}

// Place lays out a GPU with devices (profile -> count) on the model's placement grid: the first placement that
// fits, largest instances first, backtracking when a later one no longer fits (H100 balanced: 3g at 4, 2g at 0,
// 1g at 2 and 3). Instances come back sorted by start.
func (g *CatalogGPU) Place(devices map[string]int) ([]MigInstance, error) {
	type item struct {
		name   string
		size   int
		starts []int
	}
	names := make([]string, 0, len(devices))
	for n := range devices {
		names = append(names, n)
	}
	sort.Strings(names)
	var items []item
	for _, n := range names {
		p := g.Profile(n)
		if p == nil {
			return nil, fmt.Errorf("profile %s is not a %s profile", n, g.Model)
		}
		pl, ok := g.Pattern.ByClass[p.Class]
		if !ok || pl.Size <= 0 {
			return nil, fmt.Errorf("profile %s: class %q has no placements in the catalog", n, p.Class)
		}
		for range devices[n] {
			items = append(items, item{n, pl.Size, pl.Starts})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].size > items[j].size })
	grid := g.Pattern.Grid
	used := make([]bool, grid)
	out := make([]MigInstance, len(items))
	var place func(i int) bool
	place = func(i int) bool {
		if i == len(items) {
			return true
		}
		it := items[i]
	next:
		for _, s := range it.starts {
			if s < 0 || s+it.size > grid {
				continue
			}
			// Instances of one profile are interchangeable: take their starts in increasing order only.
			if i > 0 && items[i-1].name == it.name && s <= out[i-1].Start {
				continue
			}
			for u := s; u < s+it.size; u++ {
				if used[u] {
					continue next
				}
			}
			for u := s; u < s+it.size; u++ {
				used[u] = true
			}
			out[i] = MigInstance{Profile: it.name, Start: s, Size: it.size}
			if place(i + 1) {
				return true
			}
			for u := s; u < s+it.size; u++ {
				used[u] = false
			}
		}
		return false
	}
	if !place(0) {
		return nil, fmt.Errorf("layout %v has no placement on the %d-slice grid of %s", devices, grid, g.Model)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out, nil
}

// giProfileIDs are nvidia-smi's GPU-instance profile IDs (`nvidia-smi mig -lgip`), by grid and class+attributes
// (catalog comments); they are part of the driver's MIG device names.
var giProfileIDs = map[int]map[string]int{
	8:  {"1g": 19, "1g+me": 20, "1g_2mem": 15, "2g": 14, "3g": 9, "4g": 5, "7g": 0},
	4:  {"1g": 14, "1g+me": 21, "2g": 5, "2g+me": 6, "4g": 0},
	12: {"1g": 14, "1g+me": 21, "1g+gfx": 47, "1g+me.all": 65, "1g-me": 67, "2g": 5, "2g+gfx": 35, "2g+me.all": 64, "2g-me": 66, "4g": 0, "4g+gfx": 32},
}

// GIProfileID is the GPU-instance profile ID of profile p (99 where the catalog does not say).
func (g *CatalogGPU) GIProfileID(p *CatalogProfile) int {
	attrs := ""
	if i := strings.Index(p.Name, "gb"); i >= 0 {
		attrs = p.Name[i+2:]
	}
	if id, ok := giProfileIDs[g.Pattern.Grid][p.Class+attrs]; ok {
		return id
	}
	return 99
}

// CanonicalProfile is the profile as the driver writes it in device names: dots removed, lower case, anything
// outside [a-z0-9-] as '-' (1g.10gb+me: 1g10gb-me).
func CanonicalProfile(profile string) string {
	b := []byte(strings.ToLower(strings.ReplaceAll(profile, ".", "")))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// MigDeviceName is the driver's name for a MIG device: gpu-<minor>-mig-<profile>-<giProfileID>-<start>.
func (g *CatalogGPU) MigDeviceName(gpu int, p *CatalogProfile, start int) string {
	return fmt.Sprintf("gpu-%d-mig-%s-%d-%d", gpu, CanonicalProfile(p.Name), g.GIProfileID(p), start)
}

// CounterSetName is the DynamicMIG counter set of GPU gpu.
func CounterSetName(gpu int) string { return fmt.Sprintf("gpu-%d-counter-set", gpu) }

// MemorySliceCounter is the DynamicMIG counter for memory slice i (hyphenated; the static capacity is memorySlice<i>).
func MemorySliceCounter(i int) string { return fmt.Sprintf("memory-slice-%d", i) }

// migCaps are a MIG profile's capacities as the driver publishes them.
type migCaps struct {
	memMiB                      int64
	sms, ce, dec, enc, jpg, ofa int64
}

func (g *CatalogGPU) capsOf(p *CatalogProfile, gpuMemMiB int64) migCaps {
	c := migCaps{memMiB: g.ProfileMemoryMiB(p, gpuMemMiB), sms: int64(p.SMs)}
	if c.sms == 0 {
		c.sms = 16 * int64(p.Compute)
	}
	full := g.Pattern.Grid > 0 && p.MemUnits == g.Pattern.Grid
	c.ce, c.dec, c.jpg = int64(p.Compute), int64(p.Compute), int64(p.Compute)
	if full && g.Pattern.Grid == 8 {
		c.ce = 8
	}
	if full || strings.Contains(p.Name, "+me") {
		c.ofa = 1
	}
	return c
}

// capacity is the MIG device's capacity map (bare names: domain gpu.nvidia.com).
func (c migCaps) capacity() map[resourceapi.QualifiedName]resourceapi.DeviceCapacity {
	q := func(n int64) resourceapi.DeviceCapacity {
		return resourceapi.DeviceCapacity{Value: *resource.NewQuantity(n, resource.DecimalSI)}
	}
	return map[resourceapi.QualifiedName]resourceapi.DeviceCapacity{
		"multiprocessors": q(c.sms), "copyEngines": q(c.ce), "decoders": q(c.dec), "encoders": q(c.enc),
		"jpegEngines": q(c.jpg), "ofaEngines": q(c.ofa),
		"memory": {Value: *resource.NewQuantity(c.memMiB*1024*1024, resource.BinarySI)},
	}
}

// counters is the same as DynamicMIG counters (names as DNS labels).
func (c migCaps) counters() map[string]resourceapi.Counter {
	q := func(n int64) resourceapi.Counter {
		return resourceapi.Counter{Value: *resource.NewQuantity(n, resource.DecimalSI)}
	}
	return map[string]resourceapi.Counter{
		"multiprocessors": q(c.sms), "copy-engines": q(c.ce), "decoders": q(c.dec), "encoders": q(c.enc),
		"jpeg-engines": q(c.jpg), "ofa-engines": q(c.ofa),
		"memory": {Value: *resource.NewQuantity(c.memMiB*1024*1024, resource.BinarySI)},
	}
}

func maxCaps(a, b migCaps) migCaps {
	return migCaps{memMiB: max(a.memMiB, b.memMiB), sms: max(a.sms, b.sms), ce: max(a.ce, b.ce), dec: max(a.dec, b.dec),
		enc: max(a.enc, b.enc), jpg: max(a.jpg, b.jpg), ofa: max(a.ofa, b.ofa)}
}

// ProductNameOf is NVML's name of the node's GPUs (the productName attribute).
func (n *NodeSpec) ProductNameOf() string {
	if n.ProductName != "" {
		return n.ProductName
	}
	return strings.ReplaceAll(n.Product, "-", " ")
}

// architecture and CUDA compute capability, from the product (go-nvlib's GetArchitectureAsString).
func architectureOf(product string) (string, string) {
	p := strings.ToUpper(product)
	switch {
	case strings.Contains(p, "RTX-PRO-6000") || strings.Contains(p, "RTX PRO 6000"):
		return "Blackwell", "12.0.0"
	case strings.Contains(p, "B200") || strings.Contains(p, "B300"):
		return "Blackwell", "10.0.0"
	case strings.Contains(p, "H100") || strings.Contains(p, "H20") || strings.Contains(p, "H800"):
		return "Hopper", "9.0.0"
	case strings.Contains(p, "A100") || strings.Contains(p, "A30") || strings.Contains(p, "A800"):
		return "Ampere", "8.0.0"
	case strings.Contains(p, "RTX-4090") || strings.Contains(p, "RTX 4090") || strings.Contains(p, "L40") || strings.Contains(p, "L4"):
		return "Ada Lovelace", "8.9.0"
	}
	return "", ""
}

func fakeUUID(prefix string, parts ...any) string {
	h := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	x := hex.EncodeToString(h[:16])
	return fmt.Sprintf("%s-%s-%s-%s-%s-%s", prefix, x[0:8], x[8:12], x[12:16], x[16:20], x[20:32])
}

func str(s string) resourceapi.DeviceAttribute { return resourceapi.DeviceAttribute{StringValue: &s} }
func version(s string) resourceapi.DeviceAttribute {
	return resourceapi.DeviceAttribute{VersionValue: &s}
}

// gpuUUID is GPU i's made-up NVML UUID.
func (s *nodeState) gpuUUID(i int) string { return fakeUUID("GPU", s.spec.Name, "/", i) }

// commonAttributes are the attributes every device of GPU i carries (a MIG device: its parent's).
func (s *nodeState) commonAttributes(i int) map[resourceapi.QualifiedName]resourceapi.DeviceAttribute {
	a := map[resourceapi.QualifiedName]resourceapi.DeviceAttribute{
		"productName":                     str(s.spec.ProductNameOf()),
		"brand":                           str("Nvidia"),
		"driverVersion":                   version(draDriverVersion),
		"cudaDriverVersion":               version(draCUDADriverVersion),
		"resource.kubernetes.io/pciBusID": str(fmt.Sprintf("0000:%02x:00.0", 0x18+8*i)),
	}
	if arch, cc := architectureOf(s.spec.Product); arch != "" {
		a["architecture"], a["cudaComputeCapability"] = str(arch), version(cc)
	}
	return a
}

// fullGPUDevice is gpu-<i> as announced without DynamicMIG (capacity: memory only).
func (s *nodeState) fullGPUDevice(i int) resourceapi.Device {
	attrs := s.commonAttributes(i)
	attrs["type"], attrs["uuid"] = str("gpu"), str(s.gpuUUID(i))
	return resourceapi.Device{Name: fmt.Sprintf("gpu-%d", i), Attributes: attrs,
		Capacity: map[resourceapi.QualifiedName]resourceapi.DeviceCapacity{
			"memory": {Value: *resource.NewQuantity(s.memMiB*1024*1024, resource.BinarySI)}}}
}

// migDevice is MIG instance in of GPU i (static: it exists, has a uuid and memorySlice<n> capacities; dynamic:
// abstract, consuming its GPU's counters).
func (s *nodeState) migDevice(in MigInstance, dynamic bool) (resourceapi.Device, error) {
	p := s.model.Profile(in.Profile)
	if p == nil {
		return resourceapi.Device{}, fmt.Errorf("profile %s is not a %s profile", in.Profile, s.model.Model)
	}
	caps := s.model.capsOf(p, s.memMiB)
	attrs := s.commonAttributes(in.GPU)
	attrs["type"], attrs["profile"], attrs["parentUUID"] = str("mig"), str(p.Name), str(s.gpuUUID(in.GPU))
	d := resourceapi.Device{Name: s.model.MigDeviceName(in.GPU, p, in.Start), Attributes: attrs, Capacity: caps.capacity()}
	if !dynamic {
		attrs["uuid"] = str(fakeUUID("MIG", s.spec.Name, "/", in.GPU, "/", p.Name, "/", in.Start))
		for m := in.Start; m < in.Start+in.Size; m++ {
			d.Capacity[resourceapi.QualifiedName(fmt.Sprintf("memorySlice%d", m))] = resourceapi.DeviceCapacity{Value: resource.MustParse("1")}
		}
		return d, nil
	}
	counters := caps.counters()
	for m := in.Start; m < in.Start+in.Size; m++ {
		counters[MemorySliceCounter(m)] = resourceapi.Counter{Value: resource.MustParse("1")}
	}
	d.ConsumesCounters = []resourceapi.DeviceCounterConsumption{{CounterSet: CounterSetName(in.GPU), Counters: counters}}
	return d, nil
}

// gpuCounters is GPU i's DynamicMIG counter set: the per-dimension maximum over the model's profiles, and one
// counter per memory slice (as many as the largest placement covers).
func (s *nodeState) gpuCounters() (migCaps, int) {
	var m migCaps
	slices := 0
	for i := range s.model.Profiles {
		p := &s.model.Profiles[i]
		m = maxCaps(m, s.model.capsOf(p, s.memMiB))
		if pl, ok := s.model.Pattern.ByClass[p.Class]; ok {
			for _, st := range pl.Starts {
				slices = max(slices, st+pl.Size)
			}
		}
	}
	return m, slices
}

// ResourceSlices returns what the driver publishes for the node, pool generation gen: static, one slice (more
// when over 128 devices) with the MIG instances of the node's layout (whole GPUs where MIG is off); dynamic, the
// counter sets (8 per slice) and then one devices slice per GPU. Every slice names the node and the pool
// (pool name = node name) and carries resourceSliceCount = how many there are. Names are left to generateName
// (<index>-gpu.nvidia.com-<node>-).
func (s *nodeState) ResourceSlices(gen int64) ([]resourceapi.ResourceSlice, error) {
	var specs []resourceapi.ResourceSliceSpec
	switch s.spec.DRA {
	case DRAStatic:
		var devices []resourceapi.Device
		for i, g := range s.gpus {
			if !g.MigEnabled {
				devices = append(devices, s.fullGPUDevice(i))
				continue
			}
			instances, err := s.model.Place(g.Devices)
			if err != nil {
				return nil, fmt.Errorf("GPU %d: %w", i, err)
			}
			for _, in := range instances {
				in.GPU = i
				d, err := s.migDevice(in, false)
				if err != nil {
					return nil, err
				}
				devices = append(devices, d)
			}
		}
		for len(devices) > 0 {
			n := min(len(devices), maxDevicesPerSlice)
			specs = append(specs, resourceapi.ResourceSliceSpec{Devices: devices[:n]})
			devices = devices[n:]
		}
	case DRADynamic:
		if !s.migCapable() {
			return nil, fmt.Errorf("%s is not MIG-capable (not in the catalog): DynamicMIG needs its profiles", s.spec.Product)
		}
		top, memSlices := s.gpuCounters()
		var sets []resourceapi.CounterSet
		for i := range s.gpus {
			c := top.counters()
			for m := 0; m < memSlices; m++ {
				c[MemorySliceCounter(m)] = resourceapi.Counter{Value: resource.MustParse("1")}
			}
			sets = append(sets, resourceapi.CounterSet{Name: CounterSetName(i), Counters: c})
		}
		for len(sets) > 0 {
			n := min(len(sets), maxCounterSetsPerSlice)
			specs = append(specs, resourceapi.ResourceSliceSpec{SharedCounters: sets[:n]})
			sets = sets[n:]
		}
		for i := range s.gpus {
			full := s.fullGPUDevice(i)
			full.Capacity = top.capacity() // under DynamicMIG: the per-dimension maximum over the profiles
			all := top.counters()
			for m := 0; m < memSlices; m++ {
				all[MemorySliceCounter(m)] = resourceapi.Counter{Value: resource.MustParse("1")}
			}
			full.ConsumesCounters = []resourceapi.DeviceCounterConsumption{{CounterSet: CounterSetName(i), Counters: all}}
			devices := []resourceapi.Device{full}
			for pi := range s.model.Profiles {
				p := &s.model.Profiles[pi]
				pl := s.model.Pattern.ByClass[p.Class]
				for _, st := range pl.Starts {
					d, err := s.migDevice(MigInstance{GPU: i, Profile: p.Name, Start: st, Size: pl.Size}, true)
					if err != nil {
						return nil, err
					}
					devices = append(devices, d)
				}
			}
			if len(devices) > maxCounterDevicesPerSlice {
				return nil, fmt.Errorf("GPU %d: %d devices, more than a slice may hold (%d)", i, len(devices), maxCounterDevicesPerSlice)
			}
			specs = append(specs, resourceapi.ResourceSliceSpec{Devices: devices})
		}
	default:
		return nil, fmt.Errorf("node %s is not a DRA node", s.spec.Name)
	}
	out := make([]resourceapi.ResourceSlice, len(specs))
	for i, sp := range specs {
		name := s.spec.Name
		sp.Driver = DRADriver
		sp.NodeName = &name
		sp.Pool = resourceapi.ResourcePool{Name: name, Generation: gen, ResourceSliceCount: int64(len(specs))}
		out[i] = resourceapi.ResourceSlice{
			ObjectMeta: metav1.ObjectMeta{GenerateName: fmt.Sprintf("%d-%s-%s-", i, DRADriver, name)},
			Spec:       sp,
		}
	}
	return out, nil
}

// draSelector selects the driver's slices of one node.
func draSelector(node string) string {
	return fields.Set{"spec.nodeName": node, "spec.driver": DRADriver}.AsSelector().String()
}

// publishSlices replaces the node's pool: the new slices (generation one above any there) are created first, then
// the old ones deleted, so that a reader never sees a complete pool mixing both. It returns how many it created.
func (a *Agent) publishSlices(ctx context.Context, st *nodeState, node *corev1.Node) (int, error) {
	api := a.client.ResourceV1().ResourceSlices()
	old, err := api.List(ctx, metav1.ListOptions{FieldSelector: draSelector(node.Name)})
	if err != nil {
		return 0, fmt.Errorf("list ResourceSlices: %w", err)
	}
	gen := int64(1)
	for _, o := range old.Items {
		if o.Spec.Pool.Name == node.Name && o.Spec.Pool.Generation >= gen {
			gen = o.Spec.Pool.Generation + 1
		}
	}
	slices, err := st.ResourceSlices(gen)
	if err != nil {
		return 0, err
	}
	owner := metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID, Controller: ptr(true)}
	for i := range slices {
		slices[i].OwnerReferences = []metav1.OwnerReference{owner}
		if _, err := api.Create(ctx, &slices[i], metav1.CreateOptions{}); err != nil {
			return i, fmt.Errorf("create ResourceSlice %d of %d: %w", i+1, len(slices), err)
		}
	}
	for _, o := range old.Items {
		if err := api.Delete(ctx, o.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return len(slices), fmt.Errorf("delete old ResourceSlice %s: %w", o.Name, err)
		}
	}
	return len(slices), nil
}

// deleteSlices removes the driver's slices of a node (what the kubelet does when the plugin goes away).
func (a *Agent) deleteSlices(ctx context.Context, node string) error {
	err := a.client.ResourceV1().ResourceSlices().DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{FieldSelector: draSelector(node)})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
