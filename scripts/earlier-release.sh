#!/usr/bin/env bash
# Builds, once, the portal binary of an earlier release (ATRIUM_EARLIER_RELEASE
# in deploy/local/versions.env) into the cache, for the rolling-upgrade test,
# and prints its path. The release is taken from this clone's history and
# built in a worktree beside the cache, sharing the Cargo target directory,
# so only its own crates compile (its dependencies are mostly the same).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/deploy/local/versions.env"
cache=${ATRIUM_CACHE:-$HOME/.cache/atrium}
sha=$(git -C "$repo" rev-parse --verify --quiet "$ATRIUM_EARLIER_RELEASE^{commit}") \
  || { echo "earlier-release: $ATRIUM_EARLIER_RELEASE is not in this clone's history (a shallow clone? fetch it)" >&2; exit 1; }
out="$cache/releases/$sha/atrium"
if [ ! -x "$out" ]; then
  src="$cache/releases/src"
  rm -rf "$src" && git -C "$repo" worktree prune
  git -C "$repo" worktree add --detach --quiet "$src" "$sha"
  echo "building the earlier release ${sha:0:12} for the rolling-upgrade test (a few minutes, once)" >&2
  target=${CARGO_TARGET_DIR:-$cache/target}
  (cd "$src" && CARGO_TARGET_DIR="$target" cargo build --quiet --bin atrium >&2)
  mkdir -p "$(dirname "$out")"
  # Cargo puts every workspace's binary at the same path: take it at once.
  cp "$target/debug/atrium" "$out.tmp" && mv "$out.tmp" "$out"
  git -C "$repo" worktree remove --force "$src"
fi
echo "$out"
