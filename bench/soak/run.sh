#!/usr/bin/env bash
# bench/soak/run.sh - issue #7's soak test: mixed real-time load on one offerd, RSS and fds watched.
#
#   bench/soak/run.sh [SECONDS]    load for SECONDS (default 600, at most 600, at least 60),
#                                  after a ~20 s prewarm and before a drain of at most 90 s
#                                  (~30 s in practice): about SECONDS + 2 minutes in all
#
# Installs what is missing (scripts/install-deps.sh, gnuplot-nox), builds offerd (build-soak/,
# Release, the offerd target only), makes the 10,000-offer database with bench/gen_db.py, starts
# offerd on 127.0.0.1:0 with the default limits (20 req/s per user, burst 40, 32 held per user),
# runs the load driver bench/soak/soak.py (Python 3 standard library, asyncio), stops offerd with
# SIGTERM, then bench/soak/report.py writes bench/soak/results/<stamp>.{csv,json,png} and the
# results in docs/soak.md. Exit status 0 when the soak passed, 1 when it failed, 2 on bad usage.
# Knobs (environment, see soak.py and docs/soak.md): SOAK_POLL_TABS, SOAK_LONGPOLLS, SOAK_SSE,
# SOAK_SSE_MULTI, SOAK_DECISIONS, SOAK_CREATES, SOAK_HOT, SOAK_WARMUP, SOAK_WARMUP_MIN,
# SOAK_PREWARM, SOAK_MALLOC_STATS (gdb attaches every 30 s for malloc_stats), SOAK_SEED,
# SOAK_DOC (docs/soak.md; "" leaves the docs alone).
# Everything it starts is stopped on exit (by pid) and its temporary directory removed.
#
# SPDX-License-Identifier: MIT
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

case "${1:-}" in
  -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
seconds="${1:-600}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ $# -gt 1 ]; then
  echo "usage: bench/soak/run.sh [SECONDS]   (60..600, default 600)" >&2
  exit 2
fi
[ "$seconds" -gt 600 ] && { echo "soak: capping $seconds s at 600 s" >&2; seconds=600; }
[ "$seconds" -lt 60 ] && { echo "soak: raising $seconds s to 60 s (the slope needs samples)" >&2; seconds=60; }

step() { printf '[soak %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

tmp=""
offerd_pid=""
driver_pid=""
cleanup() {
  local pid
  for pid in "$driver_pid" "$offerd_pid"; do
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "dependencies"
scripts/install-deps.sh
if ! command -v gnuplot >/dev/null || ! command -v python3 >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends gnuplot-nox python3 >/dev/null
fi

step "building offerd (build-soak, Release)"
cmake -S . -B build-soak -DCMAKE_BUILD_TYPE=Release -DOFFERD_BUILD_TESTS=OFF \
      -DOFFERD_WERROR=OFF >/dev/null
cmake --build build-soak -j2 --target offerd >/dev/null
offerd="$root/build-soak/src/server/offerd"
# What was built: HEAD, the last commit that touched offerd's sources, uncommitted changes to them.
commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
server_commit="$(git log -1 --format=%h -- src/server migrations cmake CMakeLists.txt 2>/dev/null || true)"
[ -n "$server_commit" ] && [ "$server_commit" != "$commit" ] && commit="$commit (offerd sources as of $server_commit)"
[ -n "$(git status --porcelain -- src/server migrations cmake CMakeLists.txt 2>/dev/null)" ] &&
  commit="$commit + uncommitted changes"
python3 -m py_compile "$here/soak.py" "$here/report.py"   # the driver needs no build beyond this

tmp="$(mktemp -d /tmp/offerd-soak.XXXXXX)"
secret="offerd-soak-secret-not-for-production-0123456789"
step "database: 10,000 offers (bench/gen_db.py)"
python3 bench/gen_db.py --offerd "$offerd" --db "$tmp/offerd.db" --out "$tmp" \
        --secret "$secret" >/dev/null 2>&1

flags=(--bind 127.0.0.1 --port 0 --db "$tmp/offerd.db" --jwt-secret "$secret" --access-log=0)
step "starting offerd (${flags[*]/$secret/SECRET})"
"$offerd" "${flags[@]}" >"$tmp/offerd.out" 2>"$tmp/offerd.err" &
offerd_pid=$!
port=""
for _ in $(seq 150); do
  port="$(sed -n 's|^offerd listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$tmp/offerd.out")"
  [ -n "$port" ] && break
  kill -0 "$offerd_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "soak: offerd did not start:" >&2
  cat "$tmp/offerd.err" >&2
  exit 1
fi

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
results="$here/results"
mkdir -p "$results"
step "load for ${seconds}s on port $port (offerd pid $offerd_pid); results/$stamp.*"
set +e
timeout --signal=TERM --kill-after=10 $((seconds + 300)) \
  python3 "$here/soak.py" --pid "$offerd_pid" --port "$port" --db "$tmp/offerd.db" \
          --secret "$secret" --seconds "$seconds" --csv "$results/$stamp.csv" \
          --summary "$results/$stamp.json" \
          --offerd-log "$tmp/offerd.err" --offerd-flags "${flags[*]/$secret/SECRET}" &
driver_pid=$!
wait "$driver_pid"
driver_rc=$?
driver_pid=""
set -e
if [ ! -f "$results/$stamp.json" ]; then
  echo "soak: the driver failed (exit $driver_rc) before writing its summary" >&2
  exit 1
fi

step "stopping offerd (SIGTERM)"
t0="$(date +%s.%N)"
kill -TERM "$offerd_pid" 2>/dev/null || true   # (it may have died: wait reports how)
for _ in $(seq 150); do kill -0 "$offerd_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$offerd_pid" 2>/dev/null; then
  kill -KILL "$offerd_pid" 2>/dev/null || true
  offerd_rc=137
  wait "$offerd_pid" 2>/dev/null || true
else
  set +e; wait "$offerd_pid"; offerd_rc=$?; set -e
fi
t1="$(date +%s.%N)"
offerd_pid=""

step "report"
set +e
python3 "$here/report.py" --summary "$results/$stamp.json" --csv "$results/$stamp.csv" \
        --png "$results/$stamp.png" --doc "${SOAK_DOC-docs/soak.md}" \
        --command "bench/soak/run.sh $seconds" --commit "$commit" --offerd-exit "$offerd_rc" \
        --shutdown-s "$(python3 -c "print(round($t1 - $t0, 2))")" \
        --offerd-log "$tmp/offerd.err"
rc=$?
set -e
exit "$rc"
