#!/usr/bin/env bash
# A/B of --sums fixed (the default: a token's expert outputs summed in expert-id order
# wherever they ran; selective dispatch with several MoE instances) against --sums grouped
# (broadcast allowed), on the embedded default model served by 1 attention + 2 MoE ranks:
# ROUNDS alternating rounds (default 5), each a fresh server, a warm-up, then N concurrent
# greedy streams of T tokens (tests/e2e/bench_serve.py). Prints one line per round with
# the load average; docs/PROTOCOL.md "Which sums" has a run. Times only: nothing asserted.
# Usage: scripts/bench-sums.sh [N] [T]   (defaults 32 256)
# SPDX-License-Identifier: MIT
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${JANUS_BIN:-$ROOT/build/janus}
N=${1:-32} T=${2:-256} ROUNDS=${ROUNDS:-5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/janus-sums.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  for sums in fixed grouped; do
    log=$TMP/$sums.log port=""
    "$BIN" serve --port 0 --attn 1 --moe 2 --max-seqs "$N" --sums "$sums" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
      port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" | sed 's/.*://' || true)
      [ -n "$port" ] && break
      sleep 0.1
    done
    [ -n "$port" ] || { cat "$log" >&2; exit 1; }
    for _ in $(seq 1 300); do
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ] && break
      sleep 0.1
    done
    /usr/bin/python3 "$ROOT/tests/e2e/bench_serve.py" "$port" "$N" "$T" >/dev/null # warm-up
    echo "round $round sums $sums load $(cut -d' ' -f1 /proc/loadavg): $(/usr/bin/python3 "$ROOT/tests/e2e/bench_serve.py" "$port" "$N" "$T" | tr '\n' ' ')"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  done
done
