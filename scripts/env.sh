# Sourced by the other scripts: the PATH every build and test step sees,
# and how they install from Debian.
#
# end2end/node_modules/.bin comes first so that cargo-leptos finds the
# wasm-opt from npm's binaryen (Debian's binaryen broke the bundle), and
# ~/.cargo/bin holds cargo-leptos and wasm-bindgen.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/end2end/node_modules/.bin:${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:$PATH"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=no
apt_install() {
  if [ "$apt_updated" = no ]; then
    as_root apt-get update -qq
    apt_updated=yes
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
