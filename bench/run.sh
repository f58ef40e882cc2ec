#!/usr/bin/env bash
# The benchmark: builds todo-server in Release, starts it on a SQLite file (and
# on PostgreSQL when asked), makes users, tokens and 50 tasks per user, and
# drives it with wrk on 127.0.0.1. Prints a table and writes every run to a TSV.
#
#   bench/run.sh                         SQLite, every scenario, 64 and 1000 connections,
#                                        HS256 and EdDSA tokens, 3 runs of 5 s each
#   BENCH_BACKENDS="sqlite postgres" bench/run.sh
#
# Settings (environment): BENCH_BACKENDS (sqlite), BENCH_SCENARIOS (list get create
# mixed unauth), BENCH_CONNECTIONS (64 1000), BENCH_TOKENS (hs eddsa), BENCH_RUNS (3),
# BENCH_DURATION (5 seconds), BENCH_USERS (100), BENCH_TASKS (50), BENCH_WRK_THREADS (2),
# BENCH_SERVER_ENV (extra VAR=value settings for todo-server, e.g. "HTTP_THREADS=4"),
# BENCH_OUT (the TSV; default bench/results/<time>.tsv).
# Loopback only; every wrk run stops by itself after BENCH_DURATION seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

backends=${BENCH_BACKENDS:-sqlite}
scenarios=${BENCH_SCENARIOS:-list get create mixed unauth}
connections=${BENCH_CONNECTIONS:-64 1000}
token_kinds=${BENCH_TOKENS:-hs eddsa}
runs=${BENCH_RUNS:-3}
duration=${BENCH_DURATION:-5}
users=${BENCH_USERS:-100}
tasks=${BENCH_TASKS:-50}
wrk_threads=${BENCH_WRK_THREADS:-2}
mkdir -p bench/results
out=${BENCH_OUT:-$root/bench/results/$(date +%Y%m%d-%H%M%S).tsv}

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup

printf 'backend\ttoken\tscenario\tconnections\trun\trps\tp50_ms\tp90_ms\tp99_ms\tsocket_errors\tnon2xx\tserver_cpu_pct\tserver_peak_rss_mb\tserver_threads\tceiling_list_rps\tceiling_get_rps\n' >"$out"

for backend in $backends; do
  case $backend in
    sqlite)
      db_url="sqlite:///$work/bench.db"  # sqlite:/// + absolute path = four slashes
      rm -f "$work"/bench.db* ;;
    postgres)
      pg_dir="$work/pg"
      tests/postgres/pg_server.sh setup "$pg_dir" >/dev/null
      db_url=$(cat "$pg_dir/url") ;;
    *) echo "bench: unknown backend $backend" >&2; exit 2 ;;
  esac
  start_server "$db_url"
  echo "== $backend: todo-server pid $server_pid on 127.0.0.1:$port; seeding $users users x $tasks tasks" >&2
  python3 bench/prepare.py seed "$work" "$port" "$tasks"
  first_user=bench-user-0
  first_task=$(awk 'NR == 1 {print $1}' "$work/ids.txt")
  if [ "$backend" = sqlite ]; then
    ceiling=$("$ceiling_bin" sqlite "$work/bench.db" "$first_user" "$first_task" 2 "$duration")
  else
    ceiling=$("$ceiling_bin" postgres "$db_url" "$first_user" "$first_task" 8 "$duration")
  fi
  ceiling_list=$(awk '$1 == "list" {print $2}' <<<"$ceiling")
  ceiling_get=$(awk '$1 == "get" {print $2}' <<<"$ceiling")
  echo "   storage ceiling: list $ceiling_list/s, get $ceiling_get/s" >&2
  # Token kinds alternate run by run, so both meet the same database and the
  # same background noise.
  for scenario in $scenarios; do
    for conns in $connections; do
      for run in $(seq 1 "$runs"); do
        for token in $token_kinds; do
          echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || true  # peak RSS from here on
          cpu0=$(cpu_ticks "$server_pid")
          result=$(cd bench && BENCH_DATA="$work" BENCH_TOKEN="$token" \
                   wrk -t"$wrk_threads" -c"$conns" -d"${duration}s" --timeout 5s -s "$scenario.lua" \
                   "http://127.0.0.1:$port" | grep '^RESULT')
          cpu1=$(cpu_ticks "$server_pid")
          python3 - "$result" "$backend" "$token" "$scenario" "$conns" "$run" "$((cpu1 - cpu0))" \
              "$(getconf CLK_TCK)" "$(status_field "$server_pid" VmHWM)" "$(status_field "$server_pid" Threads)" \
              "$ceiling_list" "$ceiling_get" >>"$out" <<'PY'
import sys
kv = dict(p.split("=") for p in sys.argv[1].split()[1:])
backend, token, scenario, conns, run, ticks, hz, hwm_kb, threads, cl, cg = sys.argv[2:]
secs = int(kv["duration_us"]) / 1e6
errors = sum(int(kv[k]) for k in ("connect", "read", "write", "timeout"))
print("\t".join([backend, token, scenario, conns, run, f"{int(kv['requests']) / secs:.0f}",
                 f"{int(kv['p50_us']) / 1000:.2f}", f"{int(kv['p90_us']) / 1000:.2f}",
                 f"{int(kv['p99_us']) / 1000:.2f}", str(errors), kv["non2xx"],
                 f"{100 * int(ticks) / int(hz) / secs:.0f}", f"{int(hwm_kb) / 1024:.1f}", threads, cl, cg]))
PY
          tail -1 "$out" | awk -F'\t' '{printf "   %-6s %-5s %-6s c=%-4s run %s: %6s rps  p99 %s ms  errors %s  non2xx %s  cpu %s%%  rss %s MB\n", $1,$2,$3,$4,$5,$6,$9,$10,$11,$12,$13}' >&2
          if [ "$scenario" = create ] || [ "$scenario" = mixed ]; then
            python3 bench/prepare.py trim "$work" "$port"
          fi
        done
      done
    done
  done
  stop_server
  if [ -n "$pg_dir" ]; then tests/postgres/pg_server.sh teardown "$pg_dir" >/dev/null; pg_dir=""; fi
done

echo "runs: $out" >&2
python3 bench/report.py "$out"
