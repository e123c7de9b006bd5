package e2e

// Least privilege, exercised (issue 12): the main gpushare of every test runs as the ServiceAccount of
// manifests/overlays/allow-disruption (base + repartition + eviction roles, harness/identity.go), so any scenario
// whose API call the shipped roles do not allow fails; this file adds the other half, the base roles alone with
// repartitioning off; TestMain fails the run if any gpushare process logged a refusal (403 Forbidden).

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"gpushare.test/e2e/harness"
)

// TestBaseRolesServeWithRepartitioningOff: a gpushare bound to nothing but the base ClusterRole (nodes and pods: list,
// watch) becomes ready (its cache lists and watches), answers admission and the extender from that cache, and is
// never refused by the API server.
func TestBaseRolesServeWithRepartitioningOff(t *testing.T) {
	requireExtender(t)
	ctx := ctxFor(t, 90*time.Second)
	kubeconfig, err := cluster.BaseOnlyKubeconfig(ctx, harness.LeaseNamespace, "gpushare-base-only")
	if err != nil {
		t.Fatal(err)
	}
	url, err := cluster.StartGpushareAs(ctx, "gpushare-base", kubeconfig, false)
	if err != nil {
		t.Fatalf("gpushare with the base roles only did not become ready: %v", err)
	}
	t.Cleanup(func() { cluster.StopGpushareReplica("gpushare-base") })

	// The extender judges e2e-h100 from the cache: it offers nvidia.com/mig-1g.10gb, so it is not "unknown".
	pod := newPod("base-only", withAnnotations(annProfile, "1g.10gb"), withLimits("nvidia.com/mig-1g.10gb", "1"))
	pod.Namespace = "default"
	args, _ := json.Marshal(map[string]any{"Pod": pod, "NodeNames": []string{"e2e-h100"}, "Nodes": nil})
	code, body, err := cluster.PostGpushareAt(url, "/filter", args)
	if err != nil || code != 200 {
		t.Fatalf("POST /filter: %d %s %v", code, body, err)
	}
	if strings.Contains(string(body), "not in gpushare's node cache") {
		t.Errorf("POST /filter answered %s: the base roles did not let the cache see the nodes", body)
	}
	// Admission reads the cluster's facts from the same cache (an MPS pod: the cluster has an MPS node).
	review := admissionReview(t, "default", newPod("base-only-mps", withAnnotations(annMode, "mps"), withLimits("nvidia.com/gpu", "1")))
	code, body, err = cluster.PostGpushareAt(url, "/mutate", review)
	if err != nil || code != 200 || !strings.Contains(string(body), `"allowed":true`) {
		t.Fatalf("POST /mutate: %d %s %v", code, body, err)
	}
	time.Sleep(2 * time.Second) // a watch that is refused retries within this
	expectNeverForbidden(t, "gpushare-base")
}

// expectNeverForbidden fails the test if the gpushare process called name logged an API refusal (403 Forbidden).
func expectNeverForbidden(t *testing.T, name string) {
	t.Helper()
	if lines := forbiddenLines(cluster.GpushareLog(name)); len(lines) > 0 {
		t.Errorf("%s was refused by the API server (a verb the shipped RBAC does not grant):\n%s", name,
			strings.Join(lines, "\n"))
	}
}

func forbiddenLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, "forbidden") || strings.Contains(l, "http 403") || strings.Contains(l, "status 403") {
			out = append(out, line)
		}
	}
	return out
}
