#!/usr/bin/env bash
# bench/profile.sh - profiles offerd on the poll path (perf + callgrind); see bench/profile_offerd.py.
#
# Builds offerd for profiling in build-bench-prof/ (Release -O3 plus -g -fno-omit-frame-pointer),
# then runs bench/profile_offerd.py, which writes bench/results/profile.md and the profile section of
# docs/benchmarks.md. About 3-4 minutes. Needs perf (linux-perf) and valgrind: bench/install-deps.sh.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

"$here/install-deps.sh"
cmake -S . -B build-bench-prof -DCMAKE_BUILD_TYPE=Release -DOFFERD_BUILD_TESTS=OFF \
      -DOFFERD_WERROR=OFF -DCMAKE_C_FLAGS="-g -fno-omit-frame-pointer" >/dev/null
cmake --build build-bench-prof --target offerd -j"$(nproc)" >/dev/null

driver_pid=""
cleanup() {
  if [ -n "$driver_pid" ] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid" 2>/dev/null || true
    wait "$driver_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 "$here/profile_offerd.py" --offerd "$root/build-bench-prof/src/server/offerd" &
driver_pid=$!
wait "$driver_pid"
status=$?
driver_pid=""
exit "$status"
