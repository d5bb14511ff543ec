#!/usr/bin/env bash
# bench/realtime/run.sh - issue #5's real-time benchmark: offerd against nchan, in one run.
#
#   bench/realtime/run.sh             full run: N = 1,000 and 10,000; long-poll, SSE and WebSocket;
#                                     3 rounds; then a --connection-memory sweep (4-8 minutes)
#   BENCH_MODES=ws BENCH_SWEEP= bench/realtime/run.sh
#                                     WebSocket only (its own section of the results doc)
#   bench/realtime/run.sh --quick     1 round, no sweep (about 1 minute)
#   bench/realtime/run.sh --profile [longpoll|sse] [N] [hold|wake]
#                                     perf profile of offerd (RelWithDebInfo) in one phase
#
# Installs what is missing (Debian packages nginx-light, libnginx-mod-nchan; linux-perf for
# --profile), builds offerd (build-rt/, Release, the offerd target only) and the load client
# (bench/realtime/build/holdpoll, plain cc -O2 -lcrypto), raises the open-file limit, then runs
# bench/realtime/rt.py, which starts and stops every server itself on 127.0.0.1, prints the
# tables and writes bench/realtime/results/results.json and the results section of
# docs/benchmarks-realtime.md. Knobs (environment): BENCH_NS, BENCH_ROUNDS, BENCH_MODES,
# BENCH_SYSTEMS, BENCH_THREADS, BENCH_SWEEP, BENCH_SWEEP_N, BENCH_SWEEP_MODES, ... (see rt.py);
# BENCH_OFFERD_REV=HEAD (or any commit) benchmarks a clean export of that commit instead of the
# working tree.
# Everything it starts is stopped on exit (by pid), and its temporary directory removed.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

profile=0
profile_args=()
command_line="bench/realtime/run.sh${*:+ $*}"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) export BENCH_ROUNDS="${BENCH_ROUNDS:-1}" BENCH_SWEEP="${BENCH_SWEEP-}" ;;
    --profile) profile=1; shift; profile_args=("$@"); break ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "${BENCH_OFFERD_REV:-}" ] && command_line="BENCH_OFFERD_REV=$BENCH_OFFERD_REV $command_line"
# The knobs that change what is measured go into the recorded command too.
for knob in BENCH_SWEEP BENCH_ROUNDS BENCH_NS BENCH_MODES; do
  if [ -n "${!knob+x}" ]; then command_line="$knob=${!knob} $command_line"; fi
done
export BENCH_COMMAND="${BENCH_COMMAND:-$command_line}"

step() { printf '[rt %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

driver_pid=""
cleanup() {
  # rt.py stops the servers and clients it started (by pid); this makes sure rt.py is gone.
  if [ -n "$driver_pid" ] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid" 2>/dev/null || true
    wait "$driver_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "dependencies"
need=()
command -v nginx >/dev/null || need+=(nginx-light)
[ -e /usr/lib/nginx/modules/ngx_nchan_module.so ] || need+=(libnginx-mod-nchan)
command -v cc >/dev/null || need+=(gcc)
command -v cmake >/dev/null || need+=(cmake)
command -v python3 >/dev/null || need+=(python3)
[ "$profile" = 1 ] && ! command -v perf >/dev/null && need+=(linux-perf)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi
if ! pkg-config --exists libmicrohttpd jansson sqlite3 libjwt 2>/dev/null; then
  step "installing offerd's build dependencies"
  scripts/install-deps.sh >/dev/null 2>&1 || { echo "scripts/install-deps.sh failed" >&2; exit 1; }
fi

mkdir -p "$here/build"
if [ -n "${BENCH_OFFERD_REV:-}" ]; then
  # A committed revision, exported clean (nobody's edits in progress end up in the numbers).
  rev="$(git rev-parse --short "$BENCH_OFFERD_REV")"
  src="$here/build/src-$rev"
  step "building offerd at $rev ($src, Release) and holdpoll"
  if [ ! -d "$src" ]; then
    mkdir -p "$src.tmp" && git archive "$rev" | tar -x -C "$src.tmp" && mv "$src.tmp" "$src"
  fi
  cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DOFFERD_BUILD_TESTS=OFF -DOFFERD_WERROR=OFF >/dev/null
  cmake --build "$src/build" -j2 --target offerd >/dev/null
  export OFFERD_BIN="$src/build/src/server/offerd" BENCH_OFFERD_DESC="git $rev (clean export)"
else
  step "building offerd (build-rt, Release, the working tree) and holdpoll"
  cmake -S . -B build-rt -DCMAKE_BUILD_TYPE=Release -DOFFERD_BUILD_TESTS=OFF -DOFFERD_WERROR=OFF >/dev/null
  cmake --build build-rt -j2 --target offerd >/dev/null
  export OFFERD_BIN="$root/build-rt/src/server/offerd"
fi
cc -O2 -std=c11 -Wall -Wextra -o "$here/build/holdpoll" "$here/holdpoll.c" -lcrypto
export HOLDPOLL_BIN="$here/build/holdpoll"

# Each process holds up to 10,000 sockets (more with BENCH_NS): lift the hard limit if we may.
ns="${BENCH_NS:-1000,10000}"
max_n=$(printf '%s\n' ${ns//,/ } ${BENCH_SWEEP_N:-} | sort -n | tail -1)
want_fds=$(( max_n * 2 + 4096 ))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
  ulimit -Hn "$want_fds" 2>/dev/null || step "cannot raise the hard open-file limit ($(ulimit -Hn)); N is capped by it"
fi
ulimit -Sn "$(ulimit -Hn)"
step "open-file limit $(ulimit -n)"

if [ "$profile" = 1 ]; then
  step "building offerd with symbols (bench/realtime/build/offerd-rwdi, RelWithDebInfo)"
  cmake -S . -B "$here/build/offerd-rwdi" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOFFERD_BUILD_TESTS=OFF \
        -DOFFERD_WERROR=OFF >/dev/null
  cmake --build "$here/build/offerd-rwdi" -j2 --target offerd >/dev/null
  OFFERD_BIN="$here/build/offerd-rwdi/src/server/offerd" python3 "$here/profile.py" "${profile_args[@]}" &
else
  step "running rt.py"
  python3 "$here/rt.py" &
fi
driver_pid=$!
wait "$driver_pid"
status=$?
driver_pid=""
exit "$status"
