#!/usr/bin/env bash
# Helm, built once from its Go module (helm.sh/helm/v4, no replace
# directives, so `go install` builds it) into $ATRIUM_CACHE/bin/helm-<version>/.
#
#   scripts/helm.sh            builds it if missing, prints its path
#   scripts/helm.sh ARGS...    builds it if missing, runs `helm ARGS...`
#
# The version is HELM_VERSION in deploy/local/versions.env (decision 0014).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/deploy/local/versions.env"
cache=${ATRIUM_CACHE:-$HOME/.cache/atrium}
dir="$cache/bin/helm-$HELM_VERSION"
helm="$dir/helm"

if [ ! -x "$helm" ]; then
  echo "building helm $HELM_VERSION from Go modules (about 3 minutes cold on 2 cores, once)" >&2
  major=${HELM_VERSION#v}; major=${major%%.*}
  # Without -X the binary reports only "v4.3" (its source's default).
  ldflags="-s -w -X helm.sh/helm/v$major/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v$major/internal/version.gitTreeState=clean"
  tmp="$dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  GOBIN="$tmp" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v$major/cmd/helm@$HELM_VERSION" >&2
  mkdir -p "$dir"
  mv "$tmp/helm" "$helm"
  rm -rf "$tmp"
  trap - EXIT
fi

if [ $# -eq 0 ]; then
  echo "$helm"
else
  exec "$helm" "$@"
fi
