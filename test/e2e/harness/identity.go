package harness

// gpushare runs under a ServiceAccount token bound to exactly the roles manifests/ ship (issue 12, least privilege
// exercised): a verb the code calls and the manifests do not grant fails a test with a 403 instead of being found in
// a customer's cluster, and the base's roles alone are tried by a second gpushare with repartitioning off.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The kinds an RBAC install consists of; everything else the kustomization renders (the Deployment, the webhook
// configuration, ...) is left out: the harness runs gpushare as a process.
var rbacKinds = map[string]schema.GroupVersionResource{
	"Namespace":          {Version: "v1", Resource: "namespaces"},
	"ServiceAccount":     {Version: "v1", Resource: "serviceaccounts"},
	"ClusterRole":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	"ClusterRoleBinding": {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	"Role":               {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	"RoleBinding":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
}

// GpushareServiceAccount is the ServiceAccount manifests/base/serviceaccount.yaml ships.
const GpushareServiceAccount = "gpushare"

// installRBAC creates the namespaces, ServiceAccounts and (Cluster)Roles and bindings that the kustomization in
// manifests/<overlay> renders, for real.
func (c *Cluster) installRBAC(ctx context.Context, overlay string) error {
	docs, err := Kustomize(filepath.Join(c.Opts.RepoRoot, "manifests", overlay))
	if err != nil {
		return err
	}
	for _, kind := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		for _, d := range docs {
			if d.Obj.GetKind() != kind {
				continue
			}
			obj := d.Obj.DeepCopy()
			ri := c.Dynamic.Resource(rbacKinds[kind])
			var cerr error
			if ns := obj.GetNamespace(); ns != "" {
				_, cerr = ri.Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
			} else {
				_, cerr = ri.Create(ctx, obj, metav1.CreateOptions{})
			}
			if apierrors.IsAlreadyExists(cerr) {
				// Installed by another overlay (they share the base): fine when it is the same; a role or binding
				// that two overlays render differently would be overwritten by whichever a user applies last.
				if err := c.sameAsLive(ctx, obj); err != nil {
					return fmt.Errorf("%s %s/%s from manifests/%s: %w", kind, obj.GetNamespace(), obj.GetName(), overlay, err)
				}
				continue
			}
			if cerr != nil {
				return fmt.Errorf("%s %s/%s from manifests/%s: %w", kind, obj.GetNamespace(), obj.GetName(), overlay, cerr)
			}
		}
	}
	return nil
}

// sameAsLive checks that an RBAC object that exists already grants what obj says: same rules (roles), same
// roleRef and subjects (bindings). Namespaces and ServiceAccounts are taken as they are.
func (c *Cluster) sameAsLive(ctx context.Context, obj *unstructured.Unstructured) error {
	var fields []string
	switch obj.GetKind() {
	case "ClusterRole", "Role":
		fields = []string{"rules", "aggregationRule"}
	case "ClusterRoleBinding", "RoleBinding":
		fields = []string{"roleRef", "subjects"}
	default:
		return nil
	}
	ri := c.Dynamic.Resource(rbacKinds[obj.GetKind()])
	var live *unstructured.Unstructured
	var err error
	if ns := obj.GetNamespace(); ns != "" {
		live, err = ri.Namespace(ns).Get(ctx, obj.GetName(), metav1.GetOptions{})
	} else {
		live, err = ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	for _, f := range fields {
		// Through the typed structs' JSON, so that defaulted and omitted empty fields compare equal.
		a, b := normalizeRBAC(obj.Object[f], f), normalizeRBAC(live.Object[f], f)
		if a != b {
			return fmt.Errorf("exists already with a different %s (another overlay renders it differently; applying both "+
				"would keep only one):\n  live: %s\n  this: %s", f, b, a)
		}
	}
	return nil
}

func normalizeRBAC(v any, field string) string {
	raw, _ := json.Marshal(v)
	var out any
	switch field {
	case "rules":
		var r []rbacv1.PolicyRule
		_ = json.Unmarshal(raw, &r)
		out = r
	case "aggregationRule":
		var r *rbacv1.AggregationRule
		_ = json.Unmarshal(raw, &r)
		out = r
	case "roleRef":
		var r rbacv1.RoleRef
		_ = json.Unmarshal(raw, &r)
		out = r
	case "subjects":
		var r []rbacv1.Subject
		_ = json.Unmarshal(raw, &r)
		out = r
	}
	b, _ := json.Marshal(out)
	if string(b) == "[]" {
		return "null"
	}
	return string(b)
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as ServiceAccount namespace/name with a bound token
// (TokenRequest, valid for a day: longer than any run) and returns its path.
func (c *Cluster) serviceAccountKubeconfig(ctx context.Context, namespace, name string) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := c.Client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil &&
		!apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("ServiceAccount %s/%s: %w", namespace, name, err)
	}
	day := int64(24 * 3600)
	tr, err := c.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &day}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["e2e"] = &clientcmdapi.Cluster{Server: c.ServerURL, CertificateAuthorityData: c.pkiCA}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kc.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: name, Namespace: namespace}
	kc.CurrentContext = "e2e"
	path := filepath.Join(c.Dir, namespace+"-"+name+".kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return "", err
	}
	return path, nil
}

// BaseOnlyKubeconfig gives a ServiceAccount of its own, in namespace, the base ClusterRole "gpushare" (what the
// webhook and extender need, repartitioning off) and nothing else, and returns a kubeconfig for it.
func (c *Cluster) BaseOnlyKubeconfig(ctx context.Context, namespace, name string) (string, error) {
	if err := c.installRBAC(ctx, "base"); err != nil {
		return "", err
	}
	binding := map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": "e2e-base-only-" + name},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "gpushare"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": name, "namespace": namespace}},
	}
	obj, err := runtimeToUnstructured(binding)
	if err != nil {
		return "", err
	}
	if _, err := c.Dynamic.Resource(rbacKinds["ClusterRoleBinding"]).Create(ctx, obj, metav1.CreateOptions{}); err != nil &&
		!apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("binding for %s/%s: %w", namespace, name, err)
	}
	return c.serviceAccountKubeconfig(ctx, namespace, name)
}

// CreateRBAC creates the ServiceAccounts, roles and bindings among docs (other kinds are left out); objects that
// exist already are kept.
func (c *Cluster) CreateRBAC(ctx context.Context, docs []Doc) error {
	for _, d := range docs {
		gvr, ok := rbacKinds[d.Obj.GetKind()]
		if !ok {
			continue
		}
		obj := d.Obj.DeepCopy()
		obj.SetAnnotations(nil)
		var err error
		if ns := obj.GetNamespace(); ns != "" {
			_, err = c.Dynamic.Resource(gvr).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
		} else {
			_, err = c.Dynamic.Resource(gvr).Create(ctx, obj, metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s %s from %s: %w", d.Obj.GetKind(), obj.GetName(), d.File, err)
		}
	}
	return nil
}
