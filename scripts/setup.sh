#!/usr/bin/env bash
# Installs what building and testing the site needs, each piece only when it
# is missing or at the wrong version, so a second run takes seconds.
# Everything comes from the package registries (crates.io, npm, Debian):
# nothing is downloaded from anywhere else.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

CARGO_LEPTOS_VERSION=0.3.10 # 0.3.11 needs rustc 1.96
# wasm-bindgen's CLI must match the library in Cargo.lock exactly.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
WASM_OPT_VERSION=132 # npm binaryen, pinned in end2end/package-lock.json

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# Building tools from source: a lighter release profile halves the time
# (about 13 minutes instead of 27 for cargo-leptos on two cores) and the
# tools run just as well.
cargo_install() {
  CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install --locked "$@"
}

# Rust: the browser target and the linters.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for component in clippy rustfmt; do
  if ! rustup component list --installed | grep -q "^$component"; then
    say "adding $component"
    rustup component add "$component"
  fi
done

# cargo-leptos.
if [ "$(cargo-leptos --version 2>/dev/null | awk '{ print $2 }')" != "$CARGO_LEPTOS_VERSION" ]; then
  say "building cargo-leptos $CARGO_LEPTOS_VERSION from crates.io (about 13 minutes)"
  cargo_install cargo-leptos --version "$CARGO_LEPTOS_VERSION"
fi

# wasm-bindgen CLI. cargo-leptos would download one if none were on PATH;
# having the right one here prevents that.
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }')" != "$WASM_BINDGEN_VERSION" ]; then
  say "building wasm-bindgen-cli $WASM_BINDGEN_VERSION from crates.io (about 10 minutes)"
  cargo_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# NATS, for cluster mode's tests: Debian's server (2.9; the nodes use
# core publish/subscribe only, which it serves).
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  say "installing nats-server from Debian"
  apt_install nats-server
fi

# Node.js, for Playwright and npm's binaryen.
if ! command -v npm >/dev/null; then
  say "installing Node.js and npm from Debian"
  apt_install nodejs npm
fi

# Debian's Chromium: Playwright cannot download its own browser here.
if [ ! -x /usr/bin/chromium ]; then
  say "installing Chromium from Debian"
  apt_install chromium
fi

# The end-to-end packages (Playwright, binaryen's wasm-opt), exactly as locked.
lock_sum=$(sha256sum end2end/package-lock.json | awk '{ print $1 }')
stamp=end2end/node_modules/.setup-lock-sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  say "installing the end-to-end npm packages"
  (cd end2end && npm ci --no-audit --no-fund)
  echo "$lock_sum" >"$stamp"
fi

# Whatever else is installed, the wasm-opt cargo-leptos finds must be ours.
wasm_opt=$(command -v wasm-opt || true)
if [ "$wasm_opt" != "$ROOT/end2end/node_modules/.bin/wasm-opt" ] ||
  ! wasm-opt --version | grep -q "version $WASM_OPT_VERSION"; then
  echo "setup: the wasm-opt on PATH is ${wasm_opt:-missing}, not npm's binaryen $WASM_OPT_VERSION" >&2
  exit 1
fi

say "ready: $(cargo-leptos --version), $(wasm-bindgen --version), wasm-opt $WASM_OPT_VERSION, $(/usr/bin/chromium --version 2>/dev/null)"
