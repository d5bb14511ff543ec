#!/bin/sh
# run-tests.sh - the JavaScript client's tests, for scripts/test.sh and by hand.
#
# Installs the devDependencies (React and react-test-renderer for the hook's tests, the ws package as
# the WebSocket class of the end-to-end tests) with `npm ci` when package-lock.json lists any,
# then runs node's own test runner. OFFERD_BIN names the offerd binary the end-to-end tests start
# (default: build/src/server/offerd of this repository).
#
# SPDX-License-Identifier: MIT
set -eu

if [ -n "${OFFERD_BIN:-}" ]; then
    case "$OFFERD_BIN" in
        /*) ;;
        *) OFFERD_BIN="$(pwd)/$OFFERD_BIN" ;; # we change directory below
    esac
    export OFFERD_BIN
fi
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1; then
    echo "run-tests.sh: node (>= 18) is needed for the JavaScript client's tests" >&2
    exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
    echo "run-tests.sh: node $(node --version) is too old; the client needs >= 18" >&2
    exit 1
fi

if [ -f package-lock.json ] &&
    node -e 'const l = require("./package-lock.json");
             const root = (l.packages || {})[""] || {};
             process.exit(Object.keys(root.devDependencies || {}).length ? 0 : 1)'; then
    if command -v npm >/dev/null 2>&1; then
        npm ci --no-audit --no-fund
    else
        echo "run-tests.sh: npm not found: the React hook's and the WebSocket end-to-end tests will be skipped" >&2
    fi
fi

exec node --test test/*.test.js
