#!/usr/bin/env bash
# Prints the benchmark numbers BENCHMARKS.md records.
set -euo pipefail
cd "$(dirname "$0")/.."
"${BUILD:-build}/bench_server" "${1:-2000}" "${2:-500}"
echo
"${BUILD:-build}/bench_planner" "${3:-5}"
