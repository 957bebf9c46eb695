#!/usr/bin/env bash
# Configures and builds storegate.
#   BUILD_DIR   build folder (default: build)
#   BUILD_TYPE  CMake build type (default: Release)
#   SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer
#   TESTS=0     skip the unit tests
#   JOBS        parallel jobs (default: number of cores)
#   TARGETS     build only these targets (space-separated), e.g. TARGETS=storegate
# Extra arguments go to cmake at configure time (e.g. -DSTOREGATE_BENCH=ON).
set -euo pipefail

cd "$(dirname "$0")/.."

build_dir="${BUILD_DIR:-build}"
build_type="${BUILD_TYPE:-Release}"
sanitize=OFF
if [ "${SANITIZE:-0}" != 0 ]; then
    sanitize=ON
fi
tests=ON
if [ "${TESTS:-1}" = 0 ]; then
    tests=OFF
fi

cmake -S . -B "$build_dir" -G Ninja \
    -DCMAKE_BUILD_TYPE="$build_type" \
    -DSTOREGATE_SANITIZE="$sanitize" \
    -DSTOREGATE_TESTS="$tests" \
    "$@"
targets=()
for target in ${TARGETS:-}; do
    targets+=(--target "$target")
done
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}" "${targets[@]}"
echo "build: $build_dir/storegate ($build_type, sanitizers $sanitize)"
