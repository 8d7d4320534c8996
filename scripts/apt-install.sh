#!/usr/bin/env bash
# apt-get install PACKAGE... as root or through sudo; apt's output goes to stderr,
# so a caller's stdout carries only what it prints itself. For the CI install scripts.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "apt-install: need root (or sudo) to apt-get install $*" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-install: no apt-get here; install $* with your package manager" >&2
  exit 1
fi
$SUDO apt-get update >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "$@" >&2
