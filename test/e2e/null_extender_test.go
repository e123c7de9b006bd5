package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// nullExtender is the reference for gpushare's extender in the scheduler benchmark, as nginx is for /mutate: an
// extender that judges nothing. /filter passes every name it is sent and /prioritize gives each a score of 0, so
// what kube-scheduler pays with it is what calling any extender costs it (encoding the pod and the names, TLS,
// decoding the answers), and gpushare's rate against it is how close gpushare comes to that floor. It runs in this
// test process, with gpushare's serving certificate, which the scheduler config trusts.
type nullExtender struct {
	url    string
	server *http.Server
}

func startNullExtender(t *testing.T, certFile, keyFile string) *nullExtender {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("null extender: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("null extender: %v", err)
	}
	// Only the names are decoded: the pod is skipped by the decoder, as an extender that needs nothing of it would.
	names := func(r *http.Request) ([]string, error) {
		var args struct{ NodeNames *[]string }
		if err := json.NewDecoder(r.Body).Decode(&args); err != nil {
			return nil, err
		}
		if args.NodeNames == nil {
			return nil, fmt.Errorf("no NodeNames: the scheduler config must be nodeCacheCapable")
		}
		return *args.NodeNames, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /filter", func(w http.ResponseWriter, r *http.Request) {
		n, err := names(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, _ := json.Marshal(map[string]any{"NodeNames": n, "FailedNodes": map[string]string{}, "Error": ""})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("POST /prioritize", func(w http.ResponseWriter, r *http.Request) {
		n, err := names(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body := make([]byte, 0, 32*len(n)+2)
		body = append(body, '[')
		for i, name := range n {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, `{"Host":`...)
			body = strconv.AppendQuote(body, name)
			body = append(body, `,"Score":0}`...)
		}
		body = append(body, ']')
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	// Idle connections outlive the scheduler's own 90 s idle timeout, as gpushare's do (server/config.h).
	s := &http.Server{Handler: mux, IdleTimeout: 120 * time.Second, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = s.ServeTLS(ln, "", "") }()
	return &nullExtender{url: "https://" + ln.Addr().String(), server: s}
}

func (n *nullExtender) stop() { _ = n.server.Close() }
