#!/usr/bin/env bash
# Sets up, builds the site in release mode and serves it on
# http://127.0.0.1:3000 (override with LEPTOS_SITE_ADDR).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh"
exec cargo leptos serve --release
