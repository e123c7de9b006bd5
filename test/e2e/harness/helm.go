package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// HelmBin is the helm CLI build-helm.sh built (run.sh exports E2E_HELM); "" when there is none.
func HelmBin() string { return os.Getenv("E2E_HELM") }

// Helm runs the helm CLI with args and returns its stdout; an error carries stderr.
func Helm(args ...string) (string, error) {
	bin := HelmBin()
	if bin == "" {
		return "", fmt.Errorf("E2E_HELM is not set (run the suite with test/e2e/run.sh)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(os.TempDir(), "e2e-helm-cache"),
		"HELM_CONFIG_HOME="+filepath.Join(os.TempDir(), "e2e-helm-config"),
		"HELM_DATA_HOME="+filepath.Join(os.TempDir(), "e2e-helm-data"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("helm %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// ParseDocs splits multi-document YAML into objects (documents without kind are left out).
func ParseDocs(text, source string) ([]Doc, error) {
	var docs []Doc
	for _, part := range strings.Split(text, "\n---") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(part), &m); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if m == nil || m["kind"] == nil {
			continue
		}
		docs = append(docs, Doc{File: source, Obj: &unstructured.Unstructured{Object: m}})
	}
	return docs, nil
}

// ReservePort picks a free port for a process called name (started later with StartGpushareWithConfig).
func (c *Cluster) ReservePort(name string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.allocatePorts(name); err != nil {
		return 0, err
	}
	return c.ports[name], nil
}

// ServiceAccountKubeconfig returns a kubeconfig that authenticates as ServiceAccount namespace/name (created when
// missing) with a bound token.
func (c *Cluster) ServiceAccountKubeconfig(ctx context.Context, namespace, name string) (string, error) {
	return c.serviceAccountKubeconfig(ctx, namespace, name)
}

// StartGpushareWithConfig starts `gpushare serve` called name with an installed config (e.g. the chart's
// ConfigMap), changed only where a process outside the cluster must differ: it listens on 127.0.0.1:port with the
// harness's serving certificate and reaches the API server through kubeconfig. It waits for /readyz and returns
// the base URL. Cluster.Stop stops it.
func (c *Cluster) StartGpushareWithConfig(ctx context.Context, name string, port int, configYAML, kubeconfig string) (string, error) {
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(configYAML), &cfg); err != nil {
		return "", fmt.Errorf("config of %s: %w", name, err)
	}
	cfg["listen"] = fmt.Sprintf("127.0.0.1:%d", port)
	tls, _ := cfg["tls"].(map[string]any)
	if tls == nil {
		tls = map[string]any{}
	}
	tls["certFile"] = filepath.Join(c.gpushareCertDir, "tls.crt")
	tls["keyFile"] = filepath.Join(c.gpushareCertDir, "tls.key")
	cfg["tls"] = tls
	cfg["cluster"] = map[string]any{"kubeconfig": kubeconfig}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.Dir, name+".yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", err
	}
	_ = os.WriteFile(filepath.Join(c.LogDir, name+".yaml"), b, 0o644)
	return c.launchGpushare(ctx, name, port, path)
}
