#!/usr/bin/env bash
# The cluster rows of docs/performance.md: for 1 and 3 nodes on PostgreSQL
# and NATS, and each number of concurrent games, a fresh database, fresh
# nodes and one unpaced run of the load generator (DURATION seconds), the
# two players of each game on different nodes. Results go to
# docs/load/cluster.jsonl and a table on stdout.
#
# On this 2-core machine the nodes share core 0 (taskset) and the load
# generator has core 1; PostgreSQL and NATS run where the kernel puts them.
# So moves/s says what two cores do with everything on them; the server CPU
# per move (all nodes together) is what carries to real machines.
#
#   ./scripts/load_cluster.sh                  # 1 and 3 nodes, 100 and 1,000 games
#   NODES="3" GAMES="100" ./scripts/load_cluster.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

NODES=${NODES:-"1 3"}
GAMES=${GAMES:-"100 1000"}
DURATION=${DURATION:-10}
FIRST_PORT=${FIRST_PORT:-3960}
NATS_PORT=${NATS_PORT:-4960}
OUT=docs/load
NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)

cargo build --release --locked -p server -p loadgen
mkdir -p "$OUT"
: >"$OUT/cluster.jsonl"
ADMIN_URL=$("$ROOT/scripts/postgres.sh")
DATABASE=tictactoe_test_load
logs=$(mktemp -d)

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
trap 'stop_all; rm -rf "$logs"' EXIT

for nodes in $NODES; do
  for games in $GAMES; do
    echo "== $nodes node(s), $games concurrent games" >&2
    psql "$ADMIN_URL" -X -q -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" -c "CREATE DATABASE $DATABASE"
    "$NATS_SERVER" -a 127.0.0.1 -p "$NATS_PORT" >"$logs/nats.log" 2>&1 &
    pids+=($!)
    urls=()
    for n in $(seq 1 "$nodes"); do
      port=$((FIRST_PORT + n - 1))
      RUST_LOG=warn taskset -c 0 target/release/server --addr "127.0.0.1:$port" \
        --database-url "${ADMIN_URL%/postgres}/$DATABASE" \
        --nats-url "nats://127.0.0.1:$NATS_PORT" \
        --rate-limit-per-sec 1000000 --rate-limit-burst 1000000 \
        --max-connections-per-address 0 >"$logs/node$n.log" 2>&1 &
      pids+=($!)
      urls+=("http://127.0.0.1:$port")
    done
    for url in "${urls[@]}"; do
      for _ in $(seq 1 100); do
        curl -sf "$url/healthz" >/dev/null && break
        sleep 0.1
      done
    done
    taskset -c 1 target/release/loadgen --url "$(IFS=,; echo "${urls[*]}")" --games "$games" \
      --duration-secs "$DURATION" --time-limit-secs 300 \
      --label "postgres, $nodes node(s)" --json --quiet | tee -a "$OUT/cluster.jsonl" >&2 || true
    stop_all
  done
done
psql "$ADMIN_URL" -X -q -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)"

python3 - "$OUT/cluster.jsonl" <<'TABLE'
import json, sys
print("| nodes | games | moves/s | p50 | p99 | server CPU per move | NATS messages per move | errors |")
print("|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    nodes = r["label"].split(", ")[1].split(" ")[0]
    lat = r["latency_ms"]
    cpu = r.get("server_cpu_us_per_move")
    nats = r.get("nats_messages_per_move")
    print(f"| {nodes} | {r['concurrent_games']:,} | {r['moves_per_sec']:,.0f} | {lat['p50']:.1f} ms | {lat['p99']:.1f} ms | "
          f"{'-' if cpu is None else f'{cpu:.0f} µs'} | {'-' if nats is None else f'{nats:.1f}'} | {r['errors']} |")
TABLE
