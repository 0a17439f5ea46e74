#!/usr/bin/env bash
# A real JupyterLab for the tests (the local stack's pods do not really run):
#   scripts/jupyter.sh install            installs it once into $ATRIUM_CACHE
#   scripts/jupyter.sh serve TEAM NAME PORT   serves it at /notebook/TEAM/NAME/
#                                             on 127.0.0.1:PORT with the token in
#                                             $JUPYTER_TOKEN, as a notebook's pod
#                                             gets it from its Secret.
# The kernel has MLflow's client (mlflow-skinny, the version of the stack's
# server), as the notebook images people train in do: a notebook logs runs
# with the variables its pod gets ($MLFLOW_TRACKING_URI and friends).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/deploy/local/versions.env"
version=4.6.6
cache=${ATRIUM_CACHE:-$HOME/.cache/atrium}
venv="$cache/jupyterlab-$version"
packages="jupyterlab==$version mlflow-skinny==$MLFLOW_VERSION"

install() {
  if [ "$(cat "$venv/.complete" 2>/dev/null)" != "$packages" ]; then
    echo "installing $packages from PyPI (once)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # one word per package
    "$venv/bin/pip" install --quiet --disable-pip-version-check $packages
    echo "$packages" >"$venv/.complete"
  fi
}

case "${1:-}" in
  install) install ;;
  path) echo "$venv/bin/jupyter-lab" ;;
  serve)
    install
    team=$2 name=$3 port=$4
    home=$(mktemp -d)
    cd "$home"
    exec env HOME="$home" JUPYTER_CONFIG_DIR="$home/.jupyter" JUPYTER_DATA_DIR="$home/.data" JUPYTER_RUNTIME_DIR="$home/.run" \
      "$venv/bin/jupyter-lab" --no-browser --ip=127.0.0.1 --port="$port" \
      --ServerApp.base_url="/notebook/$team/$name/" --IdentityProvider.token="${JUPYTER_TOKEN:-}" --ServerApp.password='' \
      --ServerApp.disable_check_xsrf=False --ServerApp.root_dir="$home" --LabApp.news_url=None \
      --ServerApp.trust_xheaders=True --ServerApp.allow_remote_access=True --allow-root
    ;;
  *) echo "usage: $0 install | path | serve TEAM NAME PORT" >&2; exit 2 ;;
esac
