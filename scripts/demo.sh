#!/usr/bin/env bash
# The demo on a fresh Debian 12 machine: installs what is missing, builds storegate, starts
# throwaway PostgreSQL clusters (a shared backend with two small stores, a dedicated backend
# with one large store, the registry) under .run/demo, seeds the registry, starts storegate
# and prints ready-to-paste psql lines for every store.
#   scripts/demo.sh          set up and start (prints the lines again if already running)
#   scripts/demo.sh status   print the lines of the running demo
#   scripts/demo.sh stop     stop every server and remove .run/demo
set -euo pipefail

cd "$(dirname "$0")/.."
python=/usr/bin/python3  # Debian's, which has psycopg
command="${1:-start}"

case "$command" in
    stop | status)
        exec "$python" scripts/demo.py "$command"
        ;;
    start) ;;
    *)
        echo "usage: scripts/demo.sh [start|status|stop]" >&2
        exit 2
        ;;
esac

scripts/install-deps.sh
build_dir="${BUILD_DIR:-build}"
BUILD_DIR="$build_dir" TARGETS=storegate scripts/build.sh
exec "$python" scripts/demo.py start --binary "$build_dir/storegate"
