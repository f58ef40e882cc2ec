#!/usr/bin/env bash
# Builds libtodo and runs every test, twice: a normal build and one with
# AddressSanitizer + UndefinedBehaviorSanitizer; then builds the libFuzzer
# targets with clang and runs each for 15 seconds. Fails when any test fails
# or cannot run.
#   scripts/test.sh           all three builds
#   TODO_TEST_SANITIZE=0 scripts/test.sh   the normal build and the fuzz runs
#   TODO_TEST_FUZZ=0 scripts/test.sh       without the fuzz runs
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test
# The /docs page's assets (swagger-ui-dist, pinned in the lockfile): the docs tests need them.
npm ci --prefix adapters/http/docs-ui --ignore-scripts --no-audit --no-fund --loglevel=error
jobs=$(nproc)

run_suite() {  # name, extra cmake args...
  local dir="build/$1"; shift
  # Every part on, explicitly: a cached OFF from an earlier configure must not
  # quietly drop tests.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTODO_WITH_SQLITE=ON \
        -DTODO_WITH_POSTGRES=ON -DTODO_WITH_JWT=ON -DTODO_BUILD_SERVER=ON -DTODO_BUILD_TESTS=ON \
        -DTODO_BUILD_EXAMPLES=ON -DCMAKE_CXX_FLAGS="-Werror" "$@"
  cmake --build "$dir" -j"$jobs"
  # Twice as many tests as cores: most of them wait on sockets, child
  # processes or PostgreSQL; the ones that compile count as two (PROCESSORS).
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j"$((jobs * 2))"
}

# The normal build links shared libraries and the sanitizer build static ones,
# so every test runs against both: a public function missing its export macro
# (hidden in a shared library) fails the link here.
run_suite test -DBUILD_SHARED_LIBS=ON
if [ "${TODO_TEST_SANITIZE:-1}" != 0 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # -O1 with assertions on: the usual sanitizer build, and a third less
  # compile time than -O2 under instrumentation.
  run_suite asan -DTODO_SANITIZE=ON -DBUILD_SHARED_LIBS=OFF -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g"
fi
if [ "${TODO_TEST_FUZZ:-1}" != 0 ]; then
  # libFuzzer needs clang: a build directory of its own with only what the
  # fuzz targets link (tests/fuzz/README.md; tests/fuzz/run_long.sh is the long run).
  CXX=clang++ cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTODO_FUZZ=ON \
        -DTODO_WITH_SQLITE=ON -DTODO_WITH_JWT=ON -DTODO_WITH_POSTGRES=OFF -DTODO_BUILD_SERVER=ON \
        -DTODO_BUILD_TESTS=OFF -DTODO_BUILD_EXAMPLES=OFF -DCMAKE_CXX_FLAGS="-Werror"
  cmake --build build/fuzz -j"$jobs" --target libtodo_fuzz_targets
  ctest --test-dir build/fuzz --output-on-failure --no-tests=error -j"$jobs"
fi
echo "test.sh: all tests passed"
