#!/usr/bin/env bash
# Runs clang-tidy (checks in .clang-tidy, warnings are errors) over source files, using the
# compile commands of build/test (scripts/test.sh configures it) or build/dev. Exits non-zero
# when any check fires.
#
#   scripts/tidy.sh                 # every file under src/ (slow: Asio headers cost ~30 s a file)
#   scripts/tidy.sh src/sip/msg     # one folder (what scripts/test.sh runs)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/test"
[[ -f "$build/compile_commands.json" ]] || build="$root/build/dev"
mapfile -t files < <(find "${@:-$root/src}" -name '*.cpp' | sort)
log=$(mktemp)
printf '%s\n' "${files[@]}" | xargs -P 2 -n 4 clang-tidy -p "$build" --quiet >"$log" 2>&1
status=$?
grep -v -E '^[0-9]+ warnings generated|^Suppressed [0-9]+ warnings|^Use -header-filter' "$log" || true
rm -f "$log"
if (( status != 0 )); then
  echo "scripts/tidy.sh: clang-tidy found problems" >&2
  exit 1
fi
echo "scripts/tidy.sh: clean (${#files[@]} files)"
