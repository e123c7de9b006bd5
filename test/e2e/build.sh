#!/usr/bin/env bash
# Builds the control plane the e2e suite runs: etcd, kube-apiserver and kube-scheduler, from the Go modules pinned
# in test/e2e/go.mod (one Kubernetes release, its own etcd), into build/e2e-bin/<k8s-version>/.
# The folder carries a stamp (Kubernetes, etcd and Go versions); a warm run with a matching stamp builds nothing.
# Prints the binary folder on stdout (last line). Env: E2E_BIN_ROOT (default <repo>/build/e2e-bin), GO (default go).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
GO=${GO:-go}
cd "$here"

k8s_version=$(sed -nE 's/^(require)?[[:space:]]*k8s\.io\/kubernetes (v[^ ]+).*/\2/p' go.mod | head -1)
[[ -n "$k8s_version" ]] || { echo "build.sh: no k8s.io/kubernetes requirement in $here/go.mod" >&2; exit 2; }
go_version=$("$GO" env GOVERSION)
etcd_version=$(sed -nE 's/^(require)?[[:space:]]*go\.etcd\.io\/etcd\/server\/v3 (v[^ ]+).*/\2/p' go.mod | head -1)
stamp="k8s=$k8s_version etcd=$etcd_version go=$go_version ldflags=version"

root=${E2E_BIN_ROOT:-$repo/build/e2e-bin}
dir=$root/$k8s_version
if [[ -f "$dir/STAMP" && "$(cat "$dir/STAMP")" == "$stamp" ]] &&
   [[ -x "$dir/etcd" && -x "$dir/kube-apiserver" && -x "$dir/kube-scheduler" ]]; then
  echo "e2e binaries cached: $dir ($stamp)" >&2
  echo "$dir"
  exit 0
fi

mkdir -p "$dir"
rm -f "$dir/STAMP"
export NO_PROXY=127.0.0.1,localhost
echo "e2e: building etcd, kube-apiserver, kube-scheduler $k8s_version with $go_version into $dir (cold: tens of minutes on 2 cores)" >&2
start=$(date +%s)
"$GO" mod download >&2
# One invocation, so the packages the three programs share are compiled once; -p 2 keeps memory and CPU bounded.
# -X: report the release's version (otherwise the binaries say v0.0.0-master); link-time only.
minor=$(cut -d. -f2 <<<"$k8s_version")
ver="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1"
ver+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
ver+=" -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version -X k8s.io/client-go/pkg/version.gitMajor=1"
ver+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"
nice -n "${E2E_NICE:-10}" "$GO" build -trimpath -p "${E2E_BUILD_P:-2}" -ldflags="-s -w $ver" -o "$dir/" \
  ./cmd/etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler >&2
echo "$stamp" > "$dir/STAMP"
echo "e2e: built in $(( $(date +%s) - start ))s" >&2
echo "$dir"
