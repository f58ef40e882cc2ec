#!/usr/bin/env bash
# Installs the Debian 12 packages libtodo needs to build, test and benchmark.
# Usage: scripts/install-deps.sh [runtime|test|bench]   (default: test)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config ca-certificates
            libsqlitecpp-dev libsqlite3-dev libcpp-httplib-dev nlohmann-json3-dev libssl-dev
            libpqxx-dev libpq-dev libsodium-dev)
# postgresql: the tests start a real server of their own (never the system's cluster).
# chromium: the browser test of the /docs page (headless).
# python3-prometheus-client: the metrics test parses /metrics with its parser.
# clang, libclang-rt-14-dev: the libFuzzer targets (libFuzzer itself is only a
# recommendation of clang, so it is named here).
test_pkgs=(catch2 curl postgresql python3 python3-prometheus-client chromium clang libclang-rt-14-dev)

# bench/run.sh: wrk drives the load; prepare.py mints tokens with openssl.
bench_pkgs=(wrk python3 openssl postgresql procps)

want=("${build_pkgs[@]}")
if [ "${1:-test}" = test ]; then want+=("${test_pkgs[@]}"); fi
if [ "${1:-test}" = bench ]; then want+=("${bench_pkgs[@]}"); fi

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
