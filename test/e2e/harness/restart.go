package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"
)

// RestartAPIServer stops kube-apiserver (SIGTERM, as a control-plane upgrade does), leaves it down for `down`, and
// starts it again with the same flags, certificates and etcd, so every client (gpushare, kube-scheduler, the node
// agent) sees its connections and watches end and then a server that comes back.
func (c *Cluster) RestartAPIServer(ctx context.Context, down time.Duration) error {
	c.mu.Lock()
	p := c.procs["kube-apiserver"]
	c.mu.Unlock()
	if p == nil {
		return fmt.Errorf("kube-apiserver is not running")
	}
	bin, args := p.cmd.Path, p.cmd.Args[1:]
	p.Stop(30 * time.Second)
	c.logf("kube-apiserver stopped; down for %s", down)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	proc, err := c.start("kube-apiserver", bin, args...)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.pkiCA)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return c.waitFor(ctx, "kube-apiserver /readyz after a restart", proc, 120*time.Second, func() error {
		return httpGetOK(hc, c.ServerURL+"/readyz", c.Token)
	})
}
