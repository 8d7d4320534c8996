#!/usr/bin/env bash
# A first run: make a store in a temp dir, write a secret, read it back.
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
store() { node dist/bin/store.js --store "$dir/store.db" --keyfile "$dir/master.key" "$@"; }
store init --master keyfile
printf 'hunter2' | store set app/db-password
printf 'correct-horse' | store set app/db-password
echo "current value: $(store get app/db-password)"
echo "version 1:     $(store get app/db-password --version 1)"
store history app/db-password
store list
