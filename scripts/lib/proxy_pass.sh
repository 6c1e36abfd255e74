#!/usr/bin/env bash
# Runs the end-to-end tests (or the ctest arguments given) over build/ with hsmctl loading
# p11-kit-proxy (HSMCTL_TEST_PROXY=1), p11-kit registering the tests' SoftHSM alone. As a user,
# the fixture's private p11-kit user configuration does that; p11-kit ignores user configuration
# for root, so as root this runs in a private mount namespace whose p11-kit module directories
# hold one softhsm2.module (the system's directories are left as they are).
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc)
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-R '^e2e\.')

if [ "$(id -u)" -eq 0 ] && [ "${HSMCTL_PROXY_NAMESPACE:-0}" != 1 ]; then
  if ! unshare --mount --propagation private true 2>/dev/null; then
    echo "proxy pass skipped: running as root without the right to make a mount namespace" \
         "(p11-kit ignores user configuration for root, so the pass cannot be isolated)" >&2
    exit 0
  fi
  exec env HSMCTL_PROXY_NAMESPACE=1 unshare --mount --propagation private "$0" "${args[@]}"
fi
if [ "${HSMCTL_PROXY_NAMESPACE:-0}" = 1 ]; then
  softhsm=""
  for p in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
           /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
    [ -e "$p" ] && { softhsm=$p; break; }
  done
  modules=$(mktemp -d)
  trap 'rm -rf "$modules"' EXIT
  echo "module: $softhsm" > "$modules/softhsm2.module"
  for d in /usr/share/p11-kit/modules /etc/pkcs11/modules; do
    [ -d "$d" ] && mount --bind "$modules" "$d"
  done
fi
HSMCTL_TEST_PROXY=1 ctest --test-dir build -j "$jobs" --output-on-failure --timeout 600 "${args[@]}"
