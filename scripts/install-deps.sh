#!/usr/bin/env bash
# Installs the Debian 12 packages libtodo needs to build, test and benchmark.
# Usage: scripts/install-deps.sh [runtime|test]   (default: test = everything)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config ca-certificates
            libsqlitecpp-dev libsqlite3-dev libcpp-httplib-dev nlohmann-json3-dev libssl-dev
            libpqxx-dev libpq-dev libsodium-dev)
# postgresql: the tests start a real server of their own (never the system's cluster).
# chromium: the browser test of the /docs page (headless).
# clang, libclang-rt-14-dev: the libFuzzer targets (libFuzzer itself is only a
# recommendation of clang, so it is named here).
test_pkgs=(catch2 curl postgresql python3 chromium clang libclang-rt-14-dev)

want=("${build_pkgs[@]}")
if [ "${1:-test}" = test ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The interop tests run real Better Auth on Node.js 20 (the machine image ships
# it; Debian's own nodejs package is only a fallback).
if [ "${1:-test}" = test ] && ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
