#!/usr/bin/env bash
# Builds the browser side of the portal into target/site/pkg: the WASM bundle
# (cargo + wasm-bindgen + wasm-opt) and the Tailwind stylesheet, plus gzip
# copies the server sends to browsers that accept them.
# Why not cargo-leptos: see docs/decisions/0002-build-without-cargo-leptos.md.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. scripts/tools.sh
profile=${ATRIUM_WASM_PROFILE:-wasm-release}
target_dir=${CARGO_TARGET_DIR:-$repo/target}
site=$repo/target/site
pkg=$site/pkg
mkdir -p "$pkg"

cargo rustc -p app --lib --crate-type cdylib --target wasm32-unknown-unknown \
  --no-default-features --features hydrate --profile "$profile" --quiet
wasm="$target_dir/wasm32-unknown-unknown/$profile/app.wasm"
wasm-bindgen --target web --no-typescript --out-name atrium --out-dir "$pkg" "$wasm"
if [ "$profile" = wasm-release ]; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$pkg/atrium_bg.wasm" -o "$pkg/atrium_bg.wasm.opt"
  mv "$pkg/atrium_bg.wasm.opt" "$pkg/atrium_bg.wasm"
fi
tailwindcss --input style/main.css --output "$pkg/atrium.css" --minify 2>/dev/null
cp -r public/. "$site/" 2>/dev/null || true
for f in "$pkg"/atrium.js "$pkg"/atrium_bg.wasm "$pkg"/atrium.css; do gzip -9 -k -f "$f"; done
printf 'site built: %s\n' "$(cd "$pkg" && for f in atrium_bg.wasm atrium.js atrium.css; do printf '%s %s B (gzip %s B); ' "$f" "$(stat -c%s "$f")" "$(stat -c%s "$f.gz")"; done)"
