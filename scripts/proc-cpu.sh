#!/bin/bash
# Cores each named process used, per interval, from /proc/<pid>/stat (utime + stime): what
# BENCHMARKS.md's scheduler-throughput figures for gpushare, kube-apiserver and kube-scheduler
# came from. Matches processes by exact name (pgrep -x); a process that restarts is picked up.
#
#   scripts/proc-cpu.sh [INTERVAL_S] [NAME...]   (default 1 s; the e2e control plane and gpushare)
#   e.g. scripts/proc-cpu.sh 1 > /tmp/cpu.txt &  E2E_BENCH_ROUNDS=1 make bench-scheduler;  kill %1
set -euo pipefail
interval=${1:-1}
shift || true
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(kube-apiserver etcd kube-scheduler gpushare e2e.test)
hz=$(getconf CLK_TCK)
declare -A last
ticks() {  # sum of utime+stime over the processes named $1
  local t=0 s pid
  for pid in $(pgrep -x "$1" || true); do
    s=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    t=$((t + s))
  done
  echo "$t"
}
for n in "${names[@]}"; do last[$n]=$(ticks "$n"); done
echo "time ${names[*]}"
while sleep "$interval"; do
  line=$(date +%H:%M:%S)
  for n in "${names[@]}"; do
    now=$(ticks "$n")
    d=$((now - ${last[$n]}))
    ((d < 0)) && d=0  # the process restarted: its counter began again
    line+=" $(awk -v d="$d" -v hz="$hz" -v i="$interval" 'BEGIN { printf "%.2f", d / hz / i }')"
    last[$n]=$now
  done
  echo "$line"
done
