#!/usr/bin/env bash
# Install age (the reference Go implementation, Debian's `age` package): the
# interop tests check that `age -d` opens the age-format export bundles
# Strongbox writes, and that Strongbox imports files `age -e` wrote.
# Idempotent: does nothing when age and age-keygen are on PATH.
set -euo pipefail

if ! command -v age >/dev/null 2>&1 || ! command -v age-keygen >/dev/null 2>&1; then
  bash "$(dirname "$0")/apt-install.sh" --no-install-recommends age
fi
