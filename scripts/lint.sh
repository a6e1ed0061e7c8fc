#!/usr/bin/env bash
# Bans unsafe or nondeterministic calls outside tests (STYLE: bans) and checks the layer
# order (scripts/check_layers.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(grep -nE '\b(sprintf|strcpy|strcat|gets|atoi|rand|srand)\s*\(|\bassert\s*\(' \
  $(find src cli -name '*.[ch]') | grep -vE 'snprintf|vsnprintf|_Static_assert|JANUS_ASSERT' || true)
if [ -n "$bad" ]; then echo "$bad"; echo "lint: banned calls found"; exit 1; fi
# Includes point down the layer order of docs/ARCHITECTURE.md; its module table and every
# source path named in docs and comments match the tree.
/usr/bin/python3 scripts/check_layers.py
echo "lint: ok"
