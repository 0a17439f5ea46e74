#!/usr/bin/env bash
# Installs, from Debian's packages, what the stack and the tests need and the
# machine may lack: Chromium (end-to-end tests), PostgreSQL (tests of the
# PostgreSQL store), unzip and openssl (the local stack), HAProxy (the load
# balancer in front of several replicas, scripts/replicas.sh), umoci and musl's
# gcc (the container image, scripts/image.sh). Idempotent.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v unzip >/dev/null || need+=(unzip)
command -v openssl >/dev/null || need+=(openssl)
command -v mvn >/dev/null || need+=(maven)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
# The container image without a container engine (scripts/image.sh).
command -v umoci >/dev/null || need+=(umoci)
command -v musl-gcc >/dev/null || need+=(musl-tools)
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing from Debian: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
