#!/usr/bin/env bash
# Crash durability, long run: tests/reliability/crash_durability_test.cpp with
# many more kills than the test command's 20 (9 for the test that also kills
# PostgreSQL). Prints one line of figures per test case: kills, acknowledged
# writes, lost writes (must be 0), unanswered writes and how many of those
# were found applied after the restart.
#
#   bench/crash_durability.sh [KILLS] [BUILD_DIR]
#
# KILLS: kills per test case (default 200). BUILD_DIR: a configured build
# directory with the tests (default build/test, as scripts/test.sh makes it).
# Starts a private PostgreSQL for the run (tests/postgres/pg_server.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-200}
build=${2:-build/test}

cmake --build "$build" -j2 --target test_crash_durability todo-server
export LIBTODO_CRASH_ROUNDS=$kills
"$build/tests/reliability/test_crash_durability" "[sqlite]"

state=$(mktemp -d /tmp/libtodo-crash-bench.XXXXXX)
trap 'tests/postgres/pg_server.sh teardown "$state"; rm -rf "$state"' EXIT
tests/postgres/pg_server.sh setup "$state"
LIBTODO_PG_STATE=$state "$build/tests/reliability/test_crash_durability" "[postgres]"
