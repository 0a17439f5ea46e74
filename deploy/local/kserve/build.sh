#!/usr/bin/env bash
# Builds KServe's controller (github.com/kserve/kserve/cmd/manager) from the Go
# module in this directory (ours, carrying KServe's `replace` lines), once per
# version, and copies that version's CRDs and its inferenceservice-config
# ConfigMap out of the module download:
#   $ATRIUM_CACHE/bin/kserve-<version>/manager
#   $ATRIUM_CACHE/bin/kserve-<version>/crds/serving.kserve.io_*.yaml
#   $ATRIUM_CACHE/bin/kserve-<version>/config/inferenceservice.yaml
# Quick when they are present. Prints the directory as its last line.
# deploy/local/stack.sh runs it on every `up`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../versions.env"
: "${KSERVE_VERSION:?KSERVE_VERSION is not set in versions.env}"
cache=${ATRIUM_CACHE:-$HOME/.cache/atrium}
out="$cache/bin/kserve-$KSERVE_VERSION"

# go.mod must require the version that names the cache directory.
required=$(cd "$here" && go list -m -f '{{.Version}}' github.com/kserve/kserve)
if [ "$required" != "$KSERVE_VERSION" ]; then
  echo "kserve/go.mod requires github.com/kserve/kserve $required but versions.env says $KSERVE_VERSION" >&2
  exit 1
fi

mkdir -p "$out"
if [ ! -x "$out/manager" ]; then
  echo "building KServe's manager $KSERVE_VERSION — about 3-10 minutes cold on 2 cores" >&2
  # Static, as upstream's Dockerfile builds it (CGO_ENABLED=0).
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
    -o "$out/manager.tmp" github.com/kserve/kserve/cmd/manager)
  mv "$out/manager.tmp" "$out/manager"
fi

if [ ! -f "$out/config/inferenceservice.yaml" ]; then
  src=$(cd "$here" && go mod download -json "github.com/kserve/kserve@$KSERVE_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  if [ -z "$src" ] || [ ! -d "$src/config" ]; then
    echo "cannot find github.com/kserve/kserve@$KSERVE_VERSION's source directory" >&2
    exit 1
  fi
  tmp=$(mktemp -d "$out/.files.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/crds" "$tmp/config"
  # The module cache is read-only; the copies need not be.
  cp "$src"/config/crd/full/serving.kserve.io_*.yaml \
     "$src"/config/crd/full/clusterstoragecontainer/serving.kserve.io_clusterstoragecontainers.yaml \
     "$tmp/crds/"
  cp "$src/config/configmap/inferenceservice.yaml" "$tmp/config/"
  chmod -R u+w "$tmp"
  rm -rf "$out/crds" "$out/config"
  mv "$tmp/crds" "$out/crds"
  mv "$tmp/config" "$out/config"  # last: its presence marks the copy complete
fi
echo "$out"
