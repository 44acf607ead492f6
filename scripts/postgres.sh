#!/usr/bin/env bash
# Makes the local PostgreSQL cluster reachable for the tests and prints the
# URL of a role that may create databases: each test makes its own
# throwaway database from it (leftovers of an interrupted run are dropped
# here). Installs PostgreSQL from Debian when it is missing.
set -euo pipefail

ROLE=tictactoe_test

say() { printf '\033[1mpostgres:\033[0m %s\n' "$*" >&2; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

if ! command -v pg_lsclusters >/dev/null; then
  say "installing PostgreSQL from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

cluster=$(pg_lsclusters -h | head -n 1)
if [ -z "$cluster" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  say "creating cluster $version/main"
  as_root pg_createcluster "$version" main >&2
  cluster=$(pg_lsclusters -h | head -n 1)
fi
read -r version name port status _ <<<"$cluster"
if [ "$status" != online ]; then
  say "starting cluster $version/$name"
  as_root pg_ctlcluster "$version" "$name" start >&2
fi
for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$port" || { say "cluster $version/$name does not answer on port $port"; exit 1; }

psql_admin() { as_postgres psql -p "$port" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
psql_admin -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$ROLE';
  END IF;
END \$\$;" >&2
for leftover in $(psql_admin -c "SELECT datname FROM pg_database WHERE datname LIKE '${ROLE}_%'"); do
  psql_admin -c "DROP DATABASE IF EXISTS \"$leftover\" WITH (FORCE)" >&2
done

echo "postgres://$ROLE:$ROLE@127.0.0.1:$port/postgres"
