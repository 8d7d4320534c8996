#!/usr/bin/env bash
# Install SoftHSM2 (the PKCS#11 token the pkcs11 provider's tests run against).
# Idempotent: does nothing when softhsm2-util is already on PATH.
# Prints the PKCS#11 module path it finds (Debian/Ubuntu: /usr/lib/softhsm/libsofthsm2.so).
set -euo pipefail

if ! command -v softhsm2-util >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "install-softhsm: need root (or sudo) to apt-get install softhsm2" >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-softhsm: no apt-get here; install SoftHSM2 with your package manager" >&2
    exit 1
  fi
  # apt output goes to stderr so stdout carries only the module path: MODULE=$(scripts/install-softhsm.sh)
  $SUDO apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y softhsm2 >&2
fi

module=""
for candidate in \
  "${SOFTHSM2_MODULE:-}" \
  /usr/lib/softhsm/libsofthsm2.so \
  /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
  /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so \
  /usr/local/lib/softhsm/libsofthsm2.so \
  /usr/lib64/pkcs11/libsofthsm2.so \
  /usr/lib/pkcs11/libsofthsm2.so \
  /opt/homebrew/lib/softhsm/libsofthsm2.so; do
  if [ -n "$candidate" ] && [ -f "$candidate" ]; then module="$candidate"; break; fi
done

if [ -z "$module" ]; then
  echo "install-softhsm: softhsm2-util is installed but libsofthsm2.so was not found; set SOFTHSM2_MODULE" >&2
  exit 1
fi
echo "$module"
