#!/usr/bin/env bash
# Install PostgreSQL's server binaries (initdb, pg_ctl, postgres), which the tests use to
# start a throwaway cluster of their own (test/helpers/postgres-cluster.ts); no server
# is set up or started here. Idempotent: does nothing when initdb is already there.
# Prints the directory holding initdb (Debian/Ubuntu: /usr/lib/postgresql/<version>/bin).
set -euo pipefail

find_bin() {
  if [ -n "${STRONGBOX_PG_BIN:-}" ] && [ -x "$STRONGBOX_PG_BIN/initdb" ]; then echo "$STRONGBOX_PG_BIN"; return; fi
  local newest
  newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$newest" ] && [ -x "$newest/initdb" ]; then echo "$newest"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
}

bin="$(find_bin)"
if [ -z "$bin" ]; then
  bash "$(dirname "$0")/apt-install.sh" postgresql
  bin="$(find_bin)"
fi
if [ -z "$bin" ]; then
  echo "install-postgres: postgresql is installed but initdb was not found; set STRONGBOX_PG_BIN" >&2
  exit 1
fi
echo "$bin"
