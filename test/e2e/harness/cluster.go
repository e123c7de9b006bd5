// Package harness runs a real control plane on 127.0.0.1 for the e2e tests: etcd, kube-apiserver, gpushare
// (webhook + scheduler extender) with its MutatingWebhookConfiguration, kube-scheduler with the extender, and the
// simulated GPU nodes of package nodeagent. Every component logs into one folder (Cluster.LogDir).
package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"gpushare.test/e2e/nodeagent"
)

// Options says what to run. Zero values take the defaults of FromEnv.
type Options struct {
	RepoRoot    string          // the gpushare checkout
	BinDir      string          // etcd, kube-apiserver, kube-scheduler
	GpushareBin string          // build/gpushare; "" or missing: run without gpushare (no webhook, no extender)
	LogDir      string          // where every component logs; created
	Nodes       *nodeagent.Spec // simulated GPU nodes; nil: none
	// Extender: "auto" (use it when gpushare answers POST /filter), "on", "off".
	Extender string
	// GpushareLogLevel is gpushare's log.level: "debug" unless set (some tests read its debug lines); the
	// scheduler benchmark runs at "info", the level a cluster runs at, since debug logs every extender call.
	GpushareLogLevel string
	// SchedulerPprof lets anonymous GETs read kube-scheduler's /debug/pprof (SchedulerProfile): the
	// scheduler benchmark's E2E_BENCH_PPROF.
	SchedulerPprof bool
}

// Cluster is a running control plane.
type Cluster struct {
	Opts       Options
	Dir        string // data (temporary, removed by Stop)
	LogDir     string
	Token      string
	ServerURL  string
	Kubeconfig string
	Rest       *rest.Config
	Client     kubernetes.Interface
	Dynamic    dynamic.Interface
	Catalog    *nodeagent.Catalog
	Agent      *nodeagent.Agent

	GpushareURL     string // https://127.0.0.1:PORT, "" without gpushare
	GpushareCA      []byte // PEM of the CA that signed gpushare's serving certificate
	MTLS            *MTLS  // the control plane's client certificates (mtls.go)
	CABundle        string // base64 caBundle as `gpushare certs` printed it
	ExtenderEnabled bool
	SchedulerName   string // the profile pods should name ("default-scheduler" unless the manifests say otherwise)
	WebhookConfig   string // name of the MutatingWebhookConfiguration installed
	WebhookSource   string // the manifest file it came from, or "generated"
	SchedulerSource string // the manifest file the scheduler config came from, or "generated"
	// DRA: gpushare has the DRA side (dra.go): it runs with dra.enabled, bound to manifests/overlays/dra's roles
	// too, and that overlay's DeviceClasses (DeviceClasses, by name) exist. DRAReason says why not otherwise.
	DRA            bool
	DRAReason      string
	DeviceClasses  []string
	gpushareConfig string
	// A ServiceAccount token bound to the roles manifests/overlays/allow-disruption renders (base + repartition +
	// eviction), never the admin's: see identity.go.
	gpushareKubeconfig string
	gpushareCertDir    string
	replicas           []string // extra gpushare processes (StartGpushareReplica), by process name
	ports              map[string]int
	mu                 sync.Mutex
	procs              map[string]*Process
	agentCancel        context.CancelFunc
	logf               func(string, ...any)
	harnessLog         *os.File
	gpushareHTTP       *http.Client
	pkiCA              []byte
	schedulerConfig    string
	schedulerCertDir   string
	extenderTarget     *extenderTarget // set by RestartSchedulerWithExtenderAt, cleared by RestartScheduler
}

// FromEnv fills Options from the environment: E2E_REPO_ROOT (default: two folders above this package's module),
// E2E_BIN_DIR (default: run test/e2e/build.sh), GPUSHARE_BIN (default build/gpushare), E2E_LOG_DIR (default
// build/e2e-logs/run-<time>), E2E_EXTENDER (auto|on|off), E2E_GPUSHARE_LOG_LEVEL (default debug),
// E2E_BENCH_PPROF (non-empty: SchedulerPprof).
func FromEnv() (Options, error) {
	o := Options{RepoRoot: os.Getenv("E2E_REPO_ROOT"), BinDir: os.Getenv("E2E_BIN_DIR"), GpushareBin: os.Getenv("GPUSHARE_BIN"),
		LogDir: os.Getenv("E2E_LOG_DIR"), Extender: os.Getenv("E2E_EXTENDER"),
		GpushareLogLevel: os.Getenv("E2E_GPUSHARE_LOG_LEVEL"), SchedulerPprof: os.Getenv("E2E_BENCH_PPROF") != ""}
	if o.RepoRoot == "" {
		wd, err := os.Getwd()
		if err != nil {
			return o, err
		}
		for d := wd; d != "/"; d = filepath.Dir(d) { // the folder holding test/e2e/go.mod
			if _, err := os.Stat(filepath.Join(d, "test", "e2e", "go.mod")); err == nil {
				o.RepoRoot = d
				break
			}
		}
		if o.RepoRoot == "" {
			return o, fmt.Errorf("cannot find the repository root above %s; set E2E_REPO_ROOT", wd)
		}
	}
	if o.GpushareBin == "" {
		o.GpushareBin = filepath.Join(o.RepoRoot, "build", "gpushare")
	} else if !filepath.IsAbs(o.GpushareBin) {
		o.GpushareBin = filepath.Join(o.RepoRoot, o.GpushareBin)
	}
	if o.BinDir == "" {
		cmd := exec.Command(filepath.Join(o.RepoRoot, "test", "e2e", "build.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return o, fmt.Errorf("test/e2e/build.sh: %w", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		o.BinDir = lines[len(lines)-1]
	}
	if o.LogDir == "" {
		o.LogDir = filepath.Join(o.RepoRoot, "build", "e2e-logs", time.Now().Format("run-20060102-150405")+"-"+strconv.Itoa(os.Getpid()))
	}
	if o.Extender == "" {
		o.Extender = "auto"
	}
	return o, nil
}

// GpushareAvailable reports whether the gpushare binary exists and has the serve subcommand.
func GpushareAvailable(bin string) (bool, string) {
	if _, err := os.Stat(bin); err != nil {
		return false, fmt.Sprintf("%s: %v", bin, err)
	}
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	if !bytes.Contains(out, []byte("serve")) || !bytes.Contains(out, []byte("certs")) {
		return false, fmt.Sprintf("%s --help lists no serve/certs subcommand:\n%s", bin, out)
	}
	return true, ""
}

// Start brings the cluster up; on error it stops what it started (the logs stay).
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	os.Setenv("NO_PROXY", "127.0.0.1,localhost")
	os.Setenv("no_proxy", "127.0.0.1,localhost")
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		return nil, err
	}
	// etcd on tmpfs is fast; but container /dev/shm is often 64 MiB, less than etcd's preallocated WAL.
	base := os.TempDir()
	var fs syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &fs); err == nil && uint64(fs.Bavail)*uint64(fs.Bsize) >= 2<<30 {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "gpushare-e2e-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{Opts: o, Dir: dir, LogDir: o.LogDir, procs: map[string]*Process{}, ports: map[string]int{}, SchedulerName: "default-scheduler"}
	c.harnessLog, _ = os.Create(filepath.Join(o.LogDir, "harness.log"))
	c.logf = func(format string, args ...any) {
		line := fmt.Sprintf("%s harness: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		c.harnessLog.WriteString(line)
		os.Stderr.WriteString(line)
	}
	c.logf("logs in %s, data in %s", c.LogDir, c.Dir)
	defer func() {
		if err != nil {
			c.logf("start failed: %v", err)
			c.Stop()
		}
	}()
	if c.Catalog, err = nodeagent.LoadCatalog(filepath.Join(o.RepoRoot, "policy", "catalog_default.yaml")); err != nil {
		return c, err
	}
	if err := c.allocatePorts("etcd", "etcd-peer", "apiserver", "gpushare", "scheduler", "gpushare-mtls"); err != nil {
		return c, err
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"etcd", c.startEtcd},
		{"kube-apiserver", c.startAPIServer},
		// The nodes (and the GPU Operator's ConfigMaps) exist before gpushare starts, so that its /readyz (cache
		// synced) means it knows them.
		{"node agent", c.startAgent},
		{"gpushare", c.startGpushareFirst},
		{"DRA DeviceClasses", c.installDeviceClasses},
		{"webhook", c.installWebhook},
		{"kube-scheduler", c.startScheduler},
	}
	for _, s := range steps {
		t0 := time.Now()
		if err := s.fn(ctx); err != nil {
			return c, fmt.Errorf("%s: %w", s.name, err)
		}
		c.logf("%s ready in %s", s.name, time.Since(t0).Round(time.Millisecond))
	}
	return c, nil
}

// Stop tears everything down, newest first, by process group. The log folder stays; the data folder goes.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	if c.agentCancel != nil {
		c.agentCancel()
	}
	c.mu.Lock()
	names := append(append([]string{"kube-scheduler"}, c.replicas...), "gpushare", "kube-apiserver", "etcd")
	c.mu.Unlock()
	for _, name := range names {
		c.mu.Lock()
		p := c.procs[name]
		c.mu.Unlock()
		p.Stop(15 * time.Second)
	}
	if c.Dir != "" && os.Getenv("E2E_KEEP_DATA") == "" {
		os.RemoveAll(c.Dir)
	}
	if c.logf != nil {
		c.logf("stopped; logs in %s", c.LogDir)
	}
}

func (c *Cluster) allocatePorts(names ...string) error {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, n := range names {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ls = append(ls, l)
		c.ports[n] = l.Addr().(*net.TCPAddr).Port
	}
	return nil
}

func (c *Cluster) start(name string, bin string, args ...string) (*Process, error) {
	p, err := startProcess(name, filepath.Join(c.LogDir, name+".log"), []string{"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"}, bin, args...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.procs[name] = p
	c.mu.Unlock()
	c.logf("%s started, pid %d, log %s", name, p.Pid(), p.LogPath)
	return p, nil
}

// waitFor polls check until it returns nil, the process exits, or timeout.
func (c *Cluster) waitFor(ctx context.Context, what string, p *Process, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if p != nil {
			if done, perr := p.Exited(); done {
				return fmt.Errorf("%s: process exited (%v) before it was ready; log %s:\n%s", what, perr, p.LogPath, Tail(p.LogPath, 30))
			}
		}
		if last = check(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not ready after %s: %v", what, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func httpGetOK(client *http.Client, url, token string) error {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// ---- etcd ----------------------------------------------------------------------------------------------------------

func (c *Cluster) etcdURL() string { return fmt.Sprintf("http://127.0.0.1:%d", c.ports["etcd"]) }

func (c *Cluster) startEtcd(ctx context.Context) error {
	peer := fmt.Sprintf("http://127.0.0.1:%d", c.ports["etcd-peer"])
	p, err := c.start("etcd", filepath.Join(c.Opts.BinDir, "etcd"),
		"--name=e2e", "--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+c.etcdURL(), "--advertise-client-urls="+c.etcdURL(),
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer, "--initial-cluster=e2e="+peer,
		"--unsafe-no-fsync=true", "--log-level=warn", "--quota-backend-bytes=2147483648")
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	return c.waitFor(ctx, "etcd /health", p, 60*time.Second, func() error { return httpGetOK(hc, c.etcdURL()+"/health", "") })
}

// ---- kube-apiserver --------------------------------------------------------------------------------------------------

func (c *Cluster) startAPIServer(ctx context.Context) error {
	pkiDir := filepath.Join(c.Dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return err
	}
	p, err := makePKI(pkiDir)
	if err != nil {
		return err
	}
	c.Token, c.pkiCA = p.token, p.caPEM
	if c.MTLS, err = makeMTLS(pkiDir, c.ports["gpushare-mtls"]); err != nil {
		return err
	}
	port := c.ports["apiserver"]
	c.ServerURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	proc, err := c.start("kube-apiserver", filepath.Join(c.Opts.BinDir, "kube-apiserver"),
		"--etcd-servers="+c.etcdURL(), "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--advertise-address=127.0.0.1", "--cert-dir="+pkiDir,
		"--tls-cert-file="+filepath.Join(pkiDir, "apiserver.crt"), "--tls-private-key-file="+filepath.Join(pkiDir, "apiserver.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer="+c.ServerURL, "--service-account-key-file="+filepath.Join(pkiDir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(pkiDir, "sa.key"),
		"--token-auth-file="+filepath.Join(pkiDir, "tokens.csv"),
		"--authorization-mode=RBAC", "--disable-admission-plugins=ServiceAccount",
		"--endpoint-reconciler-type=none", "--allow-privileged=true", "--profiling=false", "--v=1",
		"--admission-control-config-file="+c.MTLS.admissionFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.pkiCA)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := c.waitFor(ctx, "kube-apiserver /readyz", proc, 120*time.Second, func() error {
		return httpGetOK(hc, c.ServerURL+"/readyz", c.Token)
	}); err != nil {
		return err
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["e2e"] = &clientcmdapi.Cluster{Server: c.ServerURL, CertificateAuthorityData: c.pkiCA}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: c.Token}
	kc.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "admin", Namespace: "default"}
	kc.CurrentContext = "e2e"
	c.Kubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, c.Kubeconfig); err != nil {
		return err
	}
	// A copy next to the logs, for poking at a failed run by hand while it is still up.
	_ = clientcmd.WriteToFile(*kc, filepath.Join(c.LogDir, "admin.kubeconfig"))
	c.Rest = &rest.Config{Host: c.ServerURL, BearerToken: c.Token, TLSClientConfig: rest.TLSClientConfig{CAData: c.pkiCA}, QPS: 100, Burst: 200}
	if c.Client, err = kubernetes.NewForConfig(c.Rest); err != nil {
		return err
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Rest); err != nil {
		return err
	}
	return nil
}

// ---- gpushare --------------------------------------------------------------------------------------------------------

// HasGpushare reports whether gpushare runs in this cluster.
func (c *Cluster) HasGpushare() bool { return c.GpushareURL != "" }

func (c *Cluster) startGpushareFirst(ctx context.Context) error {
	if ok, why := GpushareAvailable(c.Opts.GpushareBin); !ok {
		if os.Getenv("E2E_REQUIRE_GPUSHARE") != "" {
			return fmt.Errorf("E2E_REQUIRE_GPUSHARE is set and gpushare is not usable: %s", why)
		}
		c.logf("WARNING: running WITHOUT gpushare (webhook and extender tests will skip): %s", why)
		return nil
	}
	c.gpushareCertDir = filepath.Join(c.Dir, "gpushare-certs")
	out, err := exec.Command(c.Opts.GpushareBin, "certs", "--service", "gpushare", "--namespace", "gpushare-system",
		"--out", c.gpushareCertDir, "--ip", "127.0.0.1").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("gpushare certs: %v: %s", err, ee.Stderr)
		}
		return fmt.Errorf("gpushare certs: %w", err)
	}
	c.CABundle = strings.TrimSpace(string(out))
	ca, err := base64.StdEncoding.DecodeString(c.CABundle)
	if err != nil || !bytes.Contains(ca, []byte("BEGIN CERTIFICATE")) {
		return fmt.Errorf("gpushare certs printed %q, not a base64 PEM caBundle (%v)", c.CABundle, err)
	}
	c.GpushareCA = ca
	// The repartitioner's Lease lives in this namespace; without it the Lease cannot be created and no replica leads.
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: LeaseNamespace}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", LeaseNamespace, err)
	}
	// The e2e config turns repartitioning and allowDisruption on: the overlay that ships their permissions.
	if err := c.installRBAC(ctx, filepath.Join("overlays", "allow-disruption")); err != nil {
		return err
	}
	// With the DRA side, the same account is bound to the DRA overlay's roles too (dra.go).
	if err := c.setupDRA(ctx); err != nil {
		return err
	}
	if c.gpushareKubeconfig, err = c.serviceAccountKubeconfig(ctx, LeaseNamespace, GpushareServiceAccount); err != nil {
		return err
	}
	if c.gpushareConfig, err = c.writeGpushareConfig("gpushare", c.ports["gpushare"], c.gpushareKubeconfig, true, c.DRA); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	// The harness's certificate is presented only to a gpushare that asks for one (the mTLS replica).
	c.gpushareHTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{c.MTLS.harnessClient}}}}
	c.GpushareURL = fmt.Sprintf("https://127.0.0.1:%d", c.ports["gpushare"])
	if err := c.StartGpushare(ctx); err != nil {
		return err
	}
	switch c.Opts.Extender {
	case "off":
	case "on":
		c.ExtenderEnabled = true
	default:
		if err := c.probeExtender(); err != nil {
			c.logf("WARNING: gpushare does not serve the extender yet (%v): kube-scheduler runs WITHOUT it; extender tests skip", err)
		} else {
			c.ExtenderEnabled = true
		}
	}
	return nil
}

// Repartitioning as the e2e gpushare config sets it up (see writeGpushareConfig).
const (
	// RepartitionNodeLabel selects the only nodes gpushare may repartition (repartition.nodeSelector): the nodes of
	// testdata/nodes.yaml never carry it, so no test's layout change can touch what other tests rely on.
	RepartitionNodeLabel = "gpushare.io/e2e-repartition"
	LeaseNamespace       = "gpushare-system"
	LeaseName            = "gpushare-repartition" // the config's default repartition.leaseName
	// PropagationDelay is repartition.propagationDelay: longer than testdata/nodes.yaml's configMapDelay (2s), so a
	// label never names a ConfigMap entry the simulated operator cannot see yet. The agent's delay starts when its
	// informer hears of the write, which on a loaded 2-core CI machine (TestRepartitionConcurrentConfigMapWriter's
	// writers rewrite a 500-entry ConfigMap without pause) came more than 1s late: 3s of margin, not 1s.
	PropagationDelay = 5 * time.Second
	// DisruptableAnnotation lets gpushare evict a pod (repartition.allowDisruption is on): pods without it are never
	// disturbed.
	DisruptableAnnotation = "repartition.gpushare.io/disruptable"
	// FailureBackoff is repartition.failureBackoff: longer than any test, so a node that failed stays skipped.
	FailureBackoff = 120 * time.Second
	// EntryGcInterval and EntryGrace are repartition.entryGcInterval and entryGrace: ConfigMap entries gpushare
	// wrote and no node names any more go within seconds of the grace, which is longer than any test's change.
	EntryGcInterval = 2 * time.Second
	EntryGrace      = 60 * time.Second
)

// writeGpushareConfig writes the config of a gpushare process listening on port (every replica has the same one
// but for the port), and a copy next to the logs. kubeconfig is the identity it runs as; dra turns on dra.enabled
// (that identity must be allowed to list and watch resourceslices).
func (c *Cluster) writeGpushareConfig(name string, port int, kubeconfig string, repartition, dra bool) (string, error) {
	logLevel := c.Opts.GpushareLogLevel
	if logLevel == "" {
		logLevel = "debug"
	}
	cfg := fmt.Sprintf(`listen: "127.0.0.1:%d"
tls: {certFile: %s, keyFile: %s}
probes: {listen: "127.0.0.1:0"}
log: {level: %s, format: text}
cluster: {kubeconfig: %s}
gpuOperator: {namespace: gpu-operator, devicePluginConfigMap: device-plugin-config, migPartedConfigMap: custom-mig-parted-config}
scheduling: {defaultPlacement: binpack}
repartition:
  enabled: %t
  allowDisruption: true
  batchWindow: 1s
  propagationDelay: %ds
  applyTimeout: 30s
  failureBackoff: %ds
  entryGcInterval: %ds
  entryGrace: %ds
  leaseNamespace: %s
  leaseName: %s
  nodeSelector: {%q: "true"}
%s`, port, filepath.Join(c.gpushareCertDir, "tls.crt"), filepath.Join(c.gpushareCertDir, "tls.key"), logLevel, kubeconfig,
		repartition, int(PropagationDelay.Seconds()), int(FailureBackoff.Seconds()), int(EntryGcInterval.Seconds()),
		int(EntryGrace.Seconds()), LeaseNamespace, LeaseName, RepartitionNodeLabel, draConfig(dra))
	path := filepath.Join(c.Dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return "", err
	}
	_ = os.WriteFile(filepath.Join(c.LogDir, name+".yaml"), []byte(cfg), 0o644)
	return path, nil
}

// draConfig is the config's dra section (nothing when off: a gpushare without the DRA side rejects the key).
func draConfig(on bool) string {
	if !on {
		return ""
	}
	return "dra: {enabled: true}\n"
}

// StartGpushare (re)starts `gpushare serve` on the cluster's port and waits for /readyz.
func (c *Cluster) StartGpushare(ctx context.Context) error {
	p, err := c.start("gpushare", c.Opts.GpushareBin, "serve", "--config", c.gpushareConfig)
	if err != nil {
		return err
	}
	return c.waitFor(ctx, "gpushare /readyz", p, 60*time.Second, func() error { return httpGetOK(c.gpushareHTTP, c.GpushareURL+"/readyz", "") })
}

// StopGpushare stops gpushare (SIGTERM to its process group).
func (c *Cluster) StopGpushare() {
	c.mu.Lock()
	p := c.procs["gpushare"]
	c.mu.Unlock()
	p.Stop(10 * time.Second)
	c.logf("gpushare stopped")
}

// KillGpushare kills gpushare with SIGKILL: no shutdown path runs, the Lease is left to expire, and whatever the
// repartitioner had started stays as it was in the cluster.
func (c *Cluster) KillGpushare() {
	c.mu.Lock()
	p := c.procs["gpushare"]
	c.mu.Unlock()
	p.Kill()
	c.logf("gpushare killed (SIGKILL)")
}

// GpushareLog is the log file of the gpushare process called name ("gpushare", or a replica's name).
func (c *Cluster) GpushareLog(name string) string { return filepath.Join(c.LogDir, name+".log") }

// StartGpushareReplica starts one more `gpushare serve`, called name, with the same config as the first one on a
// port of its own, and waits for its /readyz. It returns its base URL. It is not registered as the webhook nor as
// the scheduler's extender: it only takes part in the repartitioner's leader election. Cluster.Stop stops it.
func (c *Cluster) StartGpushareReplica(ctx context.Context, name string) (string, error) {
	return c.StartGpushareAs(ctx, name, c.gpushareKubeconfig, true)
}

// StartGpushareAs starts one more `gpushare serve`, called name, running as the identity in kubeconfig, with
// repartitioning on or off, and waits for its /readyz (the cache has listed nodes and pods: the identity may list
// and watch them). It returns its base URL. Stop it with StopGpushareReplica. dra.enabled is on only for the first
// gpushare's identity, the one bound to the DRA overlay's roles (another, e.g. base-only, may not read
// resourceslices).
func (c *Cluster) StartGpushareAs(ctx context.Context, name, kubeconfig string, repartition bool) (string, error) {
	if !c.HasGpushare() {
		return "", fmt.Errorf("no gpushare in this cluster")
	}
	c.mu.Lock()
	err := c.allocatePorts(name)
	port := c.ports[name]
	c.mu.Unlock()
	if err != nil {
		return "", err
	}
	return c.startGpushareProcess(ctx, name, port, kubeconfig, repartition, c.DRA && kubeconfig == c.gpushareKubeconfig)
}

func (c *Cluster) startGpushareProcess(ctx context.Context, name string, port int, kubeconfig string, repartition, dra bool) (string, error) {
	cfg, err := c.writeGpushareConfig(name, port, kubeconfig, repartition, dra)
	if err != nil {
		return "", err
	}
	return c.launchGpushare(ctx, name, port, cfg)
}

// launchGpushare starts `gpushare serve --config cfg` as a replica called name and waits for its /readyz on port.
func (c *Cluster) launchGpushare(ctx context.Context, name string, port int, cfg string) (string, error) {
	p, err := c.start(name, c.Opts.GpushareBin, "serve", "--config", cfg)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.replicas = append(c.replicas, name)
	c.mu.Unlock()
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	return url, c.waitFor(ctx, name+" /readyz", p, 60*time.Second, func() error { return httpGetOK(c.gpushareHTTP, url+"/readyz", "") })
}

// StopGpushareReplica stops a replica started by StartGpushareReplica (SIGTERM to its process group).
func (c *Cluster) StopGpushareReplica(name string) {
	c.mu.Lock()
	p := c.procs[name]
	c.mu.Unlock()
	p.Stop(10 * time.Second)
	c.logf("%s stopped", name)
}

// GetGpushare sends GET path to the gpushare at baseURL ("": the first one) and returns status and body.
func (c *Cluster) GetGpushare(baseURL, path string) (int, []byte, error) {
	if baseURL == "" {
		baseURL = c.GpushareURL
	}
	resp, err := c.gpushareHTTP.Get(baseURL + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// GpushareRunning reports whether the gpushare process is up.
func (c *Cluster) GpushareRunning() bool {
	c.mu.Lock()
	p := c.procs["gpushare"]
	c.mu.Unlock()
	if p == nil {
		return false
	}
	done, _ := p.Exited()
	return !done
}

// PostGpushare sends body to gpushare's path and returns status and body.
func (c *Cluster) PostGpushare(path string, body []byte) (int, []byte, error) {
	return c.PostGpushareAt(c.GpushareURL, path, body)
}

// PostGpushareAt sends POST path to the gpushare at baseURL (a replica's, from StartGpushareAs).
func (c *Cluster) PostGpushareAt(baseURL, path string, body []byte) (int, []byte, error) {
	resp, err := c.gpushareHTTP.Post(baseURL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (c *Cluster) probeExtender() error {
	body := `{"Pod":{"metadata":{"name":"probe","namespace":"default"},"spec":{"containers":[{"name":"c","image":"x"}]}},"Nodes":null,"NodeNames":[]}`
	code, b, err := c.PostGpushare("/filter", []byte(body))
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("POST /filter: %d %s", code, strings.TrimSpace(string(b)))
	}
	return nil
}

// ---- node agent ------------------------------------------------------------------------------------------------------

func (c *Cluster) startAgent(ctx context.Context) error {
	spec := c.Opts.Nodes
	if spec == nil {
		spec = &nodeagent.Spec{}
	}
	f, err := os.Create(filepath.Join(c.LogDir, "nodeagent.log"))
	if err != nil {
		return err
	}
	var mu sync.Mutex
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	actx, cancel := context.WithCancel(context.Background())
	c.agentCancel = cancel
	c.Agent = nodeagent.New(c.Client, spec, c.Catalog, logf)
	return c.Agent.Start(actx)
}

// ---- logs ------------------------------------------------------------------------------------------------------------

// Tail returns the last n lines of a file.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// DumpLogs writes where the logs are and the tail of each.
func (c *Cluster) DumpLogs(w io.Writer, n int) {
	fmt.Fprintf(w, "==== component logs in %s\n", c.LogDir)
	entries, _ := os.ReadDir(c.LogDir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") || e.Name() == "harness.log" {
			continue
		}
		fmt.Fprintf(w, "---- %s (last %d lines)\n%s\n", e.Name(), n, Tail(filepath.Join(c.LogDir, e.Name()), n))
	}
}
