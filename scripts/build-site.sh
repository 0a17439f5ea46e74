#!/usr/bin/env bash
# Builds the browser side of the portal into target/site/pkg/<build id>: the
# core WASM bundle and one or more chunks per area (cargo + wasm-split +
# wasm-bindgen + wasm-opt), the Tailwind stylesheet, and gzip copies the server
# sends to browsers that accept them. Every build gets its own folder, so a
# browser holding an older core never loads a newer build's chunks.
# Why not cargo-leptos: docs/decisions/0002-build-without-cargo-leptos.md;
# why split: docs/decisions/0013-per-area-code-loading.md.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. scripts/tools.sh
profile=${ATRIUM_WASM_PROFILE:-wasm-release}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
site=$repo/target/site
work=$repo/target/site-work
rm -rf "$work"
mkdir -p "$work" "$site/pkg"

# --emit-relocs keeps the relocations wasm-split needs to cut the module apart.
cargo rustc -p app --lib --crate-type cdylib --target wasm32-unknown-unknown \
  --no-default-features --features hydrate --profile "$profile" --quiet -- -Clink-args=--emit-relocs
wasm="$target_dir/wasm32-unknown-unknown/$profile/app.wasm"
# Code that at least this many lazy islands share goes to the core instead of a
# chunk of its own (tools/site-split/shared-in-main.patch; decision 0013).
WASM_SPLIT_SHARED_MIN=${ATRIUM_SPLIT_SHARED_MIN:-4} site-split "$wasm" "$work" atrium
wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle \
  --out-name atrium --out-dir "$work" "$work/atrium_split.wasm"
rm "$work/atrium_split.wasm"
if [ "$profile" = wasm-release ]; then
  # Each module on its own, two at a time (the names wasm-bindgen kept for the
  # split make wasm-opt warn about a name subsection it does not know; harmless).
  ls "$work"/*.wasm | xargs -P 2 -I{} sh -c 'wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue --strip-target-features --strip-producers "$1" -o "$1.opt" 2>/dev/null \
    && mv "$1.opt" "$1" || { echo "wasm-opt failed on $1" >&2; exit 1; }' _ {}
fi
tailwindcss --input style/main.css --output "$work/atrium.css" --minify 2>"$work.tailwind.log" || { cat "$work.tailwind.log" >&2; exit 1; }

# The build id: a digest of everything the browser loads.
id=$(cat "$work"/* | sha256sum | cut -c1-12)
rm -rf "$site/pkg/$id"
mv "$work" "$site/pkg/$id"
for f in "$site/pkg/$id"/*.js "$site/pkg/$id"/*.wasm "$site/pkg/$id"/*.css; do gzip -9 -k -f "$f"; done
rm -f "$site/pkg"/atrium.js* "$site/pkg"/atrium_bg.wasm*  # the layout before per-build folders
# Pages rendered without the app (sign-in problems, signed out) link the stylesheet here.
cp "$site/pkg/$id/atrium.css" "$site/pkg/$id/atrium.css.gz" "$site/pkg/"
printf '%s\n' "$id" > "$site/build-id"
# Earlier builds stay for browsers still running them, up to the last five.
ls -1dt "$site"/pkg/*/ | tail -n +6 | while read -r old; do rm -rf "$old"; done
core=$(stat -c%s "$site/pkg/$id/atrium_bg.wasm.gz")
chunks=$(ls "$site/pkg/$id"/*.wasm | grep -vc atrium_bg.wasm || true)
printf 'site built: build %s; core WASM %s B gzip; %s chunks\n' "$id" "$core" "$chunks"
