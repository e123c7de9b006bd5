#!/usr/bin/env bash
# Builds the helm CLI the e2e suite uses (chart lint, template goldens, install/upgrade/uninstall) from the Go module
# pinned in test/e2e/tools/helm/go.mod, into build/e2e-bin/helm-<version>/helm, as build.sh builds the control
# plane: no release binary is downloaded. A warm run with a matching stamp builds nothing (cold: about 2-3 minutes on
# 2 cores). Prints the binary's path on stdout (last line). Env: E2E_BIN_ROOT (default <repo>/build/e2e-bin), GO.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
GO=${GO:-go}
cd "$here/tools/helm"
version=$(sed -nE 's/^(require)?[[:space:]]*helm\.sh\/helm\/v4 (v[^ ]+).*/\2/p' go.mod | head -1)
[[ -n "$version" ]] || { echo "build-helm.sh: no helm.sh/helm/v4 requirement in $PWD/go.mod" >&2; exit 2; }
stamp="helm=$version go=$("$GO" env GOVERSION)"
dir=${E2E_BIN_ROOT:-$repo/build/e2e-bin}/helm-$version
if [[ -f "$dir/STAMP" && "$(cat "$dir/STAMP")" == "$stamp" && -x "$dir/helm" ]]; then
  echo "$dir/helm"
  exit 0
fi
mkdir -p "$dir"
rm -f "$dir/STAMP"
echo "e2e: building helm $version into $dir" >&2
# -X: helm reports its own version (otherwise "v4.0+unreleased"), which `helm version` and chart checks read.
"$GO" mod download >&2
nice -n "${E2E_NICE:-10}" "$GO" build -trimpath -p "${E2E_BUILD_P:-2}" \
  -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$version" -o "$dir/helm" helm.sh/helm/v4/cmd/helm >&2
echo "$stamp" > "$dir/STAMP"
echo "$dir/helm"
