#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the keystore's PostgreSQL tests: initdb in a temp dir,
# pg_ctl start with its Unix socket in that dir and no TCP (listen_addresses=''), trust
# authentication on the socket alone, stopped and removed at the end, even on failure.
#   scripts/lib/pg_cluster.sh ctest --test-dir build -R keystore   (runs a command against it)
# The command sees HSMCTL_TEST_PG, a connection URL of an empty database "hsmctl" (the tests
# make one schema each in it). As root the server runs as the "postgres" account (initdb
# refuses root).
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
if [ ! -x "$bin/initdb" ]; then
  echo "pg_cluster: $bin/initdb not found; install postgresql-15 (scripts/lib/deps.sh)" >&2
  exit 1
fi
[ $# -gt 0 ] || { echo "usage: pg_cluster.sh COMMAND [ARGS...]" >&2; exit 2; }

dir=$(mktemp -d /tmp/hsmctl-pg-XXXXXX)
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi
stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM HUP

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U hsmctl --auth=trust --locale=C.UTF-8 \
  --encoding=UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
# fsync off: a test cluster that dies is thrown away anyway; it halves the suite's time. A
# benchmark sets HSMCTL_PG_DURABLE=1: fsync and synchronous commit on, as SQLite's FULL sync.
durable="-c fsync=off -c synchronous_commit=off"
[ "${HSMCTL_PG_DURABLE:-0}" = 1 ] && durable="-c fsync=on -c synchronous_commit=on"
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s \
  -o "-c listen_addresses='' -k $dir $durable -c max_connections=200" start ||
  { cat "$dir/server.log" >&2; exit 1; }
"$bin/psql" -X -q -h "$dir" -U hsmctl -d postgres -c "CREATE DATABASE hsmctl" >/dev/null

export HSMCTL_TEST_PG="postgresql:///hsmctl?host=$dir&user=hsmctl"
export HSMCTL_TEST_PG_DIR="$dir"
status=0
"$@" || status=$?
exit $status
