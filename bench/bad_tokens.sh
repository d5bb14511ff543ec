#!/usr/bin/env bash
# bench/bad_tokens.sh - what a flood of forged RS256 tokens costs a signed-in user's polls.
#
# offerd verifies with an RS256 public key (as with an identity provider). A legitimate client
# (wrk, 1 connection, a valid token verified once beforehand) polls one offer; an attacker (wrk,
# 4 connections, every request a new forged token: valid header and claims, random signature)
# runs beside it from the same address. Two configurations of one binary, interleaved per round:
#   guard off  --auth-fail-limit 0 --failed-token-cache 0: every forged token costs a signature
#              check (offerd before the failed-authentication guard);
#   guard on   the defaults: past 20 failures at once, 1 per second per address, 429 without crypto.
# Each round measures the legitimate client alone, then under the flood. Loopback only, bounded
# (about 25 s per configuration per round). Prints a Markdown table; BENCH_ROUNDS (3),
# BENCH_SECONDS (8), BENCH_ATTACKERS (4) and BENCH_THREADS (1) tune it. One request thread by
# default, so the poller always shares it with the flood: with two, which thread the poller's
# connection lands on decides the result (the same configuration measured 0.04 ms and 3 ms p50).
#
# SPDX-License-Identifier: MIT
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"
rounds=${BENCH_ROUNDS:-3}
seconds=${BENCH_SECONDS:-8}
attackers=${BENCH_ATTACKERS:-4}
threads=${BENCH_THREADS:-1}

"$root/scripts/install-deps.sh" --build
for tool in wrk openssl curl; do
  if ! command -v "$tool" >/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends wrk openssl curl >/dev/null
    break
  fi
done
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DOFFERD_BUILD_TESTS=OFF \
      -DOFFERD_WERROR=OFF >/dev/null
cmake --build build-bench --target offerd -j"$(nproc)" >/dev/null
offerd="$root/build-bench/src/server/offerd"

work=$(mktemp -d)
offerd_pid=""
attack_pid=""
cleanup() {
  [ -n "$attack_pid" ] && kill "$attack_pid" 2>/dev/null && wait "$attack_pid" 2>/dev/null
  [ -n "$offerd_pid" ] && kill "$offerd_pid" 2>/dev/null && wait "$offerd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/key.pem" 2>/dev/null
openssl pkey -in "$work/key.pem" -pubout -out "$work/pub.pem"
head=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
exp=$(( $(date +%s) + 3600 ))
body=$(printf '{"sub":"user_demo_alice","exp":%d}' "$exp" | b64url)
sig=$(printf '%s.%s' "$head" "$body" | openssl dgst -sha256 -sign "$work/key.pem" | b64url)
good="$head.$body.$sig"

cat >"$work/legit.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $good"
EOF
# Every request a token never seen before: the failed-token cache cannot help, only the limit.
cat >"$work/forged.lua" <<EOF
local head, body = "$head", "$body"
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local n = 0
math.randomseed(os.time())
request = function()
  n = n + 1
  local sig = {}
  for i = 1, 342 do
    local k = math.random(1, 64)
    sig[i] = alphabet:sub(k, k)
  end
  return wrk.format("GET", "/api/offers/demo_offer_1", {Authorization = "Bearer " .. head .. "." ..
    body .. "." .. table.concat(sig)})
end
EOF

start_offerd() { # extra flags...
  rm -f "$work"/db*
  "$offerd" --port 0 --db "$work/db" --demo --jwt-public-key "$work/pub.pem" --access-log=0 \
    --rate-limit 0 --threads "$threads" "$@" >"$work/out" 2>"$work/err" &
  offerd_pid=$!
  for _ in $(seq 1 200); do
    grep -q "listening on" "$work/out" 2>/dev/null && break
    sleep 0.05
  done
  base=$(grep -o 'http://[^ ]*' "$work/out" | head -1)
  curl -sf -o /dev/null -H "Authorization: Bearer $good" "$base/api/offers/demo_offer_1"
}
stop_offerd() { kill "$offerd_pid"; wait "$offerd_pid" || true; offerd_pid=""; }

# wrk's --latency output -> "req/s p50_ms p99_ms"
legit() {
  wrk -t1 -c1 -d"${seconds}s" --latency -s "$work/legit.lua" "$base/api/offers/demo_offer_1" |
    awk '/Requests\/sec/ {rps=$2}
         function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
         $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
         END {printf "%.0f %.3f %.3f\n", rps, p50, p99}'
}

results="$work/results"
: >"$results"
for round in $(seq 1 "$rounds"); do
  for config in off on; do
    flags=()
    [ "$config" = off ] && flags=(--auth-fail-limit 0 --failed-token-cache 0)
    start_offerd "${flags[@]}"
    alone=$(legit)
    wrk -t1 -c"$attackers" -d"$((seconds + 3))s" -s "$work/forged.lua" "$base/" >"$work/attack" &
    attack_pid=$!
    sleep 1
    flooded=$(legit)
    wait "$attack_pid" || true
    attack_pid=""
    attack_rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/attack")
    stop_offerd
    echo "$config $round $alone $flooded $attack_rps" >>"$results"
    echo "round $round guard $config: alone $alone | flooded $flooded | forged req/s $attack_rps" >&2
  done
done

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
col() { awk -v c="$1" -v k="$2" '$1==c {print $k}' "$results" | median; }
echo
echo "Forged RS256 tokens against a signed-in poller, $(nproc) cores, $threads request thread(s)," \
     "$rounds rounds x ${seconds}s, $attackers attacking connections; medians" \
     "($(git -C "$root" rev-parse --short HEAD))."
echo
echo "| guard | poller req/s alone | flooded | p50 ms alone | flooded | p99 ms alone | flooded | p99 flooded / alone | forged req/s answered |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for config in off on; do
  a_rps=$(col $config 3); a50=$(col $config 4); a99=$(col $config 5)
  f_rps=$(col $config 6); f50=$(col $config 7); f99=$(col $config 8); atk=$(col $config 9)
  ratio=$(awk -v f="$f99" -v a="$a99" 'BEGIN {printf "%.1fx", (a > 0 ? f / a : 0)}')
  echo "| $config | $a_rps | $f_rps | $a50 | $f50 | $a99 | $f99 | $ratio | $atk |"
done
