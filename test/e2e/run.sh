#!/usr/bin/env bash
# Runs the e2e suite: builds the control plane binaries when they are not cached (build.sh), then
# `go test ./... -count=1 -v -timeout 30m` in test/e2e. Called by `make e2e`.
# Env: GPUSHARE_BIN (default build/gpushare), E2E_LOG_DIR (default build/e2e-logs/run-<time>), E2E_EXTENDER
# (auto|on|off, default on: the extender is part of the product), E2E_REQUIRE_GPUSHARE (default 1),
# E2E_HELM (set by this script: the helm CLI build-helm.sh built), E2E_GO_TEST_FLAGS (extra flags, e.g. "-run TestMPS"). Exits non-zero when anything fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export E2E_REPO_ROOT="$repo"
export GPUSHARE_BIN=${GPUSHARE_BIN:-build/gpushare}
export E2E_REQUIRE_GPUSHARE=${E2E_REQUIRE_GPUSHARE:-1}
export E2E_EXTENDER=${E2E_EXTENDER:-on}
export E2E_LOG_DIR=${E2E_LOG_DIR:-$repo/build/e2e-logs/run-$(date +%Y%m%d-%H%M%S)}
bin_dir=$("$here/build.sh" | tail -n 1)
export E2E_BIN_DIR="$bin_dir"
E2E_HELM=$("$here/build-helm.sh" | tail -n 1)
export E2E_HELM
echo "e2e: control plane binaries in $E2E_BIN_DIR; gpushare $GPUSHARE_BIN; logs in $E2E_LOG_DIR"
cd "$here"
status=0
# shellcheck disable=SC2086
# -trimpath: the same compile flags as build.sh, so the packages it compiled (client-go, apimachinery) are reused.
go test -trimpath ./... -count=1 -v -timeout 30m ${E2E_GO_TEST_FLAGS:-} || status=$?
if [[ $status -ne 0 ]]; then
  echo "e2e: FAILED (exit $status); component logs: $E2E_LOG_DIR" >&2
fi
exit $status
