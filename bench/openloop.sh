#!/usr/bin/env bash
# bench/openloop.sh - open-loop writes next to wrk's reads (issue #18, item 2).
#
#   bench/openloop.sh [--rounds 3] [--duration 10] [--rate 500] [--conns 32] [--think-ms 100]
#   (or OPENLOOP_ROUNDS, OPENLOOP_DURATION, OPENLOOP_RATE, OPENLOOP_CONNS in the environment)
#
# About (warm-up 3 s + duration + 2 s) x 2 cells per round; the default run is about 1.5 minutes.
# Builds offerd as bench/run.sh does (build-bench/, Release, target offerd) and the open-loop
# writer (bench/openloop/writer.c, cc -O2, no library beyond libc), then runs bench/openloop.py,
# which starts and stops every process itself on 127.0.0.1 (its own children only) and writes
# bench/results/openloop.json and bench/results/openloop.md. Ctrl-C stops everything and removes
# the temporary directory.
#
# SPDX-License-Identifier: MIT
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"
case "${1:-}" in -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
command -v wrk >/dev/null || "$here/install-deps.sh"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DOFFERD_BUILD_TESTS=OFF \
      -DOFFERD_WERROR=OFF >/dev/null  # the same build as bench/run.sh
cmake --build build-bench --target offerd -j2 >/dev/null
mkdir -p build-bench/bench
writer="build-bench/bench/openloop-writer"
if [ ! -x "$writer" ] || [ "$here/openloop/writer.c" -nt "$writer" ]; then
  cc -O2 -std=c11 -Wall -Wextra -Werror -o "$writer" "$here/openloop/writer.c"
fi
exec python3 "$here/openloop.py" --offerd "$root/build-bench/src/server/offerd" \
     --writer "$root/$writer" "$@"
