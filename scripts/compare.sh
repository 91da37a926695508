#!/usr/bin/env bash
# Herald and Kamailio side by side on this machine (issues 7 and 27): installs what is missing
# (Kamailio with its presence and SQLite modules, SIPp, gnuplot), builds build/release's
# herald with the settings scripts/bench.sh uses, then runs bench/compare.py, which writes
# bench/results/<date>-compare.md and .png (sides: Herald workers = 1 and 2, Kamailio with 2
# and 4 workers per transport, w2 and w4). Arguments go to bench/compare.py, e.g.
#   scripts/compare.sh --quick
#   scripts/compare.sh --scenarios register,message --seconds 10
#   scripts/compare.sh --herald-workers 1 --kamailio-variants w2   # the single pair of issue 7
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"

"$root/scripts/deps.sh"   # the build's packages and SIPp, when missing

need=()
for p in kamailio kamailio-presence-modules kamailio-sqlite-modules gnuplot-nox; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  echo "compare: installing ${need[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
  # the package's own service is not wanted: the harness starts and stops its own instances
  if command -v systemctl >/dev/null && systemctl is-active --quiet kamailio 2>/dev/null; then
    "${sudo_cmd[@]}" systemctl stop kamailio || true
  fi
fi

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
  -DHERALD_TESTS=OFF -DHERALD_BENCH=ON -DHERALD_SANITIZE=OFF -DHERALD_FUZZ=OFF >/dev/null
ninja -j"$(nproc)" -C "$build" herald

exec python3 "$root/bench/compare.py" --herald "$build/src/app/herald" "$@"
