#!/usr/bin/env bash
# Installs the Debian 12 packages Herald's build, tests and benchmarks need, when missing.
# Safe to run repeatedly: it asks apt only for what dpkg does not already have.
set -euo pipefail

packages=(
  build-essential cmake ninja-build clang clang-tidy libclang-rt-14-dev
  libboost1.81-dev libssl-dev libpugixml-dev libsqlite3-dev sqlite3
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libxxhash-dev
  sip-tester sipsak sipvicious redis-server python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
