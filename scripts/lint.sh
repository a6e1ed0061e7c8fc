#!/usr/bin/env bash
# Bans unsafe or nondeterministic calls outside tests (STYLE: bans).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(grep -nE '\b(sprintf|strcpy|strcat|gets|atoi|rand|srand)\s*\(|\bassert\s*\(' \
  $(find src cli -name '*.[ch]') | grep -vE 'snprintf|vsnprintf|_Static_assert|JANUS_ASSERT' || true)
if [ -n "$bad" ]; then echo "$bad"; echo "lint: banned calls found"; exit 1; fi
echo "lint: ok"
