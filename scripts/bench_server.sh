# Sourced by the benchmark scripts (load.sh, pgo.sh): one fresh server at a
# time, pinned to core 0, with the limits that would throttle the load
# generator's players lifted (the per-session rate limit of 20 requests a
# second, the connections per address).
#
#   start_server BINARY PORT STORE [HOST]   # STORE: sqlite or memory
#   stop_server
#
# start_server sets `server_pid`; each server gets a data folder of its
# own, removed when it stops.

server_pid=
server_data=
start_server() {
  local binary=$1 port=$2 store=$3 host=${4:-127.0.0.1}
  server_data=$(mktemp -d)
  local flags=(--data-dir "$server_data")
  [ "$store" = memory ] && flags=(--in-memory)
  RUST_LOG=warn taskset -c 0 "$binary" --addr "$host:$port" "${flags[@]}" \
    --rate-limit-per-sec 1000000 --rate-limit-burst 1000000 \
    --max-connections-per-address 0 >"$server_data.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return
    sleep 0.1
  done
  echo "the server did not come up: $(cat "$server_data.log")" >&2
  exit 1
}

# SIGTERM, then a minute for the server's own shutdown (a profile-guided
# training build writes its counts then); a server still up after it is
# killed and fails the script.
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 600); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -9 "$server_pid"
    echo "the server did not stop within a minute of SIGTERM" >&2
    exit 1
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  rm -rf "$server_data" "$server_data.log"
}
