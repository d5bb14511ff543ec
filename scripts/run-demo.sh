#!/usr/bin/env bash
# Builds offerd and starts it with demo data on a SQLite file (offerd-demo.db), printing
# ready-to-paste curl commands. Extra arguments go to offerd (e.g. --port 9090). It builds in
# build-demo/, its own directory: scripts/test.sh's build/ (tests on) is left alone, so running the
# two in either order rebuilds nothing and skips no test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --build
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOFFERD_BUILD_TESTS=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target offerd >/dev/null
exec build-demo/src/server/offerd --demo --db offerd-demo.db "$@"
