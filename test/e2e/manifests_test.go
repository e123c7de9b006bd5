package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"gpushare.test/e2e/harness"
)

// TestManifestsAcceptedByAPIServer: every object that manifests/ (and every other kustomization below it) renders
// to, with the kustomize library of the pinned release, passes kube-apiserver's validation: create (or update) with
// dryRun=All; namespaces and CRDs are created for real first. Kinds this bare apiserver does not serve (e.g.
// cert-manager's Certificate and Issuer) and documents that are not API objects are skipped and listed.
func TestManifestsAcceptedByAPIServer(t *testing.T) {
	root := filepath.Join(cluster.Opts.RepoRoot, "manifests")
	dirs := []string{root}
	// Every other kustomization (overlays, the second scheduler, ...); base is already in the root's.
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "kustomization.yaml" {
			if dir := filepath.Dir(p); dir != root && dir != filepath.Join(root, "base") {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	for _, dir := range dirs {
		rel, _ := filepath.Rel(cluster.Opts.RepoRoot, dir)
		t.Run(strings.ReplaceAll(rel, "/", "_"), func(t *testing.T) { checkManifests(t, dir) })
	}
}

func checkManifests(t *testing.T, dir string) {
	docs, err := harness.Kustomize(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Skipf("%s renders no Kubernetes objects yet", dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dc, err := discovery.NewDiscoveryClientForConfig(cluster.Rest)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	// Namespaces first, for real (dry-run objects in a namespace that does not exist are refused).
	for _, d := range docs {
		if d.Obj.GetKind() == "Namespace" {
			_, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: d.Obj.GetName()}}, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Errorf("create namespace %s: %v", d.Obj.GetName(), err)
			}
		}
	}
	// CRDs next, for real, so that objects of those kinds can be checked too.
	for _, d := range docs {
		if d.Obj.GetKind() == "CustomResourceDefinition" {
			apply(t, ctx, mapper, d, false)
		}
	}
	mapper.Reset()
	var checked, skipped []string
	for _, d := range docs {
		if ok, why := apply(t, ctx, mapper, d, true); ok {
			checked = append(checked, describe(d))
		} else if why != "" {
			skipped = append(skipped, describe(d)+": "+why)
		}
	}
	t.Logf("accepted (dry run): %d objects:\n  %s", len(checked), strings.Join(checked, "\n  "))
	if len(skipped) > 0 {
		t.Logf("skipped, %d objects:\n  %s", len(skipped), strings.Join(skipped, "\n  "))
	}
}

func describe(d harness.Doc) string {
	n := d.Obj.GetName()
	if d.Obj.GetNamespace() != "" {
		n = d.Obj.GetNamespace() + "/" + n
	}
	return d.Obj.GetKind() + " " + n
}

// apply creates (or updates) one object, dry run or not. It returns false and why when the kind is not served.
func apply(t *testing.T, ctx context.Context, mapper meta.RESTMapper, d harness.Doc, dryRun bool) (bool, string) {
	t.Helper()
	obj := d.Obj.DeepCopy()
	gvk := obj.GroupVersionKind()
	if gvk.Group == "kubescheduler.config.k8s.io" || gvk.Group == "kustomize.config.k8s.io" {
		return false, "not an API object (a component's configuration file)"
	}
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return false, "kind " + gvk.String() + " is not served by this bare kube-apiserver (no such CRD installed)"
		}
		t.Errorf("%s: %v", describe(d), err)
		return false, ""
	}
	var ri dynamic.ResourceInterface
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		obj.SetNamespace(ns)
		ri = cluster.Dynamic.Resource(m.Resource).Namespace(ns)
	} else {
		ri = cluster.Dynamic.Resource(m.Resource)
	}
	var dry []string
	if dryRun {
		dry = []string{metav1.DryRunAll}
	}
	// Create; for an object that exists already (e.g. the webhook configuration the harness installed), a full
	// update, so that the object is checked exactly as written (server-side apply would merge it with the live one).
	_, err = ri.Create(ctx, obj, metav1.CreateOptions{DryRun: dry, FieldManager: "gpushare-e2e"})
	if apierrors.IsAlreadyExists(err) {
		var live *unstructured.Unstructured
		if live, err = ri.Get(ctx, obj.GetName(), metav1.GetOptions{}); err == nil {
			obj.SetResourceVersion(live.GetResourceVersion())
			_, err = ri.Update(ctx, obj, metav1.UpdateOptions{DryRun: dry, FieldManager: "gpushare-e2e"})
		}
	}
	if err != nil {
		t.Errorf("%s refused by kube-apiserver: %v", describe(d), err)
		return false, ""
	}
	return true, ""
}
