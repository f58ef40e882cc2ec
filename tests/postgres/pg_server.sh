#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests.
#
#   pg_server.sh setup DIR     initdb in a new temp directory, start on a free
#                              loopback port, write DIR/url, DIR/port, DIR/datadir
#   pg_server.sh stop DIR      stop it (data kept), for outage tests
#   pg_server.sh start DIR     start it again on the same port
#   pg_server.sh teardown DIR  stop it and remove its data directory
#
# initdb and postgres refuse to run as root: as root they run as the
# `postgres` user (runuser) on a directory that user owns. Fails loudly
# (non-zero exit) when anything is missing; it never skips.
set -euo pipefail

cmd=${1:?usage: pg_server.sh setup|stop|start|teardown DIR}
state=${2:?usage: pg_server.sh setup|stop|start|teardown DIR}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "pg_server.sh: PostgreSQL server binaries not found (Debian package: postgresql)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_ctl_start() {
  local datadir=$1 port=$2
  as_owner "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $datadir -c fsync=off -c max_connections=200" start >/dev/null
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

case $cmd in
  setup)
    mkdir -p "$state"
    datadir=$(mktemp -d /tmp/libtodo-pg.XXXXXX)
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$datadir"; fi
    chmod 700 "$datadir"
    as_owner "$bindir/initdb" -D "$datadir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      if pg_ctl_start "$datadir" "$port"; then break; fi
      [ "$attempt" -eq 5 ] && { cat "$datadir/server.log" >&2; exit 1; }
    done
    echo "$datadir" > "$state/datadir"
    echo "$port" > "$state/port"
    echo "postgresql://postgres@127.0.0.1:$port/postgres" > "$state/url"
    echo "pg_server.sh: PostgreSQL running on 127.0.0.1:$port, data in $datadir"
    ;;
  stop)
    as_owner "$bindir/pg_ctl" -D "$(cat "$state/datadir")" -m fast -w stop >/dev/null
    ;;
  start)
    pg_ctl_start "$(cat "$state/datadir")" "$(cat "$state/port")"
    ;;
  teardown)
    if [ -f "$state/datadir" ]; then
      datadir=$(cat "$state/datadir")
      as_owner "$bindir/pg_ctl" -D "$datadir" -m immediate -w stop >/dev/null 2>&1 || true
      rm -rf "$datadir"
      rm -f "$state/datadir" "$state/port" "$state/url"
    fi
    ;;
  *)
    echo "pg_server.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
