#!/usr/bin/env bash
# Installs what the build, the tests and the demo need on Debian 12, and nothing else.
# Idempotent: packages already installed are not touched, and apt-get update runs only when
# something is missing. Components with special installs add executable scripts/deps/*.sh.
# Extra package names given as arguments are installed the same way (bench/run.sh uses this).
set -euo pipefail

cd "$(dirname "$0")/.."

packages=(
    build-essential cmake ninja-build ccache pkg-config
    libboost1.81-dev libboost-json1.81-dev libpq-dev libssl-dev prometheus-cpp-dev
    libtomlplusplus-dev libspdlog-dev libcli11-dev libgtest-dev libgmock-dev liburing-dev
    clang-format-16 clang-16 libclang-rt-16-dev
    postgresql-15 postgresql-client-15
    python3 python3-pytest python3-psycopg pgbouncer prometheus
    openjdk-17-jdk-headless libpostgresql-jdbc-java nodejs
    "$@"
)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-deps: missing packages and no root or sudo to install them:" >&2
        echo "  apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    "${sudo[@]}" apt-get update
    # The postgresql-15 package may create and start a default cluster; nothing here uses it.
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends \
        "${missing[@]}"
else
    echo "install-deps: all ${#packages[@]} packages present"
fi

shopt -s nullglob
for extra in scripts/deps/*.sh; do
    if [ -x "$extra" ]; then
        echo "install-deps: running $extra"
        "$extra"
    fi
done
