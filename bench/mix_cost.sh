#!/usr/bin/env bash
# bench/mix_cost.sh - what one write costs next to one poll (issue #6's mixed-load target).
#
#   bench/mix_cost.sh [--rounds N]     about 40 s per round (default 3)
#
# Builds offerd (Release, build-bench/), then runs bench/mix_cost.py: pure reads and the 95/5 mix
# with wrk, alternating, measuring per-thread CPU; prints the cost of a write in polls and the
# read ratio that cost allows. Installs wrk if missing (bench/install-deps.sh).
#
# SPDX-License-Identifier: MIT
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"
command -v wrk >/dev/null || "$here/install-deps.sh"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DOFFERD_BUILD_TESTS=OFF \
      -DOFFERD_WERROR=OFF >/dev/null  # the same build as bench/run.sh
cmake --build build-bench --target offerd -j"$(nproc)" >/dev/null
exec python3 "$here/mix_cost.py" --offerd "$root/build-bench/src/server/offerd" "$@"
