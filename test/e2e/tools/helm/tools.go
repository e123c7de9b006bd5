//go:build tools

// Package tools pins the helm CLI the e2e suite builds from source (build.sh): helm v4 from its Go
// module, as kube-apiserver is built from k8s.io/kubernetes, because this project downloads no
// release binaries. Its own module, so that helm's dependency versions never move the control
// plane's (test/e2e/go.mod).
package tools

import _ "helm.sh/helm/v4/cmd/helm"
