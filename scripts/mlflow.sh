#!/usr/bin/env bash
# A real MLflow tracking server for the local stack and the tests, from PyPI:
#   scripts/mlflow.sh install     installs it once into $ATRIUM_CACHE (pinned in
#                                 deploy/local/mlflow/requirements.txt)
#   scripts/mlflow.sh path        prints the venv's bin directory
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/deploy/local/versions.env"
cache=${ATRIUM_CACHE:-$HOME/.cache/atrium}
venv="$cache/mlflow-$MLFLOW_VERSION"
requirements="$repo/deploy/local/mlflow/requirements.txt"

install() {
  local sum; sum=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ "$(cat "$venv/.complete" 2>/dev/null)" != "$sum" ]; then
    echo "installing MLflow $MLFLOW_VERSION from PyPI (once, about a minute)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$sum" >"$venv/.complete"
  fi
}

case "${1:-}" in
  install) install ;;
  path) echo "$venv/bin" ;;
  *) echo "usage: $0 install | path" >&2; exit 2 ;;
esac
