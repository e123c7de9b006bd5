#!/usr/bin/env bash
# The README's demo on a real control plane (`make demo` runs it through scripts/demo.sh): builds etcd,
# kube-apiserver and kube-scheduler when they are not cached (build.sh), then runs cmd/demo, which starts the
# cluster with simulated GPU nodes, submits examples/pods/*.json and prints a table of what happened to each pod.
# Arguments go to cmd/demo: --keep (keep the cluster up until Ctrl-C and print its kubeconfig), --gpushare PATH
# (default build/gpushare, relative to the repository root), --examples DIR, --wait DURATION.
# Env: as run.sh (GPUSHARE_BIN, E2E_LOG_DIR, E2E_EXTENDER, E2E_BIN_DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export E2E_REPO_ROOT="$repo"
export GPUSHARE_BIN=${GPUSHARE_BIN:-build/gpushare}
export E2E_EXTENDER=${E2E_EXTENDER:-on}
if [[ -z "${E2E_BIN_DIR:-}" ]]; then
  E2E_BIN_DIR=$("$here/build.sh" | tail -n 1)
fi
export E2E_BIN_DIR
cd "$here"
# Like `go run -trimpath ./cmd/demo`, but only the build is niced, and Ctrl-C reaches the demo directly.
# -trimpath: the same compile flags as build.sh and run.sh, so the packages they compiled are reused.
nice -n "${E2E_NICE:-10}" go build -trimpath -o "$repo/build/e2e-demo/demo" ./cmd/demo
exec "$repo/build/e2e-demo/demo" "$@"
