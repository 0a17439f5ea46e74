#!/usr/bin/env bash
# Three portal replicas on one PostgreSQL behind HAProxy (round robin, no
# stickiness; deploy/local/haproxy/haproxy.cfg), on the local stack: what a
# Deployment of three behind its Service does, on one machine.
#   scripts/replicas.sh up [BINARY]  start them (BINARY: the release build by
#                                    default); people use http://localhost:3000
#   scripts/replicas.sh restart N    restart replica N (1-3) as a rollout does:
#                                    SIGTERM, wait for it to drain and exit, start
#   scripts/replicas.sh kill N       kill replica N without a word (SIGKILL)
#   scripts/replicas.sh start N      start replica N again
#   scripts/replicas.sh rss          each replica's resident memory (KiB)
#   scripts/replicas.sh down
# The stack must be up (deploy/local/stack.sh up); PostgreSQL is the tests'
# throwaway one (scripts/test-postgres.sh), database atrium_replicas.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir="$repo/.stack/replicas"
lb_port=${ATRIUM_LB_PORT:-3000}
ports=(3201 3202 3203)
mkdir -p "$dir"

pid_of() { cat "$dir/$1.pid" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

start_replica() {
  local n=$1 port=${ports[$(($1 - 1))]}
  alive "replica-$n" && return 0
  (
    set -a
    . "$repo/.stack/stack.env"
    . "$dir/env"
    set +a
    export ATRIUM_LISTEN=127.0.0.1:$port ATRIUM_LOG_FORMAT=json
    exec "$(cat "$dir/binary")" >>"$dir/replica-$n.log" 2>&1
  ) &
  echo $! >"$dir/replica-$n.pid"
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0
    alive "replica-$n" || break
    sleep 0.5
  done
  tail -n 20 "$dir/replica-$n.log" >&2
  echo "replicas: replica $n did not become ready" >&2
  return 1
}

stop_replica() { # $1: n, $2: signal
  local p
  p=$(pid_of "replica-$1")
  [ -n "$p" ] || return 0
  kill "-$2" "$p" 2>/dev/null || true
  while kill -0 "$p" 2>/dev/null; do sleep 0.2; done
  rm -f "$dir/replica-$1.pid"
}

case "${1:-}" in
  up)
    [ -f "$repo/.stack/stack.env" ] || { echo "replicas: the local stack is not up (deploy/local/stack.sh up)" >&2; exit 1; }
    binary=${2:-}
    if [ -z "$binary" ]; then
      cargo build --release --bin atrium
      binary="${CARGO_TARGET_DIR:-$repo/target}/release/atrium"
    fi
    readlink -f "$binary" >"$dir/binary"
    url=$(bash "$repo/scripts/test-postgres.sh" start)
    psql "$url" -qtAc "SELECT 1 FROM pg_database WHERE datname = 'atrium_replicas'" | grep -q 1 \
      || psql "$url" -qc "CREATE DATABASE atrium_replicas"
    cat >"$dir/env" <<ENV
ATRIUM_DATABASE_URL=${url%/*}/atrium_replicas
ATRIUM_PUBLIC_URL=http://localhost:$lb_port
ATRIUM_SHUTDOWN_DRAIN_SECONDS=${ATRIUM_SHUTDOWN_DRAIN_SECONDS:-3}
ENV
    for n in 1 2 3; do start_replica "$n"; done
    if ! alive haproxy; then
      ATRIUM_LB_LISTEN=127.0.0.1:$lb_port ATRIUM_REPLICA_1=127.0.0.1:${ports[0]} \
        ATRIUM_REPLICA_2=127.0.0.1:${ports[1]} ATRIUM_REPLICA_3=127.0.0.1:${ports[2]} \
        "$(command -v haproxy || echo /usr/sbin/haproxy)" -f "$repo/deploy/local/haproxy/haproxy.cfg" -db \
        >>"$dir/haproxy.log" 2>&1 &
      echo $! >"$dir/haproxy.pid"
    fi
    for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$lb_port/readyz" >/dev/null && break; sleep 0.2; done
    echo "Atrium, three replicas: http://localhost:$lb_port (logs in $dir)"
    ;;
  restart) stop_replica "$2" TERM; start_replica "$2" ;;
  kill) stop_replica "$2" KILL ;;
  start) start_replica "$2" ;;
  rss)
    for n in 1 2 3; do
      p=$(pid_of "replica-$n")
      echo "replica-$n $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo -)"
    done
    ;;
  down)
    p=$(pid_of haproxy); [ -n "$p" ] && kill "$p" 2>/dev/null || true
    rm -f "$dir/haproxy.pid"
    for n in 1 2 3; do stop_replica "$n" TERM; done
    ;;
  *) echo "usage: $0 up [BINARY] | restart N | kill N | start N | rss | down" >&2; exit 2 ;;
esac
