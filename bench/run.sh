#!/usr/bin/env bash
# bench/run.sh - the one command for issue #6's benchmark: offerd against its references.
#
#   bench/run.sh            full run: 3 interleaved rounds of 10 s per cell (about 17 minutes)
#   bench/run.sh --quick    1 round of 3 s per cell (under 3 minutes once everything is built)
#
# Installs what is missing (Debian packages; npm packages into bench/ref/node_modules), builds
# offerd in build-bench/ (Release) and the Next.js reference app, then runs bench/bench.py, which
# starts and stops every server itself on 127.0.0.1 and writes bench/results/ (results.json,
# chart.png) and the results section of docs/benchmarks.md. Environment knobs: see bench/bench.py
# (BENCH_DURATION, BENCH_ROUNDS, BENCH_WARMUP, BENCH_CONNS, BENCH_SYSTEMS, BENCH_SCENARIOS, ...).
# Everything it starts is stopped on exit, and its temporary directory removed.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

for arg in "$@"; do
  case "$arg" in
    --quick) export BENCH_DURATION="${BENCH_DURATION:-3}" BENCH_ROUNDS="${BENCH_ROUNDS:-1}" \
                    BENCH_WARMUP="${BENCH_WARMUP:-2}" ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

driver_pid=""
cleanup() {
  # bench.py stops the servers it started; this only makes sure bench.py itself is gone.
  if [ -n "$driver_pid" ] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid" 2>/dev/null || true
    wait "$driver_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

step "dependencies"
"$here/install-deps.sh"

step "building offerd (build-bench, Release)"
# Only the offerd target: the benchmark needs nothing else, and other targets' warnings in a
# Release build must not stop it (OFFERD_WERROR is off here; the test build keeps it on).
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DOFFERD_BUILD_TESTS=OFF \
      -DOFFERD_WERROR=OFF >/dev/null
cmake --build build-bench --target offerd -j"$(nproc)" >/dev/null

ref="$here/ref"
if [ ! -d "$ref/node_modules/better-sqlite3" ] || [ ! -d "$ref/node_modules/next" ] ||
   [ "$ref/package-lock.json" -nt "$ref/node_modules/.package-lock.json" ]; then
  step "npm ci in bench/ref (better-sqlite3 may compile from source: a few minutes, once)"
  (cd "$ref" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# Rebuild the Next.js app when any of its sources is newer than its last build.
build_id="$ref/next-app/.next/BUILD_ID"
if [ ! -f "$build_id" ] || [ -n "$(find "$ref/next-app" -path "$ref/next-app/.next" -prune -o \
      -type f -newer "$build_id" -print -quit)" ]; then
  step "next build (bench/ref/next-app)"
  (cd "$ref" && NEXT_TELEMETRY_DISABLED=1 node node_modules/next/dist/bin/next build next-app \
     >"$ref/next-app/.build.log" 2>&1) || { tail -30 "$ref/next-app/.build.log" >&2; exit 1; }
fi

step "running (BENCH_DURATION=${BENCH_DURATION:-10} BENCH_ROUNDS=${BENCH_ROUNDS:-3})"
python3 "$here/bench.py" --offerd "$root/build-bench/src/server/offerd" &
driver_pid=$!
wait "$driver_pid"
status=$?
driver_pid=""
exit "$status"
