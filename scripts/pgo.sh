#!/usr/bin/env bash
# A profile-guided build of the server: 7 to 9.5% less CPU a move than the
# plain release build (docs/performance.md, "The build: profile-guided
# optimisation").
#
#   1. rustc's LLVM tools: llvm-profdata of the same major version, from
#      Debian (bookworm-security has llvm-22 for rustc 1.95's LLVM 22.1);
#   2. an instrumented server (`-Cprofile-generate`) in target/pgo-train;
#   3. training: the pinned 1,000-game run with commands on the socket,
#      200 games over HTTP and 5,000 arrivals, each against a fresh
#      SQLite server that writes its counts when stopped;
#   4. the counts merged, and the server built again with `-Cprofile-use`
#      in the `pgo` profile.
#
# The result is target/x86_64-unknown-linux-gnu/pgo/server (printed last).
# `--target` keeps the flags off build scripts and proc macros, and the
# target directories keep the plain release build untouched. About
# 12 minutes on two cores from clean; seconds when the server's code has
# not changed since the last run (delete target/pgo-train to train again
# regardless).
#
#   ./scripts/pgo.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_server.sh"
cd "$ROOT"

TARGET=$(rustc -vV | sed -n 's/^host: //p')
LLVM_MAJOR=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
PROFDATA=llvm-profdata-$LLVM_MAJOR
PORT=${PORT:-3960}
TRAIN_DIR=$ROOT/target/pgo-train
COUNTS=$TRAIN_DIR/counts
MERGED=$TRAIN_DIR/server.profdata

say() { printf '\033[1mpgo:\033[0m %s\n' "$*" >&2; }

if ! command -v "$PROFDATA" >/dev/null; then
  say "installing llvm-$LLVM_MAJOR from Debian for $PROFDATA"
  apt_install "llvm-$LLVM_MAJOR"
fi

say "building the instrumented server and the load generator"
RUSTFLAGS="-Cprofile-generate=$COUNTS" \
  cargo build --locked --profile pgo --target "$TARGET" --target-dir "$TRAIN_DIR" -p server
cargo build --locked --release -p loadgen
instrumented=$TRAIN_DIR/$TARGET/pgo/server

trap stop_server EXIT

train() {
  say "training: $*"
  start_server "$instrumented" "$PORT" sqlite
  taskset -c 1 target/release/loadgen --url "http://127.0.0.1:$PORT" --server-pid "$server_pid" \
    --time-limit-secs 120 --quiet "$@" >/dev/null
  stop_server
}

train_all() {
  train --games 1000 --moves-per-sec 10000 --duration-secs 10 --commands-over socket
  train --games 200 --moves-per-sec 2000 --duration-secs 5 --commands-over http
  train --arrivals 5000
  if ! compgen -G "$COUNTS/*.profraw" >/dev/null; then
    echo "pgo: the training runs wrote no counts to $COUNTS" >&2
    exit 1
  fi
  "$PROFDATA" merge -o "$MERGED" "$COUNTS"/*.profraw
}

# Counts of this very build are kept: training again would change the
# profile, and with it every crate of the final build (5 minutes).
if [ "$MERGED" -nt "$instrumented" ]; then
  say "the profile is newer than the instrumented server: not training again"
else
  rm -rf "$COUNTS" "$MERGED"
  train_all
fi

say "building the server with the profile"
RUSTFLAGS="-Cprofile-use=$MERGED" \
  cargo build --locked --profile pgo --target "$TARGET" -p server
echo "$ROOT/target/$TARGET/pgo/server"
