#!/usr/bin/env bash
# Usage: [PG_SCRATCH_TEMPLATE=FOLDER] scripts/postgres-scratch.sh DIR PORT
# A throw-away PostgreSQL for tests and benches: initdb into DIR/data (once), then exec the server
# on 127.0.0.1:PORT with its Unix socket in DIR, so the caller's process id IS the server's (stop it
# with SIGTERM to that pid). Superuser "deid", trust authentication on loopback only.
# PostgreSQL refuses to run as root: as root, the server runs as the "postgres" user (DIR is given
# to it, its parent folder made traversable). Exits 77 when that is impossible (no such user).
set -euo pipefail
dir=${1:?usage: postgres-scratch.sh DIR PORT}
port=${2:?usage: postgres-scratch.sh DIR PORT}
bin=""
for candidate in /usr/lib/postgresql/*/bin; do [ -x "$candidate/postgres" ] && bin=$candidate; done
if [ -z "$bin" ]; then echo "postgres-scratch: no PostgreSQL server under /usr/lib/postgresql (install postgresql)" >&2; exit 77; fi
mkdir -p "$dir"
as=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then echo "postgres-scratch: running as root and there is no postgres user" >&2; exit 77; fi
  chmod o+x "$(dirname "$dir")"   # traverse only: the server's user must reach DIR
  chown postgres: "$dir"
  chmod 0700 "$dir"
  as=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi
init() { # DATA_DIR
  "${as[@]}" "$bin/initdb" -D "$1" -U deid --auth=trust -E UTF8 --locale=C -N >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
}
if [ ! -f "$dir/data/PG_VERSION" ]; then
  # PG_SCRATCH_TEMPLATE=FOLDER: initdb once into FOLDER (under a lock: tests start in parallel),
  # then copy it, which takes a second where initdb takes several.
  template=${PG_SCRATCH_TEMPLATE:-}
  if [ -n "$template" ]; then
    mkdir -p "$template"
    [ "$(id -u)" -ne 0 ] || { chown postgres: "$template"; chmod 0700 "$template"; }
    data="$template/data-$(basename "$(dirname "$bin")")"
    exec 9>"$template.lock"
    flock 9
    [ -d "$data" ] || { rm -rf "$data.tmp"; init "$data.tmp"; mv "$data.tmp" "$data"; }  # whole or absent
    flock -u 9
    exec 9>&-
    cp -a "$data" "$dir/data"
  else
    init "$dir/data"
  fi
fi
exec "${as[@]}" "$bin/postgres" -D "$dir/data" -k "$dir" -p "$port" -h 127.0.0.1 \
  -c max_connections=50 -c shared_buffers=32MB -c logging_collector=off
