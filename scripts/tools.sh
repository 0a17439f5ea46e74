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
split_dir="$repo/tools/site-split"
split_src=$(cat "$split_dir/Cargo.toml" "$split_dir/Cargo.lock" "$split_dir/src/main.rs" "$split_dir/shared-in-main.patch" 2>/dev/null | sha256sum | cut -c1-12)
split_root="$cache/tools/site-split-$split_src"
if [ ! -x "$split_root/bin/site-split" ]; then
  # wasm-split with one change of ours (shared-in-main.patch): the crate is taken
  # from crates.io at the locked version, patched, and built next to the cache.
  echo "building site-split (wasm-split for Leptos' lazy islands; about 3 minutes, once)" >&2
  build="$cache/tools/site-split-build"
  rm -rf "$build" && mkdir -p "$build/app"
  cp -r "$split_dir/Cargo.toml" "$split_dir/Cargo.lock" "$split_dir/src" "$build/app/"
  (cd "$build/app" && cargo fetch --locked --quiet)
  crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/wasm_split_cli_support-0.2.4.crate | head -1)
  tar -xzf "$crate" -C "$build"
  patch --quiet -d "$build/wasm_split_cli_support-0.2.4" -p1 < "$split_dir/shared-in-main.patch"
  printf '\n[patch.crates-io]\nwasm_split_cli_support = { path = "../wasm_split_cli_support-0.2.4" }\n' >> "$build/app/Cargo.toml"
  # Not `cargo install`: it would resolve afresh; a build keeps every other version locked.
  cargo build --release --quiet --manifest-path "$build/app/Cargo.toml" --target-dir "$build/target"
  mkdir -p "$split_root/bin" && cp "$build/target/release/site-split" "$split_root/bin/"
  rm -rf "$build"
fi
export PATH="$split_root/bin:$PATH"
