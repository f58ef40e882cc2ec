#!/usr/bin/env bash
# Soak: mixed load (bench/mixed.lua) at 64 connections on a SQLite file for
# SOAK_MINUTES (default 10) after SOAK_WARMUP seconds (default 60), one wrk run
# per minute. After each minute it records errors, non-2xx answers, and the
# server's RSS, open descriptors and threads; it fails unless there were no
# errors, RSS grew less than 5% over the post-warm-up figure, and descriptors
# and threads did not grow. Loopback only; stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
users=${BENCH_USERS:-100}
tasks=${BENCH_TASKS:-50}
minutes=${SOAK_MINUTES:-10}
warmup=${SOAK_WARMUP:-60}
conns=${SOAK_CONNECTIONS:-64}
mkdir -p bench/results
out=${BENCH_OUT:-$root/bench/results/soak-$(date +%Y%m%d-%H%M%S).tsv}

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup
start_server "sqlite:///$work/bench.db"
python3 bench/prepare.py seed "$work" "$port" "$tasks"

fds() { ls "/proc/$server_pid/fd" | wc -l; }
mixed() {  # seconds -> RESULT line
  (cd bench && BENCH_DATA="$work" BENCH_TOKEN=hs wrk -t2 -c"$conns" -d"$1s" --timeout 5s -s mixed.lua \
     "http://127.0.0.1:$port" | grep '^RESULT')
}

echo "soak: warm-up ${warmup}s" >&2
mixed "$warmup" >/dev/null
python3 bench/prepare.py trim "$work" "$port" 2>/dev/null
sleep 1
rss0=$(status_field "$server_pid" VmRSS); fd0=$(fds); th0=$(status_field "$server_pid" Threads)
printf 'minute\trps\terrors\tnon2xx\trss_kb\tfds\tthreads\n' >"$out"
printf '0\t\t\t\t%s\t%s\t%s\n' "$rss0" "$fd0" "$th0" >>"$out"
fail=0
for m in $(seq 1 "$minutes"); do
  r=$(mixed 60)
  python3 bench/prepare.py trim "$work" "$port" 2>/dev/null
  sleep 1
  read -r rps _ _ _ errors non2xx < <(wrk_summary "$r")
  rss=$(status_field "$server_pid" VmRSS); fd=$(fds); th=$(status_field "$server_pid" Threads)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$rps" "$errors" "$non2xx" "$rss" "$fd" "$th" >>"$out"
  echo "soak: minute $m: $rps rps, errors $errors, non-2xx $non2xx, RSS $((rss / 1024)) MiB, fds $fd, threads $th" >&2
  if [ "$errors" != 0 ] || [ "$non2xx" != 0 ]; then fail=1; fi
done
growth=$(python3 -c "print(f'{100 * ($rss - $rss0) / $rss0:.1f}')")
echo "soak: RSS $((rss0 / 1024)) MiB after warm-up -> $((rss / 1024)) MiB after $minutes min ($growth%); fds $fd0 -> $fd; threads $th0 -> $th; results: $out" >&2
if python3 -c "import sys; sys.exit(0 if ($rss - $rss0) / $rss0 < 0.05 else 1)"; then :; else fail=1; fi
if [ "$fd" -gt "$fd0" ] || [ "$th" -gt "$th0" ]; then fail=1; fi
if [ "$fail" != 0 ]; then echo "soak: FAILED" >&2; exit 1; fi
echo "soak: passed" >&2
