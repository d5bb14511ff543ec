#!/usr/bin/env bash
# Browser tests: headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core against a
# real offerd. Usage: tests/browser/run.sh [path/to/offerd]  (default: build/src/server/offerd).
# Saves the demo page's screenshot to $OFFERD_SCREENSHOT (default tests/browser/out/demo-page.png).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export OFFERD_BIN="$(realpath "${1:-$here/../../build/src/server/offerd}")"
cd "$here"
[ -x "$OFFERD_BIN" ] || { echo "no offerd at $OFFERD_BIN: build first" >&2; exit 1; }
command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null || { echo "needs chromium (apt-get install chromium)" >&2; exit 1; }
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
timeout 300 node --test demo.test.mjs
