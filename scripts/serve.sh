#!/usr/bin/env bash
# Builds Herald (optimised) and starts `herald serve` on its defaults: UDP and TCP on
# 127.0.0.1:5060, data in ./var. Installs missing Debian packages first. Extra arguments go
# to `herald serve` (e.g. --config etc/herald.toml, --log-level debug).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
"$root/scripts/deps.sh"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHERALD_TESTS=OFF -DHERALD_BENCH=OFF >/dev/null
ninja -j2 -C "$build" herald
cd "$root"
exec "$build/src/app/herald" serve "$@"
