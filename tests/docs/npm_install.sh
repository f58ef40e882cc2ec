#!/usr/bin/env bash
# Usage: tests/docs/npm_install.sh DIR
# Installs DIR's npm packages exactly as its package-lock.json pins them
# (`npm ci`), unless node_modules already holds every locked package at its
# locked version (so repeated ctest runs neither reinstall nor disturb a server
# that is serving the files). Used by the ctest fixtures docs_ui and docs_lint.
set -euo pipefail
dir=${1:?usage: npm_install.sh DIR}
cd "$dir"
command -v node >/dev/null || { echo "npm_install.sh: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm_install.sh: npm is not installed" >&2; exit 1; }

if node -e '
  const fs = require("fs");
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
  for (const [path, entry] of Object.entries(lock.packages || {})) {
    if (path === "" || entry.link) continue;
    let installed;
    try { installed = JSON.parse(fs.readFileSync(path + "/package.json", "utf8")).version; } catch { process.exit(1); }
    if (installed !== entry.version) process.exit(1);
  }
' 2>/dev/null; then
  echo "npm_install.sh: $dir is up to date with its lockfile"
  exit 0
fi
# --ignore-scripts: the pinned packages need no install scripts (swagger-ui-dist's
# only dependency would send an analytics ping).
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
