#!/usr/bin/env bash
# Builds todo-server (Release) and starts it on the SQLite default
# (DATABASE_URL=sqlite:///./todo.db, http://127.0.0.1:8000).
#
# When no secret is configured (BETTER_AUTH_SECRET / SECRET_KEY in the
# environment or in ./.env), a random one is generated into ./.env first, so
# the server never runs with a built-in default. Extra arguments go to
# todo-server (see `todo-server --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh runtime
# The /docs page's assets (swagger-ui-dist, pinned in the lockfile). Optional:
# without them the server runs and /docs answers 404.
if command -v npm >/dev/null; then
  npm ci --prefix adapters/http/docs-ui --ignore-scripts --no-audit --no-fund --loglevel=error ||
    echo "serve.sh: warning: could not install the /docs assets; /docs will answer 404" >&2
else
  echo "serve.sh: warning: npm is not installed; /docs will answer 404" >&2
fi
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTODO_BUILD_TESTS=OFF -DTODO_BUILD_EXAMPLES=OFF
cmake --build build/release -j"$(nproc)" --target todo-server

if [ -z "${BETTER_AUTH_SECRET:-}${SECRET_KEY:-}" ] &&
   ! grep -qsE '^(export )?(BETTER_AUTH_SECRET|SECRET_KEY)=.+' .env; then
  secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  umask 077
  printf 'BETTER_AUTH_SECRET=%s\n' "$secret" >> .env
  echo "serve.sh: generated a random BETTER_AUTH_SECRET into .env" >&2
fi

exec build/release/adapters/http/todo-server "$@"
