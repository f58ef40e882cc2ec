#!/usr/bin/env bash
# What the optional features cost: three todo-server processes on one SQLite
# file, the same except for their settings, driven in turn (run by run, so
# they meet the same database and the same background noise):
#   off        METRICS=off
#   metrics    METRICS=on (the default)
#   ratelimit  METRICS=on and per-user and per-address rate limits far above
#              the load (every request pays for its two token buckets)
# plus create_idempotent (create with a fresh Idempotency-Key per request) on
# the default server. Prints the median of FEATURES_RUNS (3) runs of
# BENCH_DURATION (5) seconds, 64 connections, HS256. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
users=${BENCH_USERS:-100}
runs=${FEATURES_RUNS:-3}
duration=${BENCH_DURATION:-5}
mkdir -p bench/results
out=${BENCH_OUT:-$root/bench/results/features-$(date +%Y%m%d-%H%M%S).tsv}

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup
db_url="sqlite:///$work/bench.db"
declare -A pid port_of
variants="off metrics ratelimit"
cleanup_all() { for v in $variants; do kill "${pid[$v]:-}" 2>/dev/null || true; done; cleanup; }
trap cleanup_all EXIT
for v in $variants; do
  case $v in
    off) BENCH_SERVER_ENV="METRICS=off" ;;
    metrics) BENCH_SERVER_ENV="METRICS=on" ;;
    ratelimit) BENCH_SERVER_ENV="METRICS=on RATE_LIMIT_USER_RPS=1000000 RATE_LIMIT_ADDRESS_RPS=1000000" ;;
  esac
  start_server "$db_url"
  pid[$v]=$server_pid; port_of[$v]=$port; server_pid=""
done
python3 bench/prepare.py seed "$work" "${port_of[metrics]}" "${BENCH_TASKS:-50}"

printf 'variant\tscenario\trun\trps\tp99_ms\terrors\tnon2xx\n' >"$out"
for scenario in list get create create_idempotent; do
  for run in $(seq 1 "$runs"); do
    for v in $variants; do
      if [ "$scenario" = create_idempotent ] && [ "$v" != metrics ]; then continue; fi
      r=$(cd bench && BENCH_DATA="$work" BENCH_TOKEN=hs wrk -t2 -c64 -d"${duration}s" --timeout 5s \
            -s "$scenario.lua" "http://127.0.0.1:${port_of[$v]}" | grep '^RESULT')
      read -r rps _ _ p99 errors non2xx < <(wrk_summary "$r")
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$scenario" "$run" "$rps" "$p99" "$errors" "$non2xx" >>"$out"
      tail -1 "$out" | awk -F'\t' '{printf "   %-9s %-17s run %s: %6s rps  p99 %s ms  errors %s  non2xx %s\n", $1,$2,$3,$4,$5,$6,$7}' >&2
      case $scenario in create*) python3 bench/prepare.py trim "$work" "${port_of[metrics]}" >/dev/null ;; esac
    done
  done
done
echo "runs: $out" >&2
python3 - "$out" <<'PY'
import csv, sys
from collections import defaultdict
g = defaultdict(list)
for r in csv.DictReader(open(sys.argv[1]), delimiter="\t"):
    g[(r["scenario"], r["variant"])].append(r)
print("| scenario | settings | rps (median) | p99 ms | errors | non-2xx |")
print("|---|---|---:|---:|---:|---:|")
for (s, v), rs in g.items():
    rs.sort(key=lambda r: float(r["rps"]))
    m = rs[len(rs) // 2]
    print(f"| {s} | {v} | {float(m['rps']):,.0f} | {m['p99_ms']} | {sum(int(r['errors']) for r in rs)} "
          f"| {sum(int(r['non2xx']) for r in rs)} |")
PY
