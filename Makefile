# The two commands a person needs (README.md): `make demo` and `make test`.
# Both install what is missing first, so they work on a fresh Debian machine.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_GEN  := $(shell command -v ninja >/dev/null 2>&1 && echo -G Ninja)

.PHONY: all deps build test unit bench-smoke e2e check-generated check-layering check-format test-sanitize fuzz fuzz-smoke demo lint format clean bench bench-mutate bench-scheduler simulate-bench

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPUSHARE_WERROR=ON

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

unit: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure -j $(JOBS)

# The e2e suite runs the real control plane (test/e2e); it is skipped only where it does not exist yet.
e2e: build
	@if [ -x test/e2e/run.sh ]; then test/e2e/run.sh; else echo "e2e: no suite yet"; fi

# Files generated from the catalog must match it (manifests/scheduler).
check-generated:
	scripts/gen-scheduler-config.py --check

# Each folder includes only the folders below it (docs/architecture.md).
check-layering:
	scripts/check-layering.py

# Every C++ file as clang-format (.clang-format) writes it; `make format` fixes what this reports.
check-format: deps
	@out=$$(clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.h') 2>&1) || \
	  { echo "$$out" | grep -o '^[^:]*\.\(cpp\|h\)' | sort -u | sed 's/^/clang-format: differs: /'; \
	    echo "run 'make format'"; exit 1; }

# The README's test command: everything, unit then end-to-end.
test: check-generated check-layering check-format unit bench-smoke e2e

# The server benchmark for a few seconds: it must run, and every request must come back 200.
bench-smoke: build
	$(BUILD)/bench_server 50 200 600 50 > /dev/null

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (CI runs this too).
test-sanitize: deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DGPUSHARE_SANITIZE=ON -DGPUSHARE_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) -L unit --output-on-failure -j $(JOBS)

# libFuzzer on every decoder of untrusted bytes (test/fuzz), built with clang-14 in build-fuzz;
# FUZZ_SECONDS per target (8 targets, one after another). Fails if any target finds a crash.
FUZZ_SECONDS ?= 300
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/fuzz.sh

fuzz-smoke: deps
	FUZZ_SECONDS=20 JOBS=$(JOBS) scripts/fuzz.sh

demo: build
	scripts/demo.sh

bench: build
	scripts/bench.sh

# POST /mutate beside nginx (the TLS floor) and a Go webhook on controller-runtime's admission
# package (test/bench/webhook-peer), interleaved, pinned to separate cores (issue 13, item 1).
bench-mutate: build
	scripts/bench-mutate.py

# The repartitioning matrix of BENCHMARKS.md (issue 9): 20 and 200 nodes, three loads, three
# mixes, seeds 1-3 (about half an hour on 2 cores). make test runs a small piece of it as a
# unit test (policy/sim_test.cpp).
# kube-scheduler's throughput with and without gpushare as its extender, through the e2e harness's real
# control plane (test/e2e/bench_scheduler_test.go; 1,000 nodes, 2,000 pods a run, 3 interleaved rounds).
bench-scheduler: build
	E2E_BENCH_SCHEDULER=1 E2E_GPUSHARE_LOG_LEVEL=info E2E_GO_TEST_FLAGS="-run TestSchedulerThroughput" test/e2e/run.sh

simulate-bench: build
	scripts/simulate-matrix.py --nodes 20,200 --jobs $(JOBS)

lint:
	scripts/lint.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
