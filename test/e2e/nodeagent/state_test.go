package nodeagent

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func catalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := LoadCatalog(filepath.Join("..", "..", "..", "policy", "catalog_default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCatalogResources(t *testing.T) {
	c := catalog(t)
	if c.ForProduct("NVIDIA-H20") == nil || c.ForProduct("NVIDIA-H20").Profile("1g.12gb") == nil {
		t.Fatal("NVIDIA-H20 1g.12gb missing from the catalog")
	}
	if c.ForProduct("NVIDIA-GeForce-RTX-4090") != nil {
		t.Error("RTX 4090 must not be MIG-capable")
	}
	rs := strings.Join(c.AllMigResources(), " ")
	for _, want := range []string{"nvidia.com/mig-1g.12gb", "nvidia.com/mig-1g.10gb.me", "nvidia.com/mig-1g.24gb.me.all", "nvidia.com/mig-1g.24gb-me"} {
		if !strings.Contains(rs, want+" ") && !strings.HasSuffix(rs, want) {
			t.Errorf("AllMigResources lacks %s", want)
		}
	}
}

func TestMPSNodeState(t *testing.T) {
	st := &nodeState{spec: NodeSpec{Name: "n", Product: "NVIDIA-GeForce-RTX-4090", Count: 2}, memMiB: 24564, gpus: make([]gpu, 2),
		share: sharing{Strategy: "mps", Replicas: 4, Rename: true}}
	l := st.labels()
	for k, v := range map[string]string{LabelReplicas: "4", LabelSharingStrategy: "mps", LabelMPSCapable: "true", LabelCount: "2",
		LabelProduct: "NVIDIA-GeForce-RTX-4090", LabelMIGCapable: "false", LabelMemory: "24564"} {
		if l[k] != v {
			t.Errorf("%s = %q, want %q", k, l[k], v)
		}
	}
	r := st.gpuResources()
	if r[ResourceGPU] != 0 || r[ResourceGPUShared] != 8 {
		t.Errorf("resources %v, want gpu 0, gpu.shared 8", r)
	}
	st.share.Rename = false
	if l := st.labels(); l[LabelProduct] != "NVIDIA-GeForce-RTX-4090-SHARED" {
		t.Errorf("not renamed: product %q", l[LabelProduct])
	}
	if r := st.gpuResources(); r[ResourceGPU] != 8 {
		t.Errorf("not renamed: %v", r)
	}
}

func TestMIGLayout(t *testing.T) {
	c := catalog(t)
	st := &nodeState{spec: NodeSpec{Name: "n", Product: "NVIDIA-H20", Count: 2}, model: c.ForProduct("NVIDIA-H20"), memMiB: 97871,
		gpus: make([]gpu, 2), share: sharing{Strategy: "none"}}
	var entries []MigConfigEntry
	must(t, yaml.Unmarshal([]byte(`
- devices: [0]
  mig-enabled: true
  mig-devices: {"1g.12gb": 3, "1g.24gb": 2}
`), &entries))
	g, err := st.layoutFrom(entries)
	if err != nil {
		t.Fatal(err)
	}
	st.gpus = g
	r := st.gpuResources()
	if fmt.Sprint(r) != "map[nvidia.com/gpu:1 nvidia.com/mig-1g.12gb:3 nvidia.com/mig-1g.24gb:2]" {
		t.Errorf("resources %v", r)
	}
	l := st.labels()
	if l["nvidia.com/mig-1g.12gb.count"] != "3" || l["nvidia.com/mig-1g.24gb.memory"] != "24467" || l[LabelReplicas] != "1" {
		t.Errorf("labels %v", l)
	}
	for _, bad := range []string{
		`[{devices: all, mig-enabled: true, mig-devices: {"7g.96gb": 1, "1g.12gb": 1}}]`, // 9 units
		`[{devices: all, mig-enabled: true, mig-devices: {"1g.10gb": 1}}]`,               // not an H20 profile
		`[{devices: [5], mig-enabled: false}]`,                                           // no GPU 5
		`[{devices: all, mig-enabled: true, mig-devices: {"1g.12gb+me": 2}}]`,            // max 1
	} {
		var e []MigConfigEntry
		must(t, yaml.Unmarshal([]byte(bad), &e))
		if _, err := st.layoutFrom(e); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	var all7g []MigConfigEntry
	must(t, yaml.Unmarshal([]byte(`[{devices: all, mig-enabled: true, mig-devices: {"7g.96gb": 1}}]`), &all7g))
	g, err = st.layoutFrom(all7g)
	if err != nil {
		t.Fatal(err)
	}
	st.gpus = g
	if l := st.labels(); l[LabelReplicas] != "0" || st.gpuResources()[ResourceGPU] != 0 {
		t.Errorf("all MIG: replicas %q resources %v", l[LabelReplicas], st.gpuResources())
	}
	st.pending = true
	if _, ok := st.labels()[LabelProduct]; ok {
		t.Error("gpu.product must be absent while pending")
	}
	_, alloc := st.capacity()
	if q := alloc["nvidia.com/mig-7g.96gb"]; !q.IsZero() {
		t.Errorf("allocatable while pending: %v", alloc)
	}
}

func TestParseSpec(t *testing.T) {
	s, err := LoadSpec(filepath.Join("..", "testdata", "nodes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != 4 || s.ConfigMapDelay.Seconds() != 2 || s.MigConfigs["e2e-h20-mixed"][0].MigDevices["1g.12gb"] != 3 {
		t.Errorf("spec %+v", s)
	}
	if _, err := ParseSpec([]byte("nodes: [{name: x, product: p, count: 1, mode: mps}]")); err == nil {
		t.Error("mps without replicas accepted")
	}
	if _, err := ParseSpec([]byte("nodez: []")); err == nil {
		t.Error("unknown key accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
