package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Mutual TLS between the control plane and gpushare (tls.clientCAFile, README "Mutual TLS"). The harness makes a CA
// for the control plane's client certificates and, signed by it, one certificate for kube-apiserver (presented to
// the webhook at 127.0.0.1:<MTLSPort>, through the AdmissionConfiguration's kubeconfig, as a cluster would) and one
// for kube-scheduler (the extender's tlsConfig), plus one for the harness's own calls to gpushare. A second CA
// stands for anyone else: its certificate must be refused.
type MTLS struct {
	Port          int    // the port the mTLS gpushare listens on: kube-apiserver presents its certificate there
	ClientCAFile  string // what the mTLS gpushare gets as tls.clientCAFile
	SchedulerCert string // kube-scheduler's client certificate and key (files)
	SchedulerKey  string
	StrangerCert  tls.Certificate // signed by a CA gpushare does not trust
	admissionFile string          // --admission-control-config-file
	harnessClient tls.Certificate // presented by the harness's HTTP client to every gpushare
}

type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial = big.NewInt(100)

func newSerial() *big.Int {
	serial = new(big.Int).Add(serial, big.NewInt(1))
	return new(big.Int).Set(serial)
}

func newCA(cn string) (*certAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return &certAuthority{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// client issues a client certificate (EKU clientAuth) for cn; PEM certificate and key.
func (ca *certAuthority) client(cn string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// makeMTLS writes the control plane's client CA and certificates into dir, and kube-apiserver's admission
// configuration, whose kubeconfig gives kube-apiserver its client certificate for the webhook at 127.0.0.1:port.
func makeMTLS(dir string, port int) (*MTLS, error) {
	ca, err := newCA("gpushare-e2e-control-plane-clients")
	if err != nil {
		return nil, err
	}
	stranger, err := newCA("someone-else")
	if err != nil {
		return nil, err
	}
	m := &MTLS{Port: port, ClientCAFile: filepath.Join(dir, "client-ca.crt")}
	if err := os.WriteFile(m.ClientCAFile, ca.pem, 0o644); err != nil {
		return nil, err
	}
	write := func(name string, b []byte) (string, error) {
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, b, 0o600)
	}
	apiCert, apiKey, err := ca.client("kube-apiserver-webhook-client")
	if err != nil {
		return nil, err
	}
	schedCert, schedKey, err := ca.client("kube-scheduler-extender-client")
	if err != nil {
		return nil, err
	}
	if m.SchedulerCert, err = write("scheduler-client.crt", schedCert); err != nil {
		return nil, err
	}
	if m.SchedulerKey, err = write("scheduler-client.key", schedKey); err != nil {
		return nil, err
	}
	for _, x := range []struct {
		from *certAuthority
		cn   string
		into *tls.Certificate
	}{{ca, "e2e-harness", &m.harnessClient}, {stranger, "e2e-stranger", &m.StrangerCert}} {
		c, k, err := x.from.client(x.cn)
		if err != nil {
			return nil, err
		}
		if *x.into, err = tls.X509KeyPair(c, k); err != nil {
			return nil, err
		}
	}
	// kube-apiserver finds the credentials for a webhook by the host:port it calls (the user's name).
	kc := clientcmdapi.NewConfig()
	kc.AuthInfos[fmt.Sprintf("127.0.0.1:%d", port)] = &clientcmdapi.AuthInfo{ClientCertificateData: apiCert, ClientKeyData: apiKey}
	kubeconfig := filepath.Join(dir, "webhook-client.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		return nil, err
	}
	admission := strings.ReplaceAll(`apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: MutatingAdmissionWebhook
    configuration:
      apiVersion: apiserver.config.k8s.io/v1
      kind: WebhookAdmissionConfiguration
      kubeConfigFile: KUBECONFIG
`, "KUBECONFIG", kubeconfig)
	m.admissionFile = filepath.Join(dir, "admission.yaml")
	if err := os.WriteFile(m.admissionFile, []byte(admission), 0o644); err != nil {
		return nil, err
	}
	return m, nil
}

// StartGpushareMTLS starts a gpushare replica called name on MTLS.Port with tls.clientCAFile: it answers only
// clients with a certificate from the control plane's client CA. Returns its base URL.
func (c *Cluster) StartGpushareMTLS(ctx context.Context, name string) (string, error) {
	cfg, err := c.writeGpushareConfig(name, c.MTLS.Port, c.Kubeconfig, false, c.DRA)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(cfg)
	if err != nil {
		return "", err
	}
	text := strings.Replace(string(b), "tls: {", "tls: {clientCAFile: "+c.MTLS.ClientCAFile+", ", 1)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return "", err
	}
	_ = os.WriteFile(filepath.Join(c.LogDir, name+".yaml"), []byte(text), 0o644)
	return c.launchGpushare(ctx, name, c.MTLS.Port, cfg)
}

// GpushareCA is the CA of gpushare's serving certificate, for a client of the test's own.
func (c *Cluster) GpushareCAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.GpushareCA)
	return pool
}
