#!/usr/bin/env bash
# A whole cluster on this machine: PostgreSQL, NATS, three server nodes and
# HAProxy in front of them on http://127.0.0.1:3000 (health checks on
# /healthz, WebSockets passed through, no sticky sessions). Open the site in
# two browsers and play across nodes; Ctrl-C stops it all.
#
#   ./scripts/cluster.sh            # three nodes
#   NODES=5 ./scripts/cluster.sh    # or another number
#
# The nodes' logs are in $CLUSTER_DIR (printed at start); the game's state is
# in the PostgreSQL database tictactoe_cluster, kept between runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

NODES=${NODES:-3}
SITE_PORT=${SITE_PORT:-3000}
FIRST_NODE_PORT=${FIRST_NODE_PORT:-3101}
NATS_PORT=${NATS_PORT:-4222}
DATABASE=tictactoe_cluster

say() { printf '\033[1mcluster:\033[0m %s\n' "$*"; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

"$ROOT/scripts/setup.sh"
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then
  say "installing HAProxy from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy
fi
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)

say "building the site in release mode"
cargo leptos build --release

# PostgreSQL: the local cluster, and a database of the cluster's own.
ADMIN_URL=$("$ROOT/scripts/postgres.sh")
if ! psql "$ADMIN_URL" -X -q -t -A -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1; then
  psql "$ADMIN_URL" -X -q -c "CREATE DATABASE $DATABASE"
fi
DATABASE_URL=${ADMIN_URL%/postgres}/$DATABASE

CLUSTER_DIR=$(mktemp -d -t tictactoe-cluster.XXXXXX)
pids=()
stop() {
  trap - INT TERM EXIT
  say "stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  say "logs kept in $CLUSTER_DIR"
}
trap stop INT TERM EXIT

say "NATS on port $NATS_PORT"
"$NATS_SERVER" -a 127.0.0.1 -p "$NATS_PORT" >"$CLUSTER_DIR/nats.log" 2>&1 &
pids+=($!)

backends=""
for n in $(seq 1 "$NODES"); do
  port=$((FIRST_NODE_PORT + n - 1))
  say "node $n on port $port"
  LEPTOS_SITE_ROOT=target/site RUST_LOG=${RUST_LOG:-info} target/release/server \
    --addr "127.0.0.1:$port" \
    --database-url "$DATABASE_URL" \
    --nats-url "nats://127.0.0.1:$NATS_PORT" \
    --public-url "http://127.0.0.1:$SITE_PORT" \
    --trusted-proxies 127.0.0.1 \
    >"$CLUSTER_DIR/node$n.log" 2>&1 &
  pids+=($!)
  backends+="    server node$n 127.0.0.1:$port check"$'\n'
done

# HAProxy: round robin, no stickiness; a node whose /healthz is not 200 is
# taken out within two seconds. WebSockets are HTTP upgrades, which HAProxy
# passes through; "timeout tunnel" is how long an upgraded socket may idle
# (the server pings every 25 s).
cat >"$CLUSTER_DIR/haproxy.cfg" <<CONFIG
global
    log stdout format raw local0 warning
defaults
    mode http
    log global
    option httplog
    option forwardfor
    timeout connect 2s
    timeout client 65s
    timeout server 65s
    timeout tunnel 1h
frontend site
    bind 127.0.0.1:$SITE_PORT
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
$backends
CONFIG
"$HAPROXY" -c -q -f "$CLUSTER_DIR/haproxy.cfg"
"$HAPROXY" -f "$CLUSTER_DIR/haproxy.cfg" >"$CLUSTER_DIR/haproxy.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$SITE_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
say "serving http://127.0.0.1:$SITE_PORT through HAProxy ($NODES nodes; logs in $CLUSTER_DIR). Ctrl-C stops it all."
# Until Ctrl-C: a node killed meanwhile (try it) leaves the others serving.
wait
