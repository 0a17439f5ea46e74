#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback for the tests of the PostgreSQL store.
#   scripts/test-postgres.sh start   prints the URL to use
#   scripts/test-postgres.sh stop
set -euo pipefail
port=${ATRIUM_TEST_PG_PORT:-15432}
dir=${ATRIUM_TEST_PG_DIR:-/tmp/atrium-test-pg}
bin=$(dirname "$(readlink -f "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -n1)")")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-}" in
  start)
    if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      rm -rf "$dir" && mkdir -p "$dir"
      [ "$(id -u)" = 0 ] && chown postgres "$dir"
      as_pg "$bin/initdb" -D "$dir" -U atrium --auth=trust >/dev/null
      as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
    fi
    echo "postgres://atrium@127.0.0.1:$port/postgres"
    ;;
  stop) as_pg "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
