#!/usr/bin/env bash
# Install zsh and fish (and `script`, from bsdutils, already on Debian): the completion
# tests check `store completion zsh|fish` in the real shells and run commands on a
# terminal. Idempotent: does nothing when all are on PATH.
set -euo pipefail

missing=()
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v fish >/dev/null 2>&1 || missing+=(fish)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
if [ ${#missing[@]} -gt 0 ]; then bash "$(dirname "$0")/apt-install.sh" --no-install-recommends "${missing[@]}"; fi
