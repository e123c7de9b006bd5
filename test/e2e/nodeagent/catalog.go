package nodeagent

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Catalog is the part of policy/catalog_default.yaml the agent needs: which products are MIG-capable and each
// profile's geometry, to publish GFD's nvidia.com/mig-<profile>.* labels.
type Catalog struct {
	GPUs []CatalogGPU `json:"gpus"`
}

// CatalogGPU is one GPU model.
type CatalogGPU struct {
	Model    string           `json:"model"`
	Products []string         `json:"products"`
	Pattern  CatalogPattern   `json:"pattern"`
	Profiles []CatalogProfile `json:"profiles"`
}

// CatalogPattern is the placement grid of a model.
type CatalogPattern struct {
	Grid          int `json:"grid"`
	ComputeSlices int `json:"compute_slices"`
	// ByClass gives, per profile class, the instance's size in memory slices and the slices it may start at (an
	// instance occupies [start, start+size)).
	ByClass map[string]CatalogPlacement `json:"by_class,omitempty"`
}

// CatalogPlacement is one class's placements (NVML nvmlGpuInstancePlacement_t).
type CatalogPlacement struct {
	Size   int   `json:"size"`
	Starts []int `json:"starts"`
}

// CatalogProfile is one MIG GPU-instance profile.
type CatalogProfile struct {
	Name     string  `json:"name"`
	Class    string  `json:"class"`
	Compute  int     `json:"compute"`
	MemUnits int     `json:"mem_units"`
	Max      int     `json:"max"`
	MemGiB   float64 `json:"mem_gib"`
	SMs      int     `json:"sms"`
}

// LoadCatalog reads the catalog YAML (anchors and aliases are resolved by the YAML decoder).
func LoadCatalog(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Catalog
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	if len(c.GPUs) == 0 {
		return nil, fmt.Errorf("catalog %s: no gpus", path)
	}
	return &c, nil
}

// ForProduct returns the model listing product (exact match), or nil.
func (c *Catalog) ForProduct(product string) *CatalogGPU {
	if c == nil {
		return nil
	}
	for i := range c.GPUs {
		for _, p := range c.GPUs[i].Products {
			if p == product {
				return &c.GPUs[i]
			}
		}
	}
	return nil
}

// Profile returns the named profile of the model, or nil.
func (g *CatalogGPU) Profile(name string) *CatalogProfile {
	if g == nil {
		return nil
	}
	for i := range g.Profiles {
		if g.Profiles[i].Name == name {
			return &g.Profiles[i]
		}
	}
	return nil
}

// ProfileMemoryMiB is what GFD would publish as nvidia.com/mig-<p>.memory: the catalog's mem_gib when known,
// otherwise the profile's share of the GPU's memory (an approximation; real values come from NVML).
func (g *CatalogGPU) ProfileMemoryMiB(p *CatalogProfile, gpuMemoryMiB int64) int64 {
	if p.MemGiB > 0 {
		return int64(math.Round(p.MemGiB * 1024))
	}
	grid := g.Pattern.Grid
	if grid <= 0 {
		grid = 8
	}
	return gpuMemoryMiB * int64(p.MemUnits) / int64(grid)
}

// DefaultMemoryMiB guesses a GPU's memory from its largest profile (NN in "7g.NNgb"), for specs that omit it.
func (g *CatalogGPU) DefaultMemoryMiB() int64 {
	var best int64
	for _, p := range g.Profiles {
		var c, gb int
		if _, err := fmt.Sscanf(strings.SplitN(p.Name, "+", 2)[0], "%dg.%dgb", &c, &gb); err == nil && int64(gb)*1024 > best {
			best = int64(gb) * 1024
		}
	}
	return best
}

// ResourceName is the device plugin's resource for a MIG profile under strategy mixed: '+' becomes '.'.
func ResourceName(profile string) string {
	return "nvidia.com/mig-" + strings.ReplaceAll(profile, "+", ".")
}

// AllMigResources lists every nvidia.com/mig-* resource of the catalog, sorted (the scheduler extender's
// managedResources).
func (c *Catalog) AllMigResources() []string {
	seen := map[string]bool{}
	for _, g := range c.GPUs {
		for _, p := range g.Profiles {
			seen[ResourceName(p.Name)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}
