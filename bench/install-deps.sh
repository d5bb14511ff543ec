#!/usr/bin/env bash
# bench/install-deps.sh - installs the Debian 12 packages the benchmark needs, when any is missing.
#
# wrk (load), nginx (the static-file ceiling), gnuplot (the chart), nodejs + npm (the Node.js and
# Next.js references), curl (the ETag pre-pass), python3 (the database generator), and the build
# tools offerd itself needs (scripts/install-deps.sh). perf and valgrind are for the profile.
# Idempotent and quiet when everything is there already.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/../scripts/install-deps.sh"

packages=(wrk nginx-light gnuplot-nox curl python3 valgrind linux-perf)
# Node.js: better-sqlite3 12 and Next.js 16 need Node.js >= 20 (this project's machine image ships
# 20). Debian 12's own nodejs is 18, so it is only a fallback when there is no node at all, and the
# version is checked at the end.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi
check_node() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$major" -lt 20 ]; then
    echo "bench: Node.js >= 20 is needed (better-sqlite3 12, Next.js 16); found $(node --version 2>/dev/null || echo none)" >&2
    exit 1
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nginx: any flavour will do (nginx, nginx-light, nginx-core, ...).
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  missing=("${missing[@]/nginx-light}")
fi
# perf: linux-perf on Debian 12; accept any perf already on PATH.
if command -v perf >/dev/null; then
  missing=("${missing[@]/linux-perf}")
fi
# gnuplot: any flavour.
if command -v gnuplot >/dev/null; then
  missing=("${missing[@]/gnuplot-nox}")
fi
clean=()
for p in "${missing[@]}"; do [ -n "$p" ] && clean+=("$p"); done
if [ ${#clean[@]} -eq 0 ]; then
  check_node
  exit 0
fi

echo "installing: ${clean[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${clean[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${clean[@]}" >/dev/null
check_node
