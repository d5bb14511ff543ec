#!/usr/bin/env bash
# bench/pg.sh - issue #15's benchmark: offerd on PostgreSQL against SQLite, two instances behind
# nginx against one, and a write on one instance reaching 1,000 watchers on another.
#
#   bench/pg.sh            3 interleaved rounds of 10 s per cell, then the fan-out (about 12 minutes)
#   bench/pg.sh --quick    1 round of 5 s per cell, 8 writes per fan-out cell (about 4 minutes)
#
# PostgreSQL: with PG* variables set (PGHOST, PGPORT, PGUSER, PGPASSWORD, ...; a superuser, as
# the data is copied with triggers off), the benchmark uses that server and makes its databases
# there (named $BENCH_PG_PREFIX..., offerd_bench_ by default, all dropped at the end). Without them
# it runs itself under pg_virtualenv (Debian's postgresql-common), which makes a throw-away cluster
# for the run, with fsync on (SQLite syncs every commit too), and removes it afterwards.
# Installs what is missing (Debian packages: wrk, nginx-light, postgresql, gcc), builds offerd in
# build-bench/ (Release, as bench/run.sh) and holdpoll (bench/realtime/build/), raises the
# open-file limit, then runs bench/pg_bench.py, which starts and stops every process itself (by
# pid) on 127.0.0.1, writes bench/results/pg-results.json and the PostgreSQL section of
# docs/benchmarks.md. Knobs (environment): see bench/pg_bench.py.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

command_line="bench/pg.sh${*:+ $*}"
for arg in "$@"; do
  case "$arg" in
    --quick) export BENCH_DURATION="${BENCH_DURATION:-5}" BENCH_ROUNDS="${BENCH_ROUNDS:-1}" \
                    BENCH_WARMUP="${BENCH_WARMUP:-2}" BENCH_FANOUT_WRITES="${BENCH_FANOUT_WRITES:-8}" ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done
export BENCH_COMMAND="${BENCH_COMMAND:-$command_line}"

step() { printf '[pg %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -z "${BENCH_PG_INNER:-}" ]; then
  step "dependencies"
  need=()
  command -v wrk >/dev/null || need+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  command -v psql >/dev/null || need+=(postgresql-client)
  command -v pg_virtualenv >/dev/null || need+=(postgresql postgresql-common)
  command -v cc >/dev/null || need+=(gcc)
  if [ ${#need[@]} -gt 0 ]; then
    step "installing ${need[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
  fi
  if ! pkg-config --exists libmicrohttpd jansson sqlite3 libjwt libpq 2>/dev/null; then
    step "installing offerd's build dependencies"
    scripts/install-deps.sh >/dev/null 2>&1 || { echo "scripts/install-deps.sh failed" >&2; exit 1; }
  fi

  step "building offerd (build-bench, Release) and holdpoll"
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DOFFERD_BUILD_TESTS=OFF \
        -DOFFERD_WERROR=OFF >/dev/null
  cmake --build build-bench --target offerd -j2 >/dev/null
  mkdir -p "$here/realtime/build"
  cc -O2 -std=c11 -Wall -Wextra -o "$here/realtime/build/holdpoll" "$here/realtime/holdpoll.c"

  if [ -z "${PGHOST:-}${PGPORT:-}${PGDATABASE:-}${PGSERVICE:-}" ]; then
    step "no PG* variables: a throw-away PostgreSQL cluster from pg_virtualenv (fsync on)"
    BENCH_PG_INNER=1 exec pg_virtualenv -o fsync=on -o max_connections=200 "$0" "$@"
  fi
fi

# 1,000 held watchers, twice (instances A and B's sockets and holdpoll's), plus nginx's.
want_fds=16384
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then
  ulimit -Hn "$want_fds" 2>/dev/null || step "cannot raise the hard open-file limit ($(ulimit -Hn))"
fi
ulimit -Sn "$(ulimit -Hn)"

driver_pid=""
cleanup() {
  # pg_bench.py stops what it started and drops its databases; this makes sure it is gone.
  if [ -n "$driver_pid" ] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid" 2>/dev/null || true
    wait "$driver_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "running bench/pg_bench.py against PostgreSQL at ${PGHOST:-(socket)}:${PGPORT:-5432}"
python3 "$here/pg_bench.py" --offerd "$root/build-bench/src/server/offerd" \
        --holdpoll "$here/realtime/build/holdpoll" &
driver_pid=$!
wait "$driver_pid"
status=$?
driver_pid=""
exit "$status"
