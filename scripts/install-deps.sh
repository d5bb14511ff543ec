#!/usr/bin/env bash
# Installs the Debian 12 packages offerd needs to build and test, when any is missing.
# Idempotent and quiet when everything is there already. `--build` installs only what building
# offerd and libofferpoll needs (scripts/run-demo.sh), not the test tools and browser.
set -euo pipefail

packages=(
  build-essential cmake pkg-config            # toolchain
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libjwt-dev libssl-dev  # offerd
  libyajl-dev                                 # offerd writes offers' JSON with yajl's generator
  libpq-dev                                   # offerd's PostgreSQL store (--db postgresql://)
  libhiredis-dev                              # offerd's Redis bus (--bus redis://)
  libwslay-dev                                # offerd's WebSocket framing (GET /api/ws)
  libcurl4-openssl-dev                        # libofferpoll, and the tests' HTTP client
)
if [ "${1:-}" != "--build" ]; then
  packages+=(
    libcmocka-dev valgrind sqlite3            # tests
    postgresql postgresql-common              # the PostgreSQL suite's own server (pg_virtualenv)
    redis-server                              # the Redis bus tests start their own redis-server
    chromium fonts-dejavu-core                # browser tests of the demo page (tests/browser)
    man-db groff-base mandoc                  # the install test renders and lints the man pages
  )
  # Node.js runs the JS client's tests and drives Chromium: Debian's nodejs + npm, unless a Node.js
  # with its own npm (as NodeSource's package has) is there already.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
