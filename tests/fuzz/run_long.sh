#!/usr/bin/env bash
# The long fuzz run: every libFuzzer target of tests/fuzz for a fixed number
# of executions (10.3 million in all by default), one after the other on one
# core, each continuing the working corpus that the ctest runs grow. Fails
# when a target crashes or finds a leak, sanitizer error or broken invariant
# (the input is left in build/fuzz/tests/fuzz/artifacts/), or when fewer than
# 10 million inputs ran. Prints executions, time and speed per target.
#
#   tests/fuzz/run_long.sh [SCALE [TARGET...]]
#
# SCALE multiplies every target's executions (default 1; 0.1 for a quick look).
# TARGETs (jwt, jwks, task_body, task_query, cursor) run only those; the
# 10-million check applies to a run of all of them.
# Builds build/fuzz with clang (CXX=clang++, TODO_FUZZ=ON) when needed.
# Logs: build/fuzz/fuzz-long/<target>.log. See tests/fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
scale=${1:-1}
shift || true
only=" $* "
build=build/fuzz

if [ ! -f "$build/CMakeCache.txt" ]; then
  CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTODO_FUZZ=ON \
    -DTODO_BUILD_TESTS=OFF -DTODO_BUILD_EXAMPLES=OFF -DTODO_WITH_POSTGRES=OFF
fi
cmake --build "$build" -j2 --target fuzz_jwt fuzz_jwks fuzz_task_body fuzz_task_query fuzz_cursor

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
dir=$build/tests/fuzz
logs=$build/fuzz-long
mkdir -p "$logs" "$dir/artifacts"
# Executions per target: the slow ones (signatures; SQLite listings) get fewer.
targets="jwt:1000000 jwks:2000000 task_body:3300000 task_query:1000000 cursor:3000000"
total=0
printf '%-12s %12s %8s %10s\n' target executions seconds exec/s
for entry in $targets; do
  name=${entry%%:*}
  if [ "$only" != "  " ] && [[ $only != *" $name "* ]]; then continue; fi
  runs=$(awk -v r="${entry#*:}" -v s="$scale" 'BEGIN { printf "%d", r * s }')
  mkdir -p "$dir/corpus/$name"
  start=$(date +%s)
  # A unit takes milliseconds; the timeout is generous because the machine
  # may be shared (a starved process once sat 12 s on one unit).
  if ! "$dir/fuzz_$name" -runs="$runs" -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/$name-" "$dir/corpus/$name" "tests/fuzz/corpus/$name" \
      >"$logs/$name.log" 2>&1; then
    echo "run_long.sh: fuzz_$name failed; see $logs/$name.log and $dir/artifacts/" >&2
    tail -30 "$logs/$name.log" >&2
    exit 1
  fi
  seconds=$(( $(date +%s) - start ))
  units=$(awk '/stat::number_of_executed_units/ { print $2 }' "$logs/$name.log")
  total=$((total + units))
  printf '%-12s %12d %8d %10d\n' "$name" "$units" "$seconds" $((units / (seconds > 0 ? seconds : 1)))
done
printf '%-12s %12d\n' total "$total"
minimum=$(awk -v s="$scale" 'BEGIN { printf "%d", 10000000 * s }')
if [ "$only" = "  " ] && [ "$total" -lt "$minimum" ]; then
  echo "run_long.sh: only $total executions, fewer than $minimum" >&2
  exit 1
fi
echo "run_long.sh: no crash in $total executions"
