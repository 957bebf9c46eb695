#!/usr/bin/env bash
# The whole test run: dependencies, build with unit tests, format check, unit tests (ctest),
# then the integration tests against real PostgreSQL clusters. Exits non-zero when any step
# failed, after a summary. Every server the integration tests start is stopped on exit.
#   BUILD_DIR, BUILD_TYPE, SANITIZE: as for scripts/build.sh
#   PYTEST_ARGS: extra pytest arguments (e.g. "-k routing -x")
#   FUZZ_SECONDS: run time of each libFuzzer target (default 20; 0 skips the fuzz step)
#   SANITIZED=0: skip the ASan+UBSan build and its unit and integration tests
# shellcheck disable=SC2317  # steps are called indirectly through run_step
set -euo pipefail

cd "$(dirname "$0")/.."
repo="$(pwd)"
export BUILD_DIR="${BUILD_DIR:-build}"
python=/usr/bin/python3  # Debian's, which has pytest and psycopg

results=()
failed=0
integration_passed=0
test_dir=""
child=""

record() {
    results+=("$(printf '%-5s %s' "$1" "$2")")
    if [ "$1" = FAIL ]; then
        failed=1
    fi
}

run_step() {
    local name="$1"
    shift
    echo
    echo "=== $name"
    if "$@"; then
        record PASS "$name"
        return 0
    fi
    record FAIL "$name"
    return 1
}

format_check() {
    local files
    if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        mapfile -t files < <(git ls-files '*.cc' '*.h' '*.cpp' '*.hpp')
    else
        mapfile -t files < <(find . -path ./build\* -prune -o \( -name '*.cc' -o -name '*.h' \) \
            -print)
    fi
    if [ "${#files[@]}" -eq 0 ]; then
        return 0
    fi
    clang-format-16 --dry-run --Werror "${files[@]}"
}

unit_tests() {
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j 2
}

# The libFuzzer targets (clang, with ASan and UBSan) from their seed corpora, copied so the
# run does not grow the committed corpus; any crash, leak or timeout fails the step.
fuzz_run() {
    local seconds="${FUZZ_SECONDS:-20}" dir="${FUZZ_BUILD_DIR:-build-fuzz}" target work
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSTOREGATE_FUZZ=ON \
        -DSTOREGATE_TESTS=OFF -DCMAKE_CXX_COMPILER=clang++-16 >/dev/null
    cmake --build "$dir" -j 2 --target frame_fuzz startup_fuzz scram_fuzz
    for target in frame startup scram; do
        work="$(mktemp -d)"
        cp -r "tests/fuzz/corpus/$target/." "$work/"
        "$dir/tests/fuzz/${target}_fuzz" -max_total_time="$seconds" -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 "$work" || { rm -rf "$work"; return 1; }
        rm -rf "$work"
    done
}

# Unit tests under ASan+UBSan, then the integration tests most exposed to hostile bytes
# (startup, TLS, malformed input) against the sanitized binary.
sanitized_run() {
    local dir="${SANITIZED_BUILD_DIR:-build-asan}"
    BUILD_DIR="$dir" BUILD_TYPE=Debug SANITIZE=1 TESTS=1 JOBS=2 scripts/build.sh >/dev/null
    ASAN_OPTIONS=detect_leaks=1 ctest --test-dir "$dir" --output-on-failure -j 2 || return 1
    local main_test_dir="$test_dir"
    make_test_dir
    STOREGATE_TEST_DIR="$test_dir" STOREGATE_BIN="$repo/$dir/storegate" \
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
        timeout --kill-after=60 900 "$python" -m pytest -q -p no:cacheprovider \
        tests/integration/test_hostile.py tests/integration/test_startup_errors.py \
        tests/integration/test_tls.py &
    child=$!
    local status=0
    wait "$child" || status=$?
    child=""
    local args=("$test_dir")
    if [ "$status" -eq 0 ]; then
        args+=(--remove)
    fi
    (cd tests/integration && "$python" -m harness.cleanup "${args[@]}") || true
    test_dir="$main_test_dir"
    return "$status"
}

make_test_dir() {
    mkdir -p .run/tests
    test_dir="$(mktemp -d "$repo/.run/tests/run-XXXXXX")"
    chmod 755 "$test_dir"
    # When root, the clusters run as the postgres OS user, which must reach the folder.
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$test_dir"; then
        rmdir "$test_dir"
        test_dir="$(mktemp -d /tmp/storegate-tests-XXXXXX)"
        chmod 755 "$test_dir"
    fi
}

integration_tests() {
    make_test_dir
    # In the background so that a TERM to this script is forwarded at once (on_signal):
    # timeout runs pytest in a process group of its own.
    # shellcheck disable=SC2086
    STOREGATE_TEST_DIR="$test_dir" STOREGATE_BIN="$repo/$BUILD_DIR/storegate" \
        timeout --kill-after=60 1800 \
        "$python" -m pytest -q -p no:cacheprovider tests/integration ${PYTEST_ARGS:-} &
    child=$!
    local status=0
    wait "$child" || status=$?
    child=""
    if [ "$status" -eq 0 ]; then
        integration_passed=1
    fi
    return "$status"
}

on_signal() {
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    exit "$1"
}

cleanup() {
    if [ -n "$test_dir" ] && [ -d "$test_dir" ]; then
        local args=("$test_dir" --remove)
        if [ "$integration_passed" -ne 1 ]; then
            args=("$test_dir")
            echo "integration logs kept in $test_dir"
        fi
        (cd tests/integration && "$python" -m harness.cleanup "${args[@]}") || true
    fi
}

summary() {
    echo
    echo "=== summary"
    printf '  %s\n' "${results[@]}"
    if [ "$failed" -eq 0 ]; then
        echo "ALL PASSED"
    else
        echo "FAILED"
    fi
}

trap cleanup EXIT
trap 'on_signal 143' TERM
trap 'on_signal 130' INT

if ! run_step "dependencies" scripts/install-deps.sh; then
    summary
    exit 1
fi
built=1
run_step "build ($BUILD_DIR)" env TESTS=1 scripts/build.sh || built=0
run_step "format (clang-format-16)" format_check || true
if [ "$built" -eq 1 ]; then
    run_step "unit tests (ctest)" unit_tests || true
    run_step "integration tests (pytest)" integration_tests || true
    if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
        run_step "fuzz (libFuzzer, ${FUZZ_SECONDS:-20} s per target)" fuzz_run || true
    fi
    if [ "${SANITIZED:-1}" != 0 ]; then
        run_step "ASan+UBSan unit tests and hostile-input subset" sanitized_run || true
    fi
else
    record SKIP "unit tests (build failed)"
    record SKIP "integration tests (build failed)"
fi
summary
exit "$failed"
