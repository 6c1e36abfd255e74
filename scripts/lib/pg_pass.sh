#!/usr/bin/env bash
# The keystore's PostgreSQL pass (release pass only, scripts/test): the keystore unit suite's
# PostgreSQL cases and the end-to-end tests of tests/e2e/store/ (suites Store and Fleet), over
# build/, against a throwaway PostgreSQL 15 cluster (scripts/lib/pg_cluster.sh). Other ctest
# arguments replace the default selection.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc)
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-R '/PostgreSQL|^e2e\.Store|^e2e\.Fleet\.')
exec scripts/lib/pg_cluster.sh ctest --test-dir build -j "$jobs" --output-on-failure \
  --timeout 600 "${args[@]}"
