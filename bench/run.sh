#!/usr/bin/env bash
# Benchmarks storegate side by side with PgBouncer, HAProxy (plain TCP relay) and direct
# connections in front of a throwaway PostgreSQL 15, then runs the micro-benchmarks.
#
#   bench/run.sh                  full run (about 15 minutes on 2 cores, plus the build); the
#                                 report is also copied to docs/benchmarks/
#   bench/run.sh --quick          smoke run: one protocol, two client counts
#   BENCH_SECONDS=30 bench/run.sh longer points (pgbench -T; default 5)
#   STOREGATE_BIN=path            benchmark this binary instead of building one (the
#                                 micro-benchmarks then do not run)
#   BENCH_VARIANTS=uring=path     also benchmark other storegate builds (comma-separated
#                                 NAME=PATH), e.g. one made with -DSTOREGATE_IO_URING=ON; they
#                                 run as storegate-NAME/... and take turns with the others
#   BUILD_DIR (default build-bench), JOBS (default 2): the Release build made otherwise
# Results: bench/results/<timestamp>/ (README.md, CSV, PNG charts, logs). More options:
# bench/compare.py --help (arguments after run.sh are passed on).
set -euo pipefail

cd "$(dirname "$0")/.."

# The build's packages, plus the other poolers and the measuring tools.
scripts/install-deps.sh haproxy gnuplot-nox linux-perf libbenchmark-dev

build_dir="${BUILD_DIR:-build-bench}"
binary="${STOREGATE_BIN:-}"
micro=()
if [ -z "$binary" ]; then
    BUILD_DIR="$build_dir" BUILD_TYPE=Release TESTS=0 JOBS="${JOBS:-2}" \
        TARGETS="storegate storegate_micro" scripts/build.sh -DSTOREGATE_BENCH=ON
    binary="$build_dir/storegate"
    micro=(--micro "$build_dir/bench/storegate_micro")
fi

# One descriptor per idle client on the client side; the poolers inherit the limit too.
ulimit -n "$(ulimit -Hn)"

# Debian's interpreter: it has psycopg, which the shared test harness uses.
exec /usr/bin/python3 bench/compare.py --binary "$binary" "${micro[@]}" "$@"
