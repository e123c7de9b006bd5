package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// FaultKind is what the fault proxy does to a request it picks (FaultProxy.Set).
type FaultKind string

const (
	FaultNone        FaultKind = ""
	FaultServerError FaultKind = "503"      // a 503 Status, as an overloaded or restarting kube-apiserver sends
	FaultTooMany     FaultKind = "429"      // a 429 Status with Retry-After: 1 (API priority and fairness)
	FaultDrop        FaultKind = "drop"     // the connection is closed without an answer
	FaultHang        FaultKind = "hang"     // no answer until the request's own timeout, or FaultProxy.Release, or HangFor
	FaultCutWatch    FaultKind = "cutwatch" // a watch stream is cut after its first event (mid-stream)
	FaultGone        FaultKind = "gone"     // a watch answers an ERROR event 410 Gone (history compacted)
)

// Fault says which requests the proxy spoils: the first one after Set, then one in Every (1: all; picked at random,
// so that the pick does not fall into step with periodic requests such as Lease renewals) of those Match accepts
// (nil: all).
type Fault struct {
	Kind    FaultKind
	Every   int
	Match   func(r *http.Request) bool
	HangFor time.Duration // FaultHang: then the connection is dropped (0: until the request ends or Release)
}

// FaultProxy stands between a gpushare and kube-apiserver (issue 12, item 5): it forwards every request, streaming
// watches as they come, and spoils the ones the current Fault picks. It serves TLS with kube-apiserver's own
// certificate, so a kubeconfig only changes its server URL (KubeconfigVia).
type FaultProxy struct {
	URL      string
	server   *http.Server
	listener net.Listener
	proxy    *httputil.ReverseProxy

	mu       sync.Mutex
	fault    Fault
	rng      *rand.Rand
	injected map[FaultKind]int // faults injected, by kind
	sinceSet int               // faults injected since the last Set
	release  chan struct{}
	watches  map[*http.Request]context.CancelFunc // watch streams open through the proxy
}

// StartFaultProxy starts a proxy to this cluster's kube-apiserver; Cluster.Stop does not know it: call Close.
func (c *Cluster) StartFaultProxy() (*FaultProxy, error) {
	pkiDir := filepath.Join(c.Dir, "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "apiserver.crt"), filepath.Join(pkiDir, "apiserver.key"))
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(c.ServerURL)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.pkiCA)
	p := &FaultProxy{injected: map[FaultKind]int{}, release: make(chan struct{}),
		rng: rand.New(rand.NewPCG(1, 2)), watches: map[*http.Request]context.CancelFunc{}}
	p.proxy = httputil.NewSingleHostReverseProxy(target)
	p.proxy.FlushInterval = -1 // watch events pass through as they come
	p.proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: false,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	p.proxy.ErrorLog = nil
	if p.listener, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
		NextProtos: []string{"http/1.1"}}); err != nil {
		return nil, err
	}
	p.URL = "https://" + p.listener.Addr().String()
	p.server = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(p.listener) }()
	c.logf("fault proxy %s -> %s", p.URL, c.ServerURL)
	return p, nil
}

// Set makes f the current fault (FaultNone: forward everything) and releases requests hung by the previous one. A
// fault aimed at watches also ends the watch streams open now, so that the clients' next watches meet it.
func (p *FaultProxy) Set(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Every < 1 {
		f.Every = 1
	}
	p.fault, p.sinceSet = f, 0
	close(p.release)
	p.release = make(chan struct{})
	if f.Kind == FaultCutWatch || f.Kind == FaultGone {
		for _, cancel := range p.watches {
			cancel()
		}
	}
}

// Injected is how many faults of kind the proxy has injected so far.
func (p *FaultProxy) Injected(kind FaultKind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected[kind]
}

// Close stops the proxy and every request in it.
func (p *FaultProxy) Close() {
	p.Set(Fault{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = p.server.Shutdown(ctx)
	_ = p.server.Close()
}

func isWatch(r *http.Request) bool {
	w := r.URL.Query().Get("watch")
	return w == "1" || w == "true"
}

// pick decides, under the lock, whether this request gets the current fault.
func (p *FaultProxy) pick(r *http.Request) (Fault, chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fault
	if f.Kind == FaultNone || (f.Match != nil && !f.Match(r)) {
		return f, nil, false
	}
	if (f.Kind == FaultCutWatch || f.Kind == FaultGone) && !isWatch(r) {
		return f, nil, false
	}
	if p.sinceSet > 0 && p.rng.IntN(f.Every) != 0 {
		return f, nil, false
	}
	p.sinceSet++
	p.injected[f.Kind]++
	return f, p.release, true
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	f, release, spoil := p.pick(r)
	if isWatch(r) {
		ctx, cancel := context.WithCancel(r.Context())
		r = r.WithContext(ctx)
		p.mu.Lock()
		p.watches[r] = cancel
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.watches, r)
			p.mu.Unlock()
			cancel()
		}()
	}
	if !spoil {
		p.proxy.ServeHTTP(w, r)
		return
	}
	status := func(code int, reason, message string) {
		w.Header().Set("Content-Type", "application/json")
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":%q,"code":%d}`,
			message, reason, code)
	}
	switch f.Kind {
	case FaultServerError:
		status(http.StatusServiceUnavailable, "ServiceUnavailable", "fault proxy: service unavailable")
	case FaultTooMany:
		status(http.StatusTooManyRequests, "TooManyRequests", "fault proxy: too many requests")
	case FaultDrop:
		drop(w)
	case FaultHang:
		var timer <-chan time.Time
		if f.HangFor > 0 {
			timer = time.After(f.HangFor)
		}
		select {
		case <-r.Context().Done():
		case <-release:
		case <-timer:
		}
		drop(w)
	case FaultGone:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",`+
			`"message":"fault proxy: too old resource version","reason":"Expired","code":410}}`+"\n")
	case FaultCutWatch:
		p.proxy.ServeHTTP(&cutAfterFirstEvent{ResponseWriter: w}, r)
	}
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// cutAfterFirstEvent passes a watch stream through up to its first event and half of what follows it, then aborts
// the connection: the client sees the stream end in the middle of an event, as when a load balancer or
// kube-apiserver goes away.
type cutAfterFirstEvent struct {
	http.ResponseWriter
	done bool
}

func (c *cutAfterFirstEvent) Write(b []byte) (int, error) {
	if c.done {
		panic(http.ErrAbortHandler)
	}
	if i := strings.IndexByte(string(b), '\n'); i >= 0 {
		cut := i + 1 + (len(b)-i-1)/2
		n, err := c.ResponseWriter.Write(b[:cut])
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		c.done = true
		if err != nil {
			return n, err
		}
		panic(http.ErrAbortHandler)
	}
	return c.ResponseWriter.Write(b)
}

func (c *cutAfterFirstEvent) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// KubeconfigVia writes a copy of kubeconfig whose clusters point at serverURL (a FaultProxy's) and returns its path.
func (c *Cluster) KubeconfigVia(kubeconfig, serverURL string) (string, error) {
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return "", err
	}
	for _, cl := range kc.Clusters {
		cl.Server = serverURL
	}
	path := strings.TrimSuffix(kubeconfig, ".kubeconfig") + "-via-" + strings.NewReplacer(":", "-", "/", "").Replace(
		strings.TrimPrefix(serverURL, "https://")) + ".kubeconfig"
	return path, clientcmd.WriteToFile(*kc, path)
}

// RestartGpushareVia restarts the first gpushare with its API server traffic through serverURL ("": directly).
func (c *Cluster) RestartGpushareVia(ctx context.Context, serverURL string) error {
	c.StopGpushare()
	kubeconfig := c.gpushareKubeconfig
	if serverURL != "" {
		var err error
		if kubeconfig, err = c.KubeconfigVia(c.gpushareKubeconfig, serverURL); err != nil {
			return err
		}
	}
	cfg, err := c.writeGpushareConfig("gpushare", c.ports["gpushare"], kubeconfig, true, c.DRA)
	if err != nil {
		return err
	}
	c.gpushareConfig = cfg
	return c.StartGpushare(ctx)
}
