#!/usr/bin/env bash
# Builds a Release build (g++) in build/release and runs every micro-benchmark: sip/msg; the
# transaction layer, location service, registrar and NOTIFY (core_bench); presence documents;
# the client; the per-source limits, the throttle and the dialog token (security_bench). 5 repetitions, aggregates only (read the _median rows). Extra arguments go to
# each, e.g. scripts/bench.sh --benchmark_filter='BM_Parse/'
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
  -DHERALD_TESTS=OFF -DHERALD_BENCH=ON -DHERALD_SANITIZE=OFF -DHERALD_FUZZ=OFF >/dev/null
ninja -j2 -C "$build" msg_bench core_bench presence_bench client_bench security_bench

for bench in msg_bench core_bench presence_bench client_bench security_bench; do
  "$build/bench/$bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true "$@"
done
