#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ (clang, AddressSanitizer + UndefinedBehaviorSanitizer,
# leak detection) and runs each one for SECONDS_PER_TARGET seconds (default 10, the CI smoke run)
# from a temporary copy of its seed corpus fuzz/corpus/<target>/, after replaying every saved
# crash in fuzz/regressions/<target>/. Exits non-zero if any target crashes, leaks, times out or
# runs out of memory; the input that did it is kept and its path printed.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# Environment (all optional; see docs/fuzzing.md for a longer campaign):
#   FUZZ_TARGETS="router etag"  only these targets (default: all)
#   FUZZ_JOBS=N                 N parallel fuzzing processes per target (default 1)
#   FUZZ_MERGE=1                merge inputs that found new coverage back into fuzz/corpus/
#   FUZZ_WORK=DIR               keep corpora, logs and crash inputs in DIR (default: a temp dir,
#                               removed at the end unless something failed)
#   FUZZ_BUILD_DIR=DIR          build directory (default build-fuzz)
#   FUZZ_ARGS="-use_value_profile=1 ..."  extra libFuzzer flags for every run
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
seconds=${1:-10}
case "$seconds" in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac
start=$(date +%s)

all_targets=(router query request_body money auth_headers auth_verify etag config offer_codec
             client_addr http_head)
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"
jobs=${FUZZ_JOBS:-1}
build=${FUZZ_BUILD_DIR:-build-fuzz}
read -r -a extra_args <<<"${FUZZ_ARGS:-}"

# Largest input each target is given: room for what it parses, no more (shorter is faster).
max_len() {
  case "$1" in
    router) echo 512 ;; query) echo 256 ;; request_body) echo 4096 ;; money) echo 256 ;;
    auth_headers) echo 2048 ;; auth_verify) echo 2048 ;; etag) echo 512 ;; config) echo 1024 ;;
    offer_codec) echo 4096 ;; client_addr) echo 512 ;; http_head) echo 2048 ;; *) echo 1024 ;;
  esac
}

# --- tools: the project's packages, then clang 14 and its sanitizer/libFuzzer runtimes ---
scripts/install-deps.sh
need=()
command -v clang-14 >/dev/null || need+=(clang)
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed" ||
  need+=(libclang-rt-14-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
cc=$(command -v clang-14 || command -v clang)

# --- build: the whole tree instrumented for coverage and sanitizers, the fuzzers linked with
# libFuzzer. OFFERD_WERROR=OFF because clang 14 warns (-Wformat-nonliteral) where GCC does not;
# fuzz/*.c itself is still built with -Werror. ---
echo "== building fuzz targets with $cc in $build"
CC=$cc cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOFFERD_BUILD_FUZZ=ON \
  -DOFFERD_BUILD_TESTS=OFF -DOFFERD_WERROR=OFF -DOFFERD_SANITIZE=address,undefined \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz

keep_work=0
if [ -n "${FUZZ_WORK:-}" ]; then
  work=$FUZZ_WORK
  keep_work=1
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/offerd-fuzz.XXXXXX")
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$repo/$build/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "no such fuzz target: $t" >&2; exit 2; }
  dir="$work/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  if [ -d "fuzz/corpus/$t" ]; then cp -R "fuzz/corpus/$t/." "$dir/corpus/"; fi

  # Every crash ever found stays fixed.
  shopt -s nullglob
  regressions=(fuzz/regressions/"$t"/*)
  shopt -u nullglob
  if [ ${#regressions[@]} -gt 0 ]; then
    if ! "$bin" -detect_leaks=1 "${regressions[@]}" >"$dir/regressions.log" 2>&1; then
      echo "!! $t: a saved regression input fails again (see $dir/regressions.log)" >&2
      tail -n 30 "$dir/regressions.log" >&2
      failed+=("$t(regression)")
    fi
  fi

  echo "== fuzz_$t: ${seconds}s, max_len $(max_len "$t"), $jobs job(s)"
  args=(-max_total_time="$seconds" -max_len="$(max_len "$t")" -detect_leaks=1 -timeout=10
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/"
        "${extra_args[@]}")
  [ -f "fuzz/dict/$t.dict" ] && args+=(-dict="$repo/fuzz/dict/$t.dict")
  rc=0
  if [ "$jobs" -gt 1 ]; then
    (cd "$dir" && "$bin" "${args[@]}" -jobs="$jobs" -workers="$jobs" corpus >fuzz.log 2>&1) || rc=$?
    cat "$dir"/fuzz-*.log >>"$dir/fuzz.log" 2>/dev/null || true
  else
    (cd "$dir" && "$bin" "${args[@]}" corpus >fuzz.log 2>&1) || rc=$?
  fi
  shopt -s nullglob
  found=("$dir"/artifacts/*)
  shopt -u nullglob
  # The last status line, and the final stats summed over jobs.
  last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$dir/fuzz.log" |
    tail -n 1 || true)
  execs=$(awk '/^stat::number_of_executed_units/ {s += $2} END {print s + 0}' "$dir/fuzz.log")
  speed=$(awk '/^stat::average_exec_per_sec/ {s += $2} END {print s + 0}' "$dir/fuzz.log")
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
  summary+=("$(printf '%-13s %10s execs %7s exec/s  cov %5s  ft %6s  corpus %5s' \
    "$t" "$execs" "$speed" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
  if [ "$rc" -ne 0 ] || [ ${#found[@]} -gt 0 ]; then
    echo "!! fuzz_$t failed (exit $rc); log: $dir/fuzz.log" >&2
    grep -E 'ERROR: |SUMMARY: |property failed|runtime error' "$dir/fuzz.log" |
      head -n 10 >&2 || true
    for f in "${found[@]}"; do echo "   input: $f" >&2; done
    echo "   reproduce: $bin <input>" >&2
    failed+=("$t")
  fi

  if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$rc" -eq 0 ]; then
    mkdir -p "fuzz/corpus/$t"
    "$bin" -merge=1 -max_len="$(max_len "$t")" "fuzz/corpus/$t" "$dir/corpus" \
      >"$dir/merge.log" 2>&1 || {
      echo "!! merge failed for $t (see $dir/merge.log)" >&2
      failed+=("$t(merge)")
    }
    echo "   merged: fuzz/corpus/$t now $(find "fuzz/corpus/$t" -type f | wc -l) files"
  fi
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
echo "total time: $(($(date +%s) - start))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (work dir kept: $work)" >&2
  exit 1
fi
[ "$keep_work" = 1 ] || rm -rf "$work"
echo "all fuzz targets passed"
