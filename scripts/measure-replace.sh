#!/usr/bin/env bash
# Live re-placement, measured (issue 16 item 2; docs/SCHEDULER.md "Live re-placement"):
# serves the embedded default model on 1 attention + 2 MoE ranks (broadcast dispatch,
# expert statistics with a half-life of 200 steps) and runs scripts/replace_measure.py: a
# drifting workload (domain A: the GPL-3 text, domain B: this repository's C sources), a_max
# before and after a re-placement on each domain, and the step times around each switch.
# Not a test (timings depend on the machine). Usage: scripts/measure-replace.sh [ARGS...]
# (ARGS go to replace_measure.py, e.g. --window 20).
# SPDX-License-Identifier: MIT
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${JANUS_BIN:-$ROOT/build/janus}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/janus-replace.XXXXXX")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
A=${DOMAIN_A:-/usr/share/common-licenses/GPL-3}
cat "$ROOT"/src/*/*.c >"$TMP/b.txt"
B=${DOMAIN_B:-$TMP/b.txt}
JANUS_STEP_LOG=$TMP/steps.log "$BIN" serve --port 0 --attn 1 --moe 2 --max-seqs 16 \
  --sums grouped --dispatch broadcast --stats-half-life 200 >"$TMP/serve.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
PORT=""
for _ in $(seq 1 300); do
  PORT=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$TMP/serve.log" 2>/dev/null | sed 's/.*://' || true)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$TMP/serve.log"; exit 1; }
for _ in $(seq 1 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] && break
  sleep 0.1
done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
/usr/bin/python3 "$ROOT/scripts/replace_measure.py" "$PORT" "$TMP/steps.log" "$A" "$B" "$@"
grep "re-placement" "$TMP/serve.log" || true
