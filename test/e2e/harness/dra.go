package harness

// DRA (issue 15): when the gpushare under test has the DRA side (`gpushare dra-classes` works), the harness runs it
// with `dra: {enabled: true}`, bound to the DRA overlay's roles as well (manifests/overlays/dra: resourceslices
// get/list/watch), and creates the overlay's DeviceClasses through the API at start, as `kubectl apply -k
// manifests/overlays/dra` would, before kube-scheduler starts. Kubernetes 1.36 needs no flag for any of it:
// resource.k8s.io/v1 is served by default, and the DynamicResources scheduler plugin, DRAExtendedResource and
// DRAPartitionableDevices are on by default (kube-scheduler runs with the admin's token here; a restricted one
// would need system:kube-scheduler, which grants resourceclaims create/delete/update and resourceslices read).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// DRAOverlay is the kustomization that ships gpushare's DRA permissions and DeviceClasses.
const DRAOverlay = "overlays/dra"

var deviceClassGVR = schema.GroupVersionResource{Group: "resource.k8s.io", Version: "v1", Resource: "deviceclasses"}

// DRAClasses runs `gpushare dra-classes [args...]` and returns what it prints.
func (c *Cluster) DRAClasses(args ...string) ([]byte, error) {
	cmd := exec.Command(c.Opts.GpushareBin, append([]string{"dra-classes"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("gpushare dra-classes %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// setupDRA decides whether this gpushare has the DRA side and, if so, installs the overlay's RBAC. Without it the
// cluster runs as before and the DRA tests say why (Cluster.DRAReason).
func (c *Cluster) setupDRA(ctx context.Context) error {
	out, err := c.DRAClasses()
	if err != nil || !bytes.Contains(out, []byte("kind: DeviceClass")) {
		c.DRAReason = fmt.Sprintf("%s has no DRA support: `gpushare dra-classes` gave %v, %q", c.Opts.GpushareBin, err, firstLine(out))
		c.logf("WARNING: %s; gpushare runs without dra.enabled and no DeviceClasses are installed", c.DRAReason)
		return nil
	}
	dir := filepath.Join(c.Opts.RepoRoot, "manifests", DRAOverlay)
	if _, err := os.Stat(filepath.Join(dir, "kustomization.yaml")); err != nil {
		return fmt.Errorf("gpushare has `dra-classes` but manifests/%s/kustomization.yaml is missing: %w", DRAOverlay, err)
	}
	if err := c.installRBAC(ctx, DRAOverlay); err != nil {
		return err
	}
	c.DRA = true
	c.logf("DRA: gpushare has dra-classes; RBAC of manifests/%s installed, dra.enabled on", DRAOverlay)
	return nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// installDeviceClasses creates (or replaces) the DeviceClasses manifests/overlays/dra renders, as kubectl apply -k
// would. They must exist before kube-scheduler starts, or its first pods would not see the mapping.
func (c *Cluster) installDeviceClasses(ctx context.Context) error {
	if !c.DRA {
		return nil
	}
	docs, err := Kustomize(filepath.Join(c.Opts.RepoRoot, "manifests", DRAOverlay))
	if err != nil {
		return err
	}
	ri := c.Dynamic.Resource(deviceClassGVR)
	var names []string
	for _, d := range docs {
		if d.Obj.GetKind() != "DeviceClass" {
			continue
		}
		obj := d.Obj.DeepCopy()
		_, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: "gpushare-e2e"})
		if apierrors.IsAlreadyExists(err) {
			live, gerr := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			obj.SetResourceVersion(live.GetResourceVersion())
			_, err = ri.Update(ctx, obj, metav1.UpdateOptions{FieldManager: "gpushare-e2e"})
		}
		if err != nil {
			return fmt.Errorf("DeviceClass %s from manifests/%s: %w", obj.GetName(), DRAOverlay, err)
		}
		names = append(names, obj.GetName())
	}
	if len(names) == 0 {
		return fmt.Errorf("manifests/%s renders no DeviceClass", DRAOverlay)
	}
	c.DeviceClasses = names
	c.logf("DRA: %d DeviceClasses created from manifests/%s", len(names), DRAOverlay)
	return nil
}
