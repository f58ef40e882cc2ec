#!/usr/bin/env bash
# Usage: tests/docs/lint.sh OPENAPI_JSON
# Lints the OpenAPI document with Redocly CLI (pinned in tests/docs/package-lock.json,
# installed by the docs_lint fixture) and the recommended ruleset of
# tests/docs/redocly.yaml. Fails on any error or warning.
set -euo pipefail
doc=$(realpath "${1:?usage: lint.sh OPENAPI_JSON}")
cd "$(dirname "$0")"
[ -x node_modules/.bin/redocly ] || { echo "lint.sh: @redocly/cli is not installed (npm ci in tests/docs)" >&2; exit 1; }

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1
set +e
out=$(npx --no-install redocly lint --config redocly.yaml --format stylish "$doc" 2>&1)
rc=$?
set -e
# Redocly's banner about Node.js 20's end of life is not about the document.
printf '%s\n' "$out" | grep -v '[║╔╚]'
if [ $rc -ne 0 ]; then
  echo "lint.sh: redocly lint failed (exit $rc)" >&2
  exit 1
fi
if printf '%s\n' "$out" | grep -Eq 'You have [0-9]+ warnings?|[0-9]+ warnings? (was|were) found'; then
  echo "lint.sh: the document has lint warnings" >&2
  exit 1
fi
echo "lint.sh: $doc is valid and lint-clean"
