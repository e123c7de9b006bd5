// Command etcd is the etcd server, built from the etcd Go modules at the version that the pinned Kubernetes
// release uses (go.etcd.io/etcd/server/v3, see go.mod), so the e2e suite needs no distribution package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
