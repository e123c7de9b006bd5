// Package nodeagent simulates, for fake Kubernetes nodes, what the GPU Operator's components publish and how they
// react: GPU Feature Discovery labels, the device plugin's capacity, the MIG manager's nvidia.com/mig.config label
// protocol, the device-plugin config-manager's nvidia.com/device-plugin.config protocol, and a kubelet that marks
// bound pods Running; or, for DRA nodes (NodeSpec.DRA, dra.go), the NVIDIA DRA driver's ResourceSlices. It is used
// in process by the e2e tests and by cmd/nodeagent for the demo.
//
// What it models is described in /work/shared/reference/nvidia.md (sections 1.5, 2, 3, 4, 5); where it simplifies,
// the comment says so.
package nodeagent

import (
	"fmt"
	"os"
	"time"

	"sigs.k8s.io/yaml"
)

// Mode is how a fake node's GPUs start out.
type Mode string

const (
	ModeFull Mode = "full" // whole GPUs, nvidia.com/gpu, no sharing
	ModeMPS  Mode = "mps"  // MPS sharing with renameByDefault: nvidia.com/gpu.shared = GPUs x replicas
	ModeMIG  Mode = "mig"  // MIG (strategy mixed) with a named mig-parted layout
)

// Spec is the YAML file the agent reads (cmd/nodeagent --config, or Load in tests).
type Spec struct {
	// ConfigMapDelay is how long a change to the GPU Operator's ConfigMaps takes to become visible to the simulated
	// components (as with mounted ConfigMap volumes; about a minute in real clusters). Default 0.
	ConfigMapDelay Duration `json:"configMapDelay,omitempty"`
	// ReconfigureDelay is how long the simulated MIG manager stays in state pending, and how long the device
	// plugin takes to restart on a new config. Default 1s.
	ReconfigureDelay *Duration `json:"reconfigureDelay,omitempty"`
	// Namespace and ConfigMap names of the GPU Operator (defaults: gpu-operator, device-plugin-config,
	// custom-mig-parted-config).
	Namespace             string `json:"namespace,omitempty"`
	DevicePluginConfigMap string `json:"devicePluginConfigMap,omitempty"`
	MigPartedConfigMap    string `json:"migPartedConfigMap,omitempty"`
	// MigConfigs are mig-parted v1 `mig-configs` entries seeded into the mig-parted ConfigMap (key config.yaml) at
	// start, merged with what is there (existing names win). all-disabled is always added.
	MigConfigs map[string][]MigConfigEntry `json:"migConfigs,omitempty"`
	// DevicePluginConfigs are device-plugin v1 configs seeded into the device-plugin ConfigMap, one key each
	// (existing keys win). For each MPS node a key mps-<replicas> is added when missing, and mig-mixed always.
	DevicePluginConfigs map[string]DevicePluginConfig `json:"devicePluginConfigs,omitempty"`
	Nodes               []NodeSpec                    `json:"nodes"`
}

// NodeSpec describes one fake GPU node.
type NodeSpec struct {
	Name string `json:"name"`
	// Product is the nvidia.com/gpu.product value, e.g. NVIDIA-H20 or NVIDIA-GeForce-RTX-4090. MIG profiles come
	// from the catalog entry listing this product; a product not in the catalog is not MIG-capable.
	Product   string `json:"product"`
	Count     int    `json:"count"`               // physical GPUs
	MemoryMiB int64  `json:"memoryMiB,omitempty"` // per GPU; default from the catalog's largest profile, else 24576
	Mode      Mode   `json:"mode"`
	Replicas  int    `json:"replicas,omitempty"`  // mode mps: MPS replicas per GPU (>= 2)
	MigConfig string `json:"migConfig,omitempty"` // mode mig: the mig-parted config name applied at start
	// Labels added to the node as they are (e.g. a test's own selector label).
	Labels map[string]string `json:"labels,omitempty"`
	// CPU, Memory and Pods capacity; defaults 64, 512Gi, 110.
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	Pods   string `json:"pods,omitempty"`
	// Taints as on a real node (optional).
	Taints []Taint `json:"taints,omitempty"`
	// FailMig injects a failure (not a real NVIDIA setting): the simulated MIG manager goes through pending for
	// every new nvidia.com/mig.config value that would change a GPU, then reports
	// nvidia.com/mig.config.state=failed and keeps the old layout, as when mig-parted apply fails on a GPU reset
	// (nvidia.md 5.2 step 9). A value that is already applied still reports success.
	FailMig bool `json:"failMig,omitempty"`
	// DRA makes this a node of the NVIDIA DRA driver (gpu.nvidia.com) instead of the device plugin: no nvidia.com/*
	// capacity, no MIG manager or device-plugin config-manager, no GFD labels (unless GFDLabels); the agent
	// publishes the driver's ResourceSlices instead (dra.go). static: MIG as laid out by migConfig (a mig-parted
	// config name; GPUs it leaves MIG-disabled, or all without migConfig, are announced whole); dynamic: the
	// driver's DynamicMIG, every profile and placement announced as a device that consumes its GPU's counters.
	DRA DRAMode `json:"dra,omitempty"`
	// ProductName is what NVML calls the GPU (the DRA driver's productName attribute), default Product with '-'
	// written as ' ' (NVIDIA-H100-80GB-HBM3: "NVIDIA H100 80GB HBM3").
	ProductName string `json:"productName,omitempty"`
	// GFDLabels: a DRA node also carries GPU Feature Discovery's basic labels (nvidia.com/gpu.present, gpu.product,
	// gpu.count, gpu.memory), as when GFD is deployed beside the DRA driver. Off by default: what a DRA node offers
	// is then only in its ResourceSlices.
	GFDLabels bool `json:"gfdLabels,omitempty"`
}

// Taint is a node taint (key, value, effect).
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// MigConfigEntry is one entry of a mig-parted v1 `mig-configs` list.
type MigConfigEntry struct {
	DeviceFilter any            `json:"device-filter,omitempty"`
	Devices      any            `json:"devices"` // "all" or a list of GPU indices
	MigEnabled   bool           `json:"mig-enabled"`
	MigDevices   map[string]int `json:"mig-devices,omitempty"`
}

// MigPartedConfig is the mig-parted v1 file (the ConfigMap's config.yaml).
type MigPartedConfig struct {
	Version    string                      `json:"version"`
	MigConfigs map[string][]MigConfigEntry `json:"mig-configs"`
}

// DevicePluginConfig is the part of the k8s-device-plugin v1 config that the agent reads.
type DevicePluginConfig struct {
	Version string `json:"version,omitempty"`
	Flags   *struct {
		MigStrategy string `json:"migStrategy,omitempty"`
	} `json:"flags,omitempty"`
	Sharing *Sharing `json:"sharing,omitempty"`
}

// Sharing is the device plugin's `sharing` section.
type Sharing struct {
	MPS         *ReplicatedResources `json:"mps,omitempty"`
	TimeSlicing *ReplicatedResources `json:"timeSlicing,omitempty"`
}

// ReplicatedResources is `sharing.mps` / `sharing.timeSlicing`.
type ReplicatedResources struct {
	RenameByDefault            bool                 `json:"renameByDefault,omitempty"`
	FailRequestsGreaterThanOne *bool                `json:"failRequestsGreaterThanOne,omitempty"`
	Resources                  []ReplicatedResource `json:"resources"`
}

// ReplicatedResource is one entry of `resources`.
type ReplicatedResource struct {
	Name     string `json:"name"`
	Replicas int    `json:"replicas"`
}

// Duration is a time.Duration written as a Go duration string ("2s") in YAML.
type Duration struct{ time.Duration }

// UnmarshalJSON accepts "1m30s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := yaml.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		d.Duration = v
		return nil
	}
	var n float64
	if err := yaml.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration %s: want a string like \"2s\" or seconds", string(b))
	}
	d.Duration = time.Duration(n * float64(time.Second))
	return nil
}

// MarshalJSON writes the Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// LoadSpec reads a Spec from a YAML file.
func LoadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSpec(b)
}

// ParseSpec parses a Spec from YAML and checks it.
func ParseSpec(b []byte) (*Spec, error) {
	var s Spec
	if err := yaml.UnmarshalStrict(b, &s); err != nil {
		return nil, fmt.Errorf("node agent spec: %w", err)
	}
	s.defaults()
	for i := range s.Nodes {
		if err := s.Nodes[i].check(); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

func (s *Spec) defaults() {
	if s.Namespace == "" {
		s.Namespace = "gpu-operator"
	}
	if s.DevicePluginConfigMap == "" {
		s.DevicePluginConfigMap = "device-plugin-config"
	}
	if s.MigPartedConfigMap == "" {
		s.MigPartedConfigMap = "custom-mig-parted-config"
	}
	if s.ReconfigureDelay == nil {
		s.ReconfigureDelay = &Duration{time.Second}
	}
}

func (n *NodeSpec) check() error {
	if n.Name == "" || n.Product == "" || n.Count <= 0 {
		return fmt.Errorf("node %q: name, product and count > 0 are required", n.Name)
	}
	if n.DRA != "" {
		return n.checkDRA()
	}
	if n.GFDLabels || n.ProductName != "" {
		return fmt.Errorf("node %s: gfdLabels and productName are for DRA nodes (dra: static|dynamic)", n.Name)
	}
	switch n.Mode {
	case ModeFull, "":
		n.Mode = ModeFull
	case ModeMPS:
		if n.Replicas < 2 {
			return fmt.Errorf("node %s: mode mps needs replicas >= 2 (the device plugin's rule)", n.Name)
		}
	case ModeMIG:
		if n.MigConfig == "" {
			return fmt.Errorf("node %s: mode mig needs migConfig (a mig-parted config name)", n.Name)
		}
	default:
		return fmt.Errorf("node %s: mode %q: want full, mps or mig", n.Name, n.Mode)
	}
	return nil
}

func (n *NodeSpec) checkDRA() error {
	switch n.DRA {
	case DRAStatic:
	case DRADynamic:
		if n.MigConfig != "" {
			return fmt.Errorf("node %s: dra: dynamic creates MIG devices on demand; migConfig is for dra: static", n.Name)
		}
	default:
		return fmt.Errorf("node %s: dra %q: want static or dynamic", n.Name, n.DRA)
	}
	if n.Mode != "" && n.Mode != ModeFull {
		return fmt.Errorf("node %s: mode %s is the device plugin's; a DRA node has none (use dra: static with migConfig)", n.Name, n.Mode)
	}
	if n.Replicas != 0 || n.FailMig {
		return fmt.Errorf("node %s: replicas and failMig are device-plugin / MIG-manager settings; a DRA node has neither", n.Name)
	}
	n.Mode = ""
	return nil
}
