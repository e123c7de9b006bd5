#!/usr/bin/env bash
# Prints the benchmark numbers BENCHMARKS.md records.
#   scripts/bench.sh [requests] [node counts, comma-separated] [planner rounds]
# bench_full_nodes times the extender with whole Node objects in the body (full-node mode).
# bench_server runs once per cluster size (pods: 10/3 per node, 100 watch events a second in
# its second half), each row next to the same call against an empty cluster. With two or more
# cores the server's workers and the load share them; pin with taskset to compare runs.
set -euo pipefail
cd "$(dirname "$0")/.."
IFS=',' read -ra sizes <<< "${2:-0,500,5000,15000}"
for nodes in "${sizes[@]}"; do
  "${BUILD:-build}/bench_server" "${1:-2000}" "$nodes"
  echo
done
"${BUILD:-build}/bench_full_nodes" 20 500,5000
echo
"${BUILD:-build}/bench_planner" "${3:-5}"
