# Sourced by the other scripts: the PATH every build and test step sees.
#
# end2end/node_modules/.bin comes first so that cargo-leptos finds the
# wasm-opt from npm's binaryen (Debian's binaryen broke the bundle), and
# ~/.cargo/bin holds cargo-leptos and wasm-bindgen.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/end2end/node_modules/.bin:${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:$PATH"
