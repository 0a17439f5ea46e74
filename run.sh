#!/usr/bin/env bash
# Starts Atrium on the local stack with embedded defaults:
#   Kubernetes (built from Go modules) + kwok + Keycloak, a SQLite file,
#   and the portal at http://localhost:3000 (Ctrl-C stops the portal;
#   `deploy/local/stack.sh down` stops the stack).
set -euo pipefail
repo=$(cd "$(dirname "$0")" && pwd)
cd "$repo"
bash scripts/install-system-deps.sh
bash deploy/local/stack.sh up
bash scripts/build-site.sh
cargo build --release --bin atrium
set -a
. "$repo/.stack/stack.env"
set +a
export ATRIUM_DATABASE_URL=${ATRIUM_DATABASE_URL:-sqlite://$repo/.stack/atrium.db?mode=rwc}
echo "Atrium: http://localhost:3000 — sign in as alice, dave, maria, tom or paula (password atrium-demo)"
exec "${CARGO_TARGET_DIR:-$repo/target}/release/atrium"
