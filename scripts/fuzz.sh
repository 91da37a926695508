#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build/fuzz and runs each one for a
# share of SECONDS (default 60) on a scratch copy of its seed corpus, with the SIP dictionary.
# Exits non-zero as soon as a target reports a crash, leak, timeout or sanitizer error; the
# reproducer is left in build/fuzz/artifacts/<target>/. Assumes scripts/deps.sh has run.
#
#   scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]
#   reproduce:  build/fuzz/fuzz/sip_message_fuzz build/fuzz/artifacts/sip_message_fuzz/crash-...
#   minimize:   build/fuzz/fuzz/sip_message_fuzz -minimize_crash=1 -runs=100000 crash-...
set -euo pipefail

seconds=${1:-60}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/fuzz"
targets=(sip_message_fuzz sip_header_fuzz pidf_fuzz stream_framer_fuzz digest_fuzz pidf_roundtrip_fuzz)
declare -A corpus=([sip_message_fuzz]=sip_message [sip_header_fuzz]=sip_header [pidf_fuzz]=pidf
                   [stream_framer_fuzz]=stream_framer [digest_fuzz]=digest [pidf_roundtrip_fuzz]=pidf_roundtrip)

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DHERALD_SANITIZE=ON -DHERALD_FUZZ=ON -DHERALD_TESTS=OFF -DHERALD_BENCH=OFF >/dev/null
ninja -j2 -C "$build" "${targets[@]}"

# Each target gets an equal share of the time, at least 1 s.
per_target=$(( seconds / ${#targets[@]} ))
(( per_target >= 1 )) || per_target=1

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for t in "${targets[@]}"; do
  work="$build/corpus/$t"        # scratch: the seed corpus in the repo stays untouched
  artifacts="$build/artifacts/$t/"
  mkdir -p "$work" "$artifacts"
  cp -n "$root/fuzz/corpus/${corpus[$t]}/"* "$work/" 2>/dev/null || true
  echo "fuzz: $t for ${per_target}s (corpus $work)" >&2
  rc=0
  "$build/fuzz/$t" "$work" \
    -max_total_time="$per_target" -rss_limit_mb=2048 -timeout=10 -detect_leaks=1 \
    -dict="$root/fuzz/sip.dict" -artifact_prefix="$artifacts" -print_final_stats=1 "$@" \
    || rc=$?
  if (( rc != 0 )); then
    echo "fuzz: $t FAILED (exit $rc); reproducer in $artifacts" >&2
    status=$rc
    break
  fi
done
exit "$status"
