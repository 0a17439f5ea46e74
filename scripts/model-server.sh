#!/usr/bin/env bash
# A real model server for one deployment on the local stack, where kwok's
# pods run nothing: MLServer (the runtime KServe's kserve-mlserver uses, same
# version, from PyPI into MLflow's venv) serving a registered model version
# over the V2 inference protocol, as the InferenceService's predictor would.
#   scripts/model-server.sh serve TEAM DEPLOYMENT MODEL VERSION PORT [MAP]
#       downloads the version from the team's MLflow registry, serves it as
#       model DEPLOYMENT on 127.0.0.1:PORT (gRPC on PORT+1, metrics on
#       PORT+2), and (with MAP, a JSON file the portal reads as
#       models.upstream_map_file) maps "TEAM/DEPLOYMENT@VERSION" to it and
#       "TEAM/DEPLOYMENT@VERSION/metrics" to its metrics, standing in for
#       that version's pods. A deployment's stable version and its canary
#       each get their own server.
#   scripts/model-server.sh stop TEAM DEPLOYMENT [VERSION]
#       stops that version's server, or all of the deployment's
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
set -a; . "$repo/.stack/stack.env"; set +a
dir_of() { echo "$repo/.stack/model-servers/$1--$2--v$3"; }

serve() {
  local team=$1 name=$2 model=$3 version=$4 port=$5 map=${6:-}
  local dir; dir=$(dir_of "$team" "$name" "$version")
  stop "$team" "$name" "$version"
  mkdir -p "$dir/$name"
  MLFLOW_TRACKING_URI=$ATRIUM_MLFLOW__URL MLFLOW_WORKSPACE=$team "$STACK_MLFLOW_BIN/python" -c '
import sys, mlflow
mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{sys.argv[1]}/{sys.argv[2]}", dst_path=sys.argv[3])
' "$model" "$version" "$dir/$name/model" >/dev/null
  cat >"$dir/$name/model-settings.json" <<JSON
{"name": "$name", "implementation": "mlserver_mlflow.MLflowRuntime", "parameters": {"uri": "./model", "version": "$version"}}
JSON
  cat >"$dir/settings.json" <<JSON
{"host": "127.0.0.1", "http_port": $port, "grpc_port": $((port + 1)), "metrics_port": $((port + 2)), "parallel_workers": 0, "debug": false}
JSON
  # In its own session, which `stop` ends whole; it writes its own pid.
  (cd "$dir" && exec setsid bash -c 'echo $$ >pid; exec "$0" start .' "$STACK_MLFLOW_BIN/mlserver") >"$dir/server.log" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$port/v2/models/$name/ready" >/dev/null; then
      if [ -n "$map" ]; then
        python3 - "$map" "$team/$name@$version" "http://127.0.0.1:$port" "http://127.0.0.1:$((port + 2))/metrics" <<'PY'
import json, os, sys
path, key, address, metrics = sys.argv[1:]
try:
    entries = json.load(open(path))
except (FileNotFoundError, ValueError):
    entries = {}
entries[key] = address
entries[key + "/metrics"] = metrics
json.dump(entries, open(path + ".tmp", "w"))
os.replace(path + ".tmp", path)
PY
      fi
      echo "model server for $team/$name (v$version) on http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.5
  done
  tail -n 30 "$dir/server.log" >&2
  echo "model server for $team/$name did not become ready" >&2
  return 1
}

stop() {
  local dir
  if [ -z "${3:-}" ]; then
    for dir in "$repo/.stack/model-servers/$1--$2--v"*; do
      [ -d "$dir" ] && stop "$1" "$2" "${dir##*--v}"
    done
    return 0
  fi
  dir=$(dir_of "$1" "$2" "$3")
  if [ -f "$dir/pid" ]; then
    local pid; pid=$(cat "$dir/pid")
    kill -- "-$pid" 2>/dev/null || true
    # Stopped means no longer answering: wait for it (MLServer shuts down
    # gracefully), then make sure.
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 -- "-$pid" 2>/dev/null || true
    rm -f "$dir/pid"
  fi
}

case "${1:-}" in
  serve) shift; serve "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 serve TEAM DEPLOYMENT MODEL VERSION PORT [MAP] | stop TEAM DEPLOYMENT [VERSION]" >&2; exit 2 ;;
esac
