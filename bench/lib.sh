# Shared by bench/run.sh and bench/soak.sh, sourced from the repository root
# with $root, $users set. bench_setup builds todo-server in Release and makes a
# temp dir ($work) with an Ed25519 key, a JWKS file and tokens for $users users;
# start_server URL starts todo-server on that database ($server_pid, $port).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wrk_summary RESULT-line (printed by bench/common.lua's done) -> one
# tab-separated line: rps p50_ms p90_ms p99_ms socket_errors non2xx
wrk_summary() {
  python3 - "$1" <<'PY'
import sys
kv = dict(p.split("=") for p in sys.argv[1].split()[1:])
secs = int(kv["duration_us"]) / 1e6
errors = sum(int(kv[k]) for k in ("connect", "read", "write", "timeout"))
print("\t".join([f"{int(kv['requests']) / secs:.0f}"] + [f"{int(kv[k]) / 1000:.2f}" for k in ("p50_us", "p90_us", "p99_us")]
                + [str(errors), kv["non2xx"]]))
PY
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

cleanup() {
  if [ -n "${server_pid:-}" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "${pg_dir:-}" ]; then tests/postgres/pg_server.sh teardown "$pg_dir" >/dev/null 2>&1 || true; fi
  rm -rf "${work:-/nonexistent}"
}

bench_setup() {
  scripts/install-deps.sh bench
  cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTODO_BUILD_BENCH=ON \
        -DTODO_BUILD_TESTS=OFF -DTODO_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build build/release -j"$(nproc)" --target todo-server todo-bench-ceiling
  server_bin=$root/build/release/adapters/http/todo-server
  ceiling_bin=$root/build/release/bench/todo-bench-ceiling
  # 1000 connections on each side need descriptors.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  work=$(mktemp -d /tmp/todo-bench.XXXXXX)
  chmod 755 "$work"  # the postgres user reaches its data dir below
  server_pid=""
  pg_dir=""
  trap cleanup EXIT
  secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 48)
  python3 bench/prepare.py keys "$work"
  python3 bench/prepare.py tokens "$work" "$users" "$secret"
}

start_server() {  # database url; sets server_pid and port
  port=$(free_port)
  # shellcheck disable=SC2086
  env BETTER_AUTH_SECRET="$secret" JWKS_FILE="$work/jwks.json" DATABASE_URL="$1" \
      HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warn DOCS_DIR= ${BENCH_SERVER_ENV:-} \
      "$server_bin" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    if curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1; then return; fi
    sleep 0.1
  done
  cat "$work/server.log" >&2
  echo "bench: todo-server did not start" >&2
  exit 1
}

stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}
