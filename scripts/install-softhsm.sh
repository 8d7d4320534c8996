#!/usr/bin/env bash
# Install SoftHSM2 (the PKCS#11 token the pkcs11 provider's tests run against).
# Idempotent: does nothing when softhsm2-util is already on PATH.
# Prints the PKCS#11 module path it finds (Debian/Ubuntu: /usr/lib/softhsm/libsofthsm2.so).
set -euo pipefail

if ! command -v softhsm2-util >/dev/null 2>&1; then
  bash "$(dirname "$0")/apt-install.sh" softhsm2
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
