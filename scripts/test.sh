#!/usr/bin/env bash
# Builds Herald in its test configuration (ASan + UBSan, warnings as errors) and runs every
# test: unit tests, integration tests against the built binary (SIPp, sipsak, raw sockets),
# then each fuzz target for a bounded time. Installs missing Debian packages first.
#
#   scripts/test.sh            # everything (fuzzing: FUZZ_SECONDS, default 60)
#   FUZZ_SECONDS=0 scripts/test.sh   # skip fuzzing
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/test"
"$root/scripts/deps.sh"

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHERALD_SANITIZE=ON -DHERALD_WERROR=ON -DHERALD_TESTS=ON -DHERALD_BENCH=ON >/dev/null
ninja -j2 -C "$build"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure --timeout 900

# clang-tidy over the library that parses what the network sends, authentication, the services and the
# client library with its commands (the rest: scripts/tidy.sh; Asio-heavy files cost ~30 s each).
"$root/scripts/tidy.sh" "$root/src/sip/msg" "$root/src/sip/stack" "$root/src/services/auth" "$root/src/services/proxy" "$root/src/services/im" \
  "$root/src/services/events" "$root/src/services/presence" "$root/src/client" "$root/src/app/client_command.cpp"

fuzz_seconds=${FUZZ_SECONDS:-60}
if (( fuzz_seconds > 0 )); then
  "$root/scripts/fuzz.sh" "$fuzz_seconds"
fi
echo "scripts/test.sh: all tests passed"
