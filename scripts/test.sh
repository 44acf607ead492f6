#!/usr/bin/env bash
# Every check the project has, in the order that fails fastest: formatting,
# lints for the server and the browser side, unit and integration tests, then
# the Playwright suite in Chromium against a release build of the site.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

step() {
  local name=$1
  shift
  printf '\n\033[1m==> %s\033[0m (%s)\n' "$name" "$*"
  local started=$SECONDS
  "$@"
  printf '\033[1m<== %s: ok in %ss\033[0m\n' "$name" "$((SECONDS - started))"
}

step "formatting" cargo fmt --all --check
# The frontend crate is the browser side: linted for wasm32 below, never
# built natively with the server (its `csr` feature would leak into it).
step "lints, server side" cargo clippy --workspace --exclude frontend --all-targets --locked -- -D warnings
step "lints, browser side" cargo clippy --locked --target wasm32-unknown-unknown \
  -p frontend -p app -p domain -p bus -- -D warnings
# The PostgreSQL backend is tested on the local cluster: each test makes
# its own throwaway database with this role.
TEST_DATABASE_URL=$("$ROOT/scripts/postgres.sh")
export TEST_DATABASE_URL
step "unit and integration tests" cargo test --workspace --exclude frontend --locked
# A short turn clock so the aborted-game test waits seconds, not twenty, and
# a fresh embedded database so the suite starts from an empty hall of fame.
e2e_data=$(mktemp -d)
trap 'rm -rf "$e2e_data" "$e2e_data.log"' EXIT
# cargo-leptos 0.3.10 exits 0 even when the site does not build, so the
# run only counts when Playwright reports its tests passed and none failed.
end_to_end() {
  local log="$e2e_data.log"
  env TURN_TIMEOUT_MS=5000 DATA_DIR="$e2e_data" cargo leptos end-to-end --release 2>&1 | tee "$log"
  if ! grep -Eq '^ +[0-9]+ passed' "$log" || grep -Eq '^ +[0-9]+ failed|^error' "$log"; then
    echo "end-to-end: the site did not build or a test failed (see above)" >&2
    return 1
  fi
}
step "end-to-end tests in Chromium" end_to_end
