package nodeagent

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Label keys (nvidia.md section 3; the operator's own in 3.4 and 5).
const (
	LabelProduct         = "nvidia.com/gpu.product"
	LabelCount           = "nvidia.com/gpu.count"
	LabelMemory          = "nvidia.com/gpu.memory"
	LabelReplicas        = "nvidia.com/gpu.replicas"
	LabelSharingStrategy = "nvidia.com/gpu.sharing-strategy"
	LabelMPSCapable      = "nvidia.com/mps.capable"
	LabelMIGCapable      = "nvidia.com/mig.capable"
	LabelMIGStrategy     = "nvidia.com/mig.strategy"
	LabelMIGConfig       = "nvidia.com/mig.config"
	LabelMIGConfigState  = "nvidia.com/mig.config.state"
	LabelDevicePluginCfg = "nvidia.com/device-plugin.config"
	LabelGPUPresent      = "nvidia.com/gpu.present"

	ResourceGPU       corev1.ResourceName = "nvidia.com/gpu"
	ResourceGPUShared corev1.ResourceName = "nvidia.com/gpu.shared"

	// AnnotationError is where the agent writes what a simulated component refused (not a real NVIDIA key).
	AnnotationError = "nodeagent.gpushare.test/last-error"

	migLabelPrefix = "nvidia.com/mig-"
)

// gpu is one physical GPU's MIG state.
type gpu struct {
	MigEnabled bool
	Devices    map[string]int // profile -> count, when MigEnabled
}

func (g gpu) equal(o gpu) bool {
	if g.MigEnabled != o.MigEnabled || len(g.Devices) != len(o.Devices) {
		return false
	}
	for k, v := range g.Devices {
		if o.Devices[k] != v {
			return false
		}
	}
	return true
}

// sharing is the device plugin's active sharing config.
type sharing struct {
	Strategy string // none, mps, time-slicing
	Replicas int    // >= 2 when Strategy != none
	Rename   bool
}

// nodeState is everything the agent publishes for one node.
type nodeState struct {
	spec     NodeSpec
	model    *CatalogGPU // nil: not MIG-capable
	memMiB   int64
	gpus     []gpu
	share    sharing
	migState string // "" (never ran), pending, success, failed
	pending  bool   // MIG manager running: GFD and the device plugin are paused

	appliedMig string // last nvidia.com/mig.config value the MIG manager acted on
	appliedDP  string // last nvidia.com/device-plugin.config value the config-manager acted on
}

func (s *nodeState) migCapable() bool { return s.model != nil && len(s.model.Profiles) > 0 }

// labels returns the labels GFD, the operator and the agent maintain, as they should be now.
func (s *nodeState) labels() map[string]string {
	if s.spec.DRA != "" {
		return s.draLabels()
	}
	l := map[string]string{
		"kubernetes.io/hostname":                      s.spec.Name,
		"kubernetes.io/os":                            "linux",
		"kubernetes.io/arch":                          "amd64",
		"feature.node.kubernetes.io/pci-10de.present": "true",
		LabelGPUPresent:                               "true",
		"nvidia.com/gpu.mode":                         "compute",
		"nvidia.com/cuda.driver-version.major":        "570",
		"nvidia.com/cuda.driver-version.minor":        "133",
		"nvidia.com/cuda.driver-version.revision":     "20",
		"nvidia.com/cuda.driver-version.full":         "570.133.20",
		"nvidia.com/cuda.runtime-version.major":       "12",
		"nvidia.com/cuda.runtime-version.minor":       "8",
		"nvidia.com/cuda.runtime-version.full":        "12.8",
		LabelCount:                                    strconv.Itoa(len(s.gpus)),
		LabelMemory:                                   strconv.FormatInt(s.memMiB, 10),
		LabelMIGStrategy:                              "mixed",
		LabelMIGCapable:                               strconv.FormatBool(s.migCapable()),
		LabelMPSCapable:                               strconv.FormatBool(s.share.Strategy == "mps"),
	}
	product := s.spec.Product
	replicas, strategy := 1, "none"
	if s.share.Strategy != "none" && s.share.Strategy != "" {
		replicas, strategy = s.share.Replicas, s.share.Strategy
		if !s.share.Rename {
			product += "-SHARED"
		}
	}
	if s.fullGPUs() == 0 {
		replicas = 0 // every GPU MIG-enabled under strategy mixed (real mixed dump: "0")
	}
	l[LabelReplicas] = strconv.Itoa(replicas)
	l[LabelSharingStrategy] = strategy
	if !s.pending { // GFD is paused and nvidia.com/gpu.product is removed while pending (gpu-operator#2495)
		l[LabelProduct] = product
	}
	if s.migState != "" {
		l[LabelMIGConfigState] = s.migState
	}
	for _, p := range s.profilesPresent() {
		prof := s.model.Profile(p)
		key := strings.TrimPrefix(ResourceName(p), "nvidia.com/")
		pre := "nvidia.com/" + key
		l[pre+".count"] = strconv.Itoa(s.profileCount(p))
		l[pre+".product"] = s.spec.Product + "-MIG-" + p
		l[pre+".replicas"] = "1"
		l[pre+".sharing-strategy"] = "none"
		if prof != nil {
			l[pre+".memory"] = strconv.FormatInt(s.model.ProfileMemoryMiB(prof, s.memMiB), 10)
			l[pre+".slices.gi"] = strconv.Itoa(prof.Compute)
			l[pre+".slices.ci"] = strconv.Itoa(prof.Compute)
			if prof.SMs > 0 {
				l[pre+".multiprocessors"] = strconv.Itoa(prof.SMs)
			}
		}
	}
	for k, v := range s.spec.Labels {
		l[k] = v
	}
	return l
}

// draLabels are a DRA node's labels: the kubelet's and NFD's PCI vendor label; GFD's basic ones only with
// spec.GFDLabels (no MIG or sharing labels: there is no device plugin and no MIG manager).
func (s *nodeState) draLabels() map[string]string {
	l := map[string]string{
		"kubernetes.io/hostname":                      s.spec.Name,
		"kubernetes.io/os":                            "linux",
		"kubernetes.io/arch":                          "amd64",
		"feature.node.kubernetes.io/pci-10de.present": "true",
	}
	if s.spec.GFDLabels {
		l[LabelGPUPresent] = "true"
		l[LabelProduct] = s.spec.Product
		l[LabelCount] = strconv.Itoa(len(s.gpus))
		l[LabelMemory] = strconv.FormatInt(s.memMiB, 10)
		l["nvidia.com/cuda.driver-version.full"] = draDriverVersion
	}
	for k, v := range s.spec.Labels {
		l[k] = v
	}
	return l
}

// managedLabel says whether the agent owns key (and so removes it when it is no longer wanted). The operator's
// own inputs, nvidia.com/mig.config and nvidia.com/device-plugin.config, are not managed here.
func managedLabel(key string) bool {
	if key == LabelMIGConfig || key == LabelDevicePluginCfg {
		return false
	}
	return strings.HasPrefix(key, "nvidia.com/")
}

func (s *nodeState) fullGPUs() int {
	n := 0
	for _, g := range s.gpus {
		if !g.MigEnabled {
			n++
		}
	}
	return n
}

func (s *nodeState) profileCount(p string) int {
	n := 0
	for _, g := range s.gpus {
		if g.MigEnabled {
			n += g.Devices[p]
		}
	}
	return n
}

func (s *nodeState) profilesPresent() []string {
	seen := map[string]bool{}
	for _, g := range s.gpus {
		if g.MigEnabled {
			for p, c := range g.Devices {
				if c > 0 {
					seen[p] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// gpuResources returns the device plugin's nvidia.com/* capacity (strategy mixed).
func (s *nodeState) gpuResources() map[corev1.ResourceName]int64 {
	r := map[corev1.ResourceName]int64{}
	full := int64(s.fullGPUs())
	switch {
	case s.share.Strategy != "none" && s.share.Strategy != "" && s.share.Rename:
		r[ResourceGPU] = 0
		r[ResourceGPUShared] = full * int64(s.share.Replicas)
	case s.share.Strategy != "none" && s.share.Strategy != "":
		r[ResourceGPU] = full * int64(s.share.Replicas)
	default:
		if full > 0 {
			r[ResourceGPU] = full
		}
	}
	for _, p := range s.profilesPresent() {
		r[corev1.ResourceName(ResourceName(p))] = int64(s.profileCount(p))
	}
	return r
}

func (s *nodeState) capacity() (capacity, allocatable corev1.ResourceList) {
	capacity = corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse(orDefault(s.spec.CPU, "64")),
		corev1.ResourceMemory:           resource.MustParse(orDefault(s.spec.Memory, "512Gi")),
		corev1.ResourcePods:             resource.MustParse(orDefault(s.spec.Pods, "110")),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
	}
	allocatable = capacity.DeepCopy()
	if s.spec.DRA != "" { // no device plugin: the GPUs are in ResourceSlices
		return capacity, allocatable
	}
	for name, n := range s.gpuResources() {
		capacity[name] = *resource.NewQuantity(n, resource.DecimalSI)
		if s.pending { // the device plugin is stopped while the MIG manager works: nothing allocatable
			allocatable[name] = *resource.NewQuantity(0, resource.DecimalSI)
		} else {
			allocatable[name] = *resource.NewQuantity(n, resource.DecimalSI)
		}
	}
	return capacity, allocatable
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// layoutFrom applies a mig-parted config (a list of entries) to the node's GPUs, as mig-parted would select them
// (device-filter is not modelled: every entry is taken to match the node's one model). GPUs no entry selects keep
// their state. It checks what mig-parted apply would reject: unknown profiles, counts above a profile's max, and
// more memory units or compute slices than the GPU has (placements are not checked).
func (s *nodeState) layoutFrom(entries []MigConfigEntry) ([]gpu, error) {
	out := make([]gpu, len(s.gpus))
	copy(out, s.gpus)
	for i, e := range entries {
		idx, err := devicesOf(e.Devices, len(s.gpus))
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		g := gpu{MigEnabled: e.MigEnabled}
		if e.MigEnabled {
			if !s.migCapable() {
				return nil, fmt.Errorf("entry %d: %s is not MIG-capable", i, s.spec.Product)
			}
			g.Devices = map[string]int{}
			units, compute := 0, 0
			for p, c := range e.MigDevices {
				prof := s.model.Profile(p)
				if prof == nil {
					return nil, fmt.Errorf("entry %d: profile %s is not supported on %s", i, p, s.spec.Product)
				}
				if c < 0 || (prof.Max > 0 && c > prof.Max) {
					return nil, fmt.Errorf("entry %d: %d x %s exceeds the maximum %d", i, c, p, prof.Max)
				}
				if c > 0 {
					g.Devices[p] = c
				}
				units += c * prof.MemUnits
				compute += c * prof.Compute
			}
			grid, slices := s.model.Pattern.Grid, s.model.Pattern.ComputeSlices
			if (grid > 0 && units > grid) || (slices > 0 && compute > slices) {
				return nil, fmt.Errorf("entry %d: layout %v needs %d memory units and %d compute slices, the GPU has %d and %d",
					i, e.MigDevices, units, compute, grid, slices)
			}
		} else if len(e.MigDevices) > 0 {
			return nil, fmt.Errorf("entry %d: mig-devices given with mig-enabled: false", i)
		}
		for _, j := range idx {
			out[j] = g
		}
	}
	return out, nil
}

func devicesOf(v any, n int) ([]int, error) {
	switch d := v.(type) {
	case string:
		if d != "all" {
			return nil, fmt.Errorf("devices %q: want all or a list of indices", d)
		}
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	case []any:
		var out []int
		for _, x := range d {
			f, ok := x.(float64)
			if !ok || f < 0 || int(f) >= n || float64(int(f)) != f {
				return nil, fmt.Errorf("devices: index %v is not a GPU of this node (0..%d)", x, n-1)
			}
			out = append(out, int(f))
		}
		return out, nil
	default:
		return nil, fmt.Errorf("devices: want all or a list of indices, got %v", v)
	}
}

// resourcesOn lists the resources served by GPU g (what a pod would hold if it used that GPU).
func resourcesOn(g gpu) []corev1.ResourceName {
	if !g.MigEnabled {
		return []corev1.ResourceName{ResourceGPU, ResourceGPUShared}
	}
	var out []corev1.ResourceName
	for p := range g.Devices {
		out = append(out, corev1.ResourceName(ResourceName(p)))
	}
	return out
}

// podUses reports the GPU resources of names that pod asks for (any container, init containers included).
func podUses(pod *corev1.Pod, names map[corev1.ResourceName]bool) []string {
	var out []string
	seen := map[string]bool{}
	cs := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range cs {
		for _, rl := range []corev1.ResourceList{c.Resources.Limits, c.Resources.Requests} {
			for n, q := range rl {
				if s := fmt.Sprintf("container %s %s=%s", c.Name, n, q.String()); names[n] && !q.IsZero() && !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func podActive(p *corev1.Pod) bool {
	return p.Spec.NodeName != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}
