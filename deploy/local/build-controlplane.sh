#!/usr/bin/env bash
# Builds the local stack's Kubernetes binaries from Go modules, once per version:
# the multi-call control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler), kwok, Argo Workflows' workflow-controller and MinIO.
# Binaries are cached in $ATRIUM_CACHE/bin/<version>/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
cache=${ATRIUM_CACHE:-$HOME/.cache/atrium}
bin="$cache/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
mkdir -p "$bin"
if [ ! -x "$bin/controlplane" ]; then
  echo "building the control plane (Kubernetes $K8S_VERSION) — about 15-25 minutes cold on 2 cores"
  major=${K8S_VERSION#v}; major=${major%%.*}
  minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$here/controlplane" && go build -trimpath -ldflags "$ldflags" -o "$bin/controlplane.tmp" .)
  mv "$bin/controlplane.tmp" "$bin/controlplane"
fi
kwok="$cache/bin/kwok-$KWOK_VERSION"
if [ ! -x "$kwok/kwok" ]; then
  echo "building kwok $KWOK_VERSION"
  mkdir -p "$kwok"
  GOBIN="$kwok" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
fi
argo="$cache/bin/argo-$ARGO_VERSION"
if [ ! -x "$argo/workflow-controller" ]; then
  echo "building Argo Workflows' workflow-controller $ARGO_VERSION — 3-7 minutes cold on 2 cores"
  mkdir -p "$argo"
  # Without the version the binary reports v0.0.0 (and would default the
  # executor image to that tag); the stack passes --executor-image anyway.
  GOBIN="$argo" go install -trimpath \
    -ldflags "-s -w -X github.com/argoproj/argo-workflows/v4.version=$ARGO_VERSION" \
    "github.com/argoproj/argo-workflows/v4/cmd/workflow-controller@$ARGO_VERSION"
fi
minio="$cache/bin/minio-$MINIO_VERSION"
if [ ! -x "$minio/minio" ]; then
  echo "building MinIO $MINIO_VERSION — about 5 minutes cold on 2 cores"
  mkdir -p "$minio"
  # Its version variables otherwise read DEVELOPMENT.GOGET; the commit at
  # least says what runs (`minio --version`).
  commit=${MINIO_VERSION##*-}
  GOBIN="$minio" go install -trimpath \
    -ldflags "-s -w -X github.com/minio/minio/cmd.CommitID=$commit -X github.com/minio/minio/cmd.ShortCommitID=$commit" \
    "github.com/minio/minio@$MINIO_VERSION"
fi
echo "$bin/controlplane"
