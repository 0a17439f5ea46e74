# Sourced by the build and test scripts: installs (once, into a cache outside
# the checkout) and puts on PATH the tools the build needs.
# shellcheck shell=bash
cache=${ATRIUM_CACHE:-$HOME/.cache/atrium}
wbg_version=$(grep -A1 '^name = "wasm-bindgen"$' "$repo/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')
wbg_root="$cache/tools/wasm-bindgen-$wbg_version"
if [ ! -x "$wbg_root/bin/wasm-bindgen" ]; then
  echo "installing wasm-bindgen-cli $wbg_version (about 3 minutes, once)" >&2
  cargo install wasm-bindgen-cli --version "=$wbg_version" --root "$wbg_root" --quiet
fi
if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown >&2
fi
if [ ! -x "$repo/node_modules/.bin/tailwindcss" ] || [ ! -x "$repo/node_modules/.bin/wasm-opt" ]; then
  (cd "$repo" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
export PATH="$wbg_root/bin:$repo/node_modules/.bin:$PATH"
split_src=$(cat "$repo/tools/site-split/Cargo.toml" "$repo/tools/site-split/Cargo.lock" "$repo/tools/site-split/src/main.rs" 2>/dev/null | sha256sum | cut -c1-12)
split_root="$cache/tools/site-split-$split_src"
if [ ! -x "$split_root/bin/site-split" ]; then
  echo "building site-split (wasm-split for Leptos' lazy routes; about 3 minutes, once)" >&2
  cargo install --path "$repo/tools/site-split" --locked --root "$split_root" --quiet
fi
export PATH="$split_root/bin:$PATH"
