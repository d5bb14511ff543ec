#!/usr/bin/env bash
# Builds everything and runs every test: a normal build, whose integration tests run twice, on
# SQLite files and on PostgreSQL; the SQLite integration tests again with offerd under valgrind
# memcheck; the JS client's tests and the browser tests of the demo page; then everything (both
# stores) under AddressSanitizer + UndefinedBehaviorSanitizer. Each test starts its own offerd on
# 127.0.0.1:0 with a temporary SQLite file or a fresh PostgreSQL database and stops it. The PostgreSQL server
# is a throw-away cluster this script starts (pg_virtualenv) and removes, once per pass that needs
# it, one after the other; nothing else needs to be running.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
# Every ctest run fails when it finds no test: a build configured without tests must never pass
# as green (it once did, after scripts/run-demo.sh had configured build/ with tests off).
ctest_all() { ctest --output-on-failure --no-tests=error -j"$jobs" "$@"; }

echo "== build and test (RelWithDebInfo), the integration tests on SQLite and on PostgreSQL"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOFFERD_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
# pg_virtualenv (Debian's postgresql-common) creates a throw-away cluster, exports PG* for the
# command and removes the cluster when it ends; the integration_pg/ tests each make their own
# databases in it. fsync on, as in production: the durability test kills offerd mid-write. Room
# for many connections: each offerd holds one per HTTP thread (one per core by default) plus its
# writer's and listener's, and ctest runs a test per core. Run as root, pg_virtualenv can run only
# one cluster at a time: this script starts its clusters one after the other, never two at once.
# OFFERD_TEST_REQUIRE_PG=1: a PostgreSQL test that finds no server fails, never skips.
# A run killed mid-way (a machine restart) leaves pg_virtualenv's "regress" cluster behind, or
# only its /etc/postgresql/<v>/regress directory with pg_virtualenv's marker file in it, and
# pg_virtualenv then refuses to start ("Cluster 15/regress exists"). A stopped one pg_virtualenv
# made is debris and is removed; a running one belongs to another run: this run stops and says so.
clear_stale_cluster() {
  [ "$(id -u)" = 0 ] || return 0   # as another user pg_virtualenv uses a private temporary directory
  local dir ver
  for dir in /etc/postgresql/*/regress; do
    [ -f "$dir/.by_pg_virtualenv" ] || continue
    ver=$(basename "$(dirname "$dir")")
    if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "regress" && $4 == "online"' |
       grep -q .; then
      echo "cluster $ver/regress is running: another test run is using it; stop that first" >&2
      exit 1
    fi
    echo "removing the stale throw-away cluster $ver/regress a killed run left behind"
    if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "regress"' | grep -q .; then
      pg_dropcluster "$ver" regress || true
    fi
    rm -rf "$dir"
  done
}
clear_stale_cluster
(cd build && OFFERD_TEST_REQUIRE_PG=1 pg_virtualenv -o fsync=on -o max_connections=500 -- \
   ctest --output-on-failure --no-tests=error -j"$jobs")

# The valgrind pass runs the SQLite side (-LE postgresql): valgrind makes every request many times
# slower, and store/postgresql/ gets its memory checks in the sanitizer pass below.
echo "== integration tests with offerd under valgrind memcheck (any error fails), on SQLite"
(cd build && OFFERD_TEST_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect" \
   ctest_all -L integration -LE postgresql)

echo "== JS client (clients/js) and the demo page in headless Chromium (tests/browser)"
OFFERD_BIN="$PWD/build/src/server/offerd" clients/js/run-tests.sh
OFFERD_SCREENSHOT="$PWD/build/demo-page.png" tests/browser/run.sh build/src/server/offerd

echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer, on SQLite and PostgreSQL"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DOFFERD_SANITIZE=address,undefined \
      -DOFFERD_BUILD_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs"
# A second throw-away cluster, started after the first one is gone (one at a time, as above).
clear_stale_cluster
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 OFFERD_TEST_REQUIRE_PG=1 \
   pg_virtualenv -o fsync=on -o max_connections=500 -- \
   ctest --output-on-failure --no-tests=error -j"$jobs")
