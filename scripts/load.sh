#!/usr/bin/env bash
# The load benchmark behind docs/performance.md: for each store and each
# number of concurrent games, a fresh release server and one run of the load
# generator (paced at 10,000 moves/s in all, DURATION seconds), then idle
# runs (IDLE_GAMES games waiting for a first move, then IDLE_LARGE games,
# the most this machine's open-files limit holds, their players spread over
# two loopback addresses for the ports). Results go to
# docs/load/results.jsonl, the chart to docs/load/p99.svg.
#
# The standard measurement: the server pinned to core 0 and the generator
# to core 1 (`taskset`), so that neither takes the other's time and the
# server's CPU per move is its own. Players send their commands as OVER
# says: `socket` (as the browser does) or `http`. The server is the
# profile-guided build (scripts/pgo.sh), or the plain release build with
# PGO=0.
#
#   ./scripts/load.sh                      # everything, about 5 minutes
#                                          # (and 12 for the first build)
#   GAMES="10 100" STORES=memory OVER=http PGO=0 ./scripts/load.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench_server.sh"
cd "$ROOT"

STORES=${STORES:-"memory sqlite"}
GAMES=${GAMES:-"10 100 1000 5000"}
DURATION=${DURATION:-10}
RATE=${RATE:-10000}
IDLE_GAMES=${IDLE_GAMES:-5000}
IDLE_LARGE=${IDLE_LARGE:-9800}
OVER=${OVER:-socket}
PORT=${PORT:-3950}
OUT=docs/load

cargo build --release --locked -p server -p loadgen
server=target/release/server
[ "${PGO:-1}" = 0 ] || server=$(./scripts/pgo.sh)
mkdir -p "$OUT"
: >"$OUT/results.jsonl"

trap stop_server EXIT

for store in $STORES; do
  for games in $GAMES; do
    echo "== $store, $games concurrent games" >&2
    start_server "$server" "$PORT" "$store"
    taskset -c 1 target/release/loadgen --url "http://127.0.0.1:$PORT" --games "$games" \
      --moves-per-sec "$RATE" --duration-secs "$DURATION" --time-limit-secs 300 \
      --commands-over "$OVER" --server-pid "$server_pid" \
      --label "$store" --json --quiet | tee -a "$OUT/results.jsonl" >&2 || true
    stop_server
  done
done

echo "== idle: $IDLE_GAMES games waiting for a first move" >&2
start_server "$server" "$PORT" sqlite
taskset -c 1 target/release/loadgen --url "http://127.0.0.1:$PORT" --games "$IDLE_GAMES" \
  --server-pid "$server_pid" --idle-secs 10 --time-limit-secs 300 --label "sqlite, idle" --json --quiet |
  tee -a "$OUT/results.jsonl" >&2 || true
stop_server

echo "== idle: $IDLE_LARGE games waiting, over 127.0.0.1 and 127.0.0.2" >&2
start_server "$server" "$PORT" sqlite 0.0.0.0
taskset -c 1 target/release/loadgen --url "http://127.0.0.1:$PORT,http://127.0.0.2:$PORT" \
  --games "$IDLE_LARGE" --server-pid "$server_pid" --idle-secs 10 --time-limit-secs 300 \
  --label "sqlite, idle" --json --quiet |
  tee -a "$OUT/results.jsonl" >&2 || true
stop_server

python3 scripts/load_chart.py "$OUT/results.jsonl" "$OUT/p99.svg"
python3 scripts/load_chart.py --table "$OUT/results.jsonl"
