#!/usr/bin/env bash
# Usage: tests/docs/browser_test.sh TODO_SERVER DOCS_DIR ARTIFACT_DIR [CHROMIUM]
#
# A real browser opens /docs: starts TODO_SERVER on a free loopback port
# (SQLite in memory, a random secret, /docs from DOCS_DIR), has headless
# Chromium (Debian's `chromium`) render http://127.0.0.1:PORT/docs with every
# other host unresolvable (so the page must work offline), and checks that the
# rendered DOM lists the endpoints. Keeps the DOM and a screenshot in
# ARTIFACT_DIR (docs-dom.html, docs-screenshot.png). Fails, never skips, when
# Chromium is missing. The server is stopped on every exit path.
set -euo pipefail
server=${1:?usage: browser_test.sh TODO_SERVER DOCS_DIR ARTIFACT_DIR [CHROMIUM]}
docs_dir=${2:?docs dir}
artifacts=${3:?artifact dir}
chromium=${4:-chromium}

fail() { echo "browser_test.sh: FAIL: $*" >&2; exit 1; }

command -v "$chromium" >/dev/null ||
  fail "Chromium ('$chromium') is not installed: apt-get install chromium (scripts/install-deps.sh test)"
[ -x "$server" ] || fail "no todo-server at $server"
[ -f "$docs_dir/swagger-ui-bundle.js" ] ||
  fail "swagger-ui-dist is not installed in $docs_dir (npm ci --prefix adapters/http/docs-ui)"
command -v curl >/dev/null || fail "curl is not installed"
command -v node >/dev/null || fail "node is not installed"
mkdir -p "$artifacts"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# PORT=0: the server takes a free port and logs it ("listening" line).
log="$artifacts/docs-server.log"
rm -f "$log"  # a previous run's port must not be read before this server writes its own
: >"$log"
DATABASE_URL=sqlite::memory: \
BETTER_AUTH_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n') \
DOCS_DIR="$docs_dir" HOST=127.0.0.1 PORT=0 LOG_LEVEL=info \
  "$server" 2>"$log" &
server_pid=$!

port=""
for _ in $(seq 100); do
  port=$(grep '"msg":"listening"' "$log" 2>/dev/null | grep -o '"port":[0-9]*' | head -1 | cut -d: -f2 || true)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; fail "todo-server exited at start"; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; fail "todo-server did not report its port"; }
base="http://127.0.0.1:$port"

status=$(curl -s -o "$work/docs.html" -w '%{http_code}' "$base/docs") || true
[ "$status" = 200 ] || fail "GET /docs answered $status: $(cat "$work/docs.html")"

# Everything but the test server is unresolvable: a page that needed another
# host (a CDN) would not render.
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --disable-default-apps --disable-extensions --mute-audio --hide-scrollbars
       "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
       --user-data-dir="$work/profile" --virtual-time-budget=10000)

dom="$artifacts/docs-dom.html"
timeout 120 "$chromium" "${flags[@]}" --dump-dom "$base/docs" >"$dom" 2>"$work/chromium.log" ||
  { tail -20 "$work/chromium.log" >&2; fail "chromium --dump-dom failed"; }

shot="$artifacts/docs-screenshot.png"
rm -f "$shot"
timeout 120 "$chromium" "${flags[@]}" --window-size=1280,2000 --screenshot="$shot" "$base/docs" \
  >/dev/null 2>>"$work/chromium.log" ||
  { tail -20 "$work/chromium.log" >&2; fail "chromium --screenshot failed"; }
[ -s "$shot" ] || fail "no screenshot was written"

# The rendered page: Swagger UI loaded our document and lists its operations.
expect() {  # literal text the DOM must contain, what it shows
  grep -qF -- "$1" "$dom" || fail "the rendered /docs page lacks $2 ('$1'); DOM in $dom"
}
expect 'class="swagger-ui' "Swagger UI's root"
expect 'todo-server API' "the document's title"
expect 'data-path="/api/tasks/{id}"' "the endpoint /api/tasks/{id}"
expect 'data-path="/api/tasks/bulk/complete"' "the endpoint /api/tasks/bulk/complete"
expect 'data-path="/api/{user_id}/tasks/{id}/complete"' "the endpoint /api/{user_id}/tasks/{id}/complete"
expect 'data-path="/openapi.json"' "the endpoint /openapi.json"
expect 'Complete or reopen several tasks' "an operation summary"
expect 'Update a task (merge patch)' "an operation summary"
if grep -qF 'data-path="/api/auth/login"' "$dom"; then
  fail "the page lists /api/auth/login although the accounts are off"
fi
if grep -qiE 'Failed to load API definition|Fetch error' "$dom"; then
  fail "Swagger UI could not load /openapi.json; DOM in $dom"
fi

# As many operations as the served document has.
documented=$(curl -s "$base/openapi.json" | node -e '
  let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
    const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let n = 0;
    for (const item of Object.values(JSON.parse(s).paths)) n += methods.filter(m => m in item).length;
    console.log(n);
  });')
ops=$(grep -o 'class="opblock opblock-[a-z]*' "$dom" | wc -l)
echo "browser_test.sh: /docs rendered $ops operations ($documented documented); DOM: $dom; screenshot: $shot"
[ "$ops" -eq "$documented" ] || fail "the page shows $ops operations, the document has $documented"
echo "browser_test.sh: passed"
