#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz) with clang-14 and runs each for FUZZ_SECONDS on a copy
# of its seed corpus, so that test/fuzz/corpus stays as committed. Exits 1 when any target finds
# a crash, a sanitizer error, a leak, a timeout or an out-of-memory; its log and the input that
# did it are kept under $FUZZ_BUILD/fuzz-run/<target>/.
#   FUZZ_SECONDS=300 (per target)  FUZZ_BUILD=build-fuzz  JOBS=$(nproc)
#   FUZZ_TARGETS="fuzz_quantity fuzz_catalog" (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-300}"
build="${FUZZ_BUILD:-build-fuzz}"
jobs="${JOBS:-$(nproc)}"

# The longest input each target is given: a little above its largest seed; short for grammars.
declare -A max_len=(
  [fuzz_admission_review]=16384
  [fuzz_extender]=16384
  [fuzz_quantity]=64
  [fuzz_catalog]=20480
  [fuzz_kubeconfig]=4096
  [fuzz_server_config]=4096
  [fuzz_plan_input]=16384
  [fuzz_watch_events]=16384
  [fuzz_json_shaped]=4096
)
read -ra targets <<< "${FUZZ_TARGETS:-${!max_len[*]}}"
mapfile -t targets < <(printf '%s\n' "${targets[@]}" | sort)

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DGPUSHARE_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${targets[@]}"; do
  [ -n "${max_len[$t]:-}" ] || { echo "fuzz: unknown target $t" >&2; exit 2; }
  run="$build/fuzz-run/$t"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp test/fuzz/corpus/"$t"/* "$run/corpus/"
  # stdin from /dev/null: a path the input names (kubeconfig's files) must not wait on a terminal.
  if "$build/fuzz/$t" -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$run/artifacts/" \
    "$run/corpus" < /dev/null > "$run/log" 2>&1; then
    echo "fuzz: $t: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$run/log" |
      grep -o '[0-9]*$') runs, $(grep -Eo 'cov: [0-9]+' "$run/log" | tail -1))"
  else
    failed+=("$t")
    echo "fuzz: $t: FAILED; log $run/log, input(s):" "$run"/artifacts/*
    grep -E -A25 '^==[0-9]+==ERROR|runtime error|deadly signal' "$run/log" | head -40 || tail -30 "$run/log"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, nothing found"
