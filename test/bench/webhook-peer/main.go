// The Go peer of issue 13's /mutate table: a webhook on controller-runtime's admission package
// doing gpushare's MPS mapping the way such webhooks are usually written (decode the whole Pod,
// change it, marshal it, diff the JSON into a patch). scripts/bench-mutate.py runs it beside
// nginx and gpushare with the same certificate and review; it is a benchmark reference only.
//
//	webhook-peer --listen 127.0.0.1:18455 --cert tls.crt --key tls.key
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

const (
	gpu      corev1.ResourceName = "nvidia.com/gpu"
	gpuShare corev1.ResourceName = "nvidia.com/gpu.shared"
)

type mpsMapper struct{ decoder admission.Decoder }

// move renames the whole-GPU request to the shared one; a shared request above 1 is refused,
// as gpushare refuses it.
func move(list corev1.ResourceList) error {
	q, ok := list[gpu]
	if !ok {
		return nil
	}
	if q.Cmp(resource.MustParse("1")) > 0 {
		return fmt.Errorf("a shared GPU request must be 1, not %s", q.String())
	}
	delete(list, gpu)
	list[gpuShare] = q
	return nil
}

func (m *mpsMapper) Handle(_ context.Context, req admission.Request) admission.Response {
	pod := &corev1.Pod{}
	if err := m.decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if pod.Annotations["gpushare.io/mode"] != "mps" {
		return admission.Allowed("no share intent")
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if err := move(c.Resources.Limits); err != nil {
			return admission.Denied(err.Error())
		}
		if err := move(c.Resources.Requests); err != nil {
			return admission.Denied(err.Error())
		}
	}
	pod.Annotations["gpushare.io/assigned-resource"] = string(gpuShare)
	changed, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, changed)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18455", "address to serve TLS on")
	cert := flag.String("cert", "tls.crt", "certificate (PEM)")
	key := flag.String("key", "tls.key", "private key (PEM)")
	flag.Parse()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		log.Fatal(err)
	}
	hook := &admission.Webhook{Handler: &mpsMapper{decoder: admission.NewDecoder(scheme)}}
	mux := http.NewServeMux()
	mux.Handle("/mutate", hook)
	log.Fatal(http.ListenAndServeTLS(*listen, *cert, *key, mux))
}
