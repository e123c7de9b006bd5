// Command nodeagent runs the simulated GPU nodes of test/e2e/nodeagent against a cluster, for the demo:
//
//	nodeagent --kubeconfig KUBECONFIG --config nodes.yaml [--catalog policy/catalog_default.yaml]
//
// It creates the nodes (labels and capacity as GFD and the device plugin publish them), seeds the GPU Operator's
// ConfigMaps, then reacts to nvidia.com/mig.config and nvidia.com/device-plugin.config changes and marks bound pods
// Running, until SIGINT/SIGTERM. With --delete-on-exit it deletes its nodes when it stops.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"gpushare.test/e2e/nodeagent"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
	config := flag.String("config", "", "node agent spec (YAML): nodes, ConfigMap delay, seeded mig-parted configs")
	catalog := flag.String("catalog", "policy/catalog_default.yaml", "GPU catalog (MIG profiles per product)")
	deleteOnExit := flag.Bool("delete-on-exit", false, "delete the simulated nodes on SIGINT/SIGTERM")
	flag.Parse()
	if *config == "" || *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "usage: nodeagent --kubeconfig FILE --config FILE [--catalog FILE] [--delete-on-exit]")
		os.Exit(2)
	}
	spec, err := nodeagent.LoadSpec(*config)
	if err != nil {
		log.Fatal(err)
	}
	cat, err := nodeagent.LoadCatalog(*catalog)
	if err != nil {
		log.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	agent := nodeagent.New(client, spec, cat, log.Printf)
	if err := agent.Start(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
	if ctx.Err() == nil {
		log.Printf("nodeagent: simulating %v", agent.Nodes())
	}
	<-ctx.Done()
	if *deleteOnExit {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, n := range spec.Nodes { // also those whose creation a signal interrupted
			if err := agent.RemoveNode(dctx, n.Name); err != nil {
				log.Printf("delete node %s: %v", n.Name, err)
			}
		}
		log.Printf("nodeagent: deleted %d nodes", len(spec.Nodes))
	}
}
