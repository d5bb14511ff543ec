#!/usr/bin/env bash
# bench/write_instructions.sh - instructions per write and per poll, per offerd thread kind.
#
#   bench/write_instructions.sh [--writes N] [--polls N]     about 30 s
#
# Builds offerd (Release, build-rel/), then runs bench/write_instructions.py: offerd under
# valgrind's callgrind with a small fixed load. Instruction counts do not move with the machine's
# other load, so this can compare two builds of the write path while benchmarks run elsewhere.
#
# SPDX-License-Identifier: MIT
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"
cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DOFFERD_BUILD_TESTS=OFF \
      -DOFFERD_WERROR=OFF >/dev/null  # the same flags as bench/mix_cost.sh
cmake --build build-rel --target offerd -j2 >/dev/null
exec python3 "$here/write_instructions.py" --offerd "$root/build-rel/src/server/offerd" "$@"
