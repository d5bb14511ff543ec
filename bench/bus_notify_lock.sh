#!/usr/bin/env bash
# bench/bus_notify_lock.sh - what NOTIFY's server-wide commit lock costs offer writes, and what
# skipping it (offerd with --bus redis alone: SET LOCAL offerd.notify = 'off', migration 0005)
# gives back. Issue #16.
#
#   . /work/pg.env; bench/bus_notify_lock.sh [CLIENTS...]     (default: 1 2 4 8 16)
#
# On the PostgreSQL server the PG* variables name: makes a database ($BENCH_PG_PREFIX, default
# offerd_bench_, + notifylock), migrates it with offerd (build-bench/, else build/), fills it with
# BENCH_OFFERS (2000) offers on as many products, then for each client count runs pgbench twice for
# BENCH_DURATION (10) s: each transaction updates one random offer (the triggers bump its version,
# log the change and, unless told not to, NOTIFY), once as any writer does, once after
# SET LOCAL offerd.notify = 'off'. Random offers among thousands: row locks almost never collide,
# so what serialises the commits is NOTIFY's lock. Drops the database at the end. Prints a table.
#
# SPDX-License-Identifier: MIT
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
offerd="$root/build-bench/src/server/offerd"
[ -x "$offerd" ] || offerd="$root/build/src/server/offerd"
pgbench="$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | tail -1)"
db="${BENCH_PG_PREFIX:-offerd_bench_}notifylock"
offers="${BENCH_OFFERS:-2000}"
duration="${BENCH_DURATION:-10}"
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(1 2 4 8 16)
tmp="$(mktemp -d)"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

dropdb --if-exists "$db" >/dev/null 2>&1 || true
createdb "$db"
"$offerd" migrate --db "postgresql:///$db" >/dev/null
psql -qX -v ON_ERROR_STOP=1 -d "$db" <<SQL
INSERT INTO users (id, clerk_id) VALUES ('u_seller', 'c_seller'), ('u_buyer', 'c_buyer');
INSERT INTO products (id, user_id, title, price)
  SELECT 'p' || i, 'u_seller', 'product ' || i, 20000 FROM generate_series(1, $offers) i;
INSERT INTO offers (id, amount, product_id, buyer_id, seller_id, expires_at)
  SELECT 'o' || i, 15000, 'p' || i, 'u_buyer', 'u_seller', offerd_now_ms() + 86400000
  FROM generate_series(1, $offers) i;
SQL
cat > "$tmp/notify.sql" <<SQL
\set n random(1, $offers)
BEGIN;
UPDATE offers SET message = 'bench ' || :n WHERE id = 'o' || :n;
COMMIT;
SQL
cat > "$tmp/quiet.sql" <<SQL
\set n random(1, $offers)
BEGIN;
SET LOCAL offerd.notify = 'off';
UPDATE offers SET message = 'bench ' || :n WHERE id = 'o' || :n;
COMMIT;
SQL

tps() { # script clients -> "tps average-latency-ms"
  "$pgbench" -n -c "$2" -j "$(( $2 < 2 ? 1 : 2 ))" -T "$duration" -f "$tmp/$1.sql" "$db" 2>"$tmp/pgbench.err" |
    awk '/^latency average/ {lat=$4} /^tps/ {tps=$3} END {printf "%.0f %.2f", tps, lat}'
}

echo "PostgreSQL $(psql -XAtc 'SHOW server_version' -d "$db"), $(nproc) cores, $offers offers, ${duration} s per cell"
echo
echo "| clients | with NOTIFY (tps) | avg ms | without (SET LOCAL offerd.notify = 'off') (tps) | avg ms | gain |"
echo "| --- | --- | --- | --- | --- | --- |"
for c in "${clients[@]}"; do
  read -r t1 l1 <<<"$(tps notify "$c")"
  read -r t2 l2 <<<"$(tps quiet "$c")"
  gain="$(awk -v a="$t1" -v b="$t2" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }')"
  echo "| $c | $t1 | $l1 | $t2 | $l2 | $gain |"
done
echo
echo "versions in the log: $(psql -XAtc 'SELECT count(*) FROM offer_changes' -d "$db") change rows"
