#!/usr/bin/env bash
# Proportional resident memory per role (issue 12 item 2; docs/PERFORMANCE.md "Memory per
# role"): runs a disaggregated `janus run` (1 attention + MOE MoE ranks, SLOTS expert slots
# each, round-robin layout with replicas in the free slots) on MODEL once per memory mode,
# with JANUS_PRINT_PSS=1: every rank prints its PSS and RSS (/proc/self/smaps_rollup) once
# it is set up, and the bytes of its weight share. Prints them with the bound of the issue
# for MoE ranks: PSS <= 1.1 x share + 64 MB.
# Knobs: MODEL (default $JANUS_BENCH_DIR/moe-l8-f16.gguf), MOE (2), SLOTS (default of
#        janus: ceil(E/M)+1), MODES ("mmap no-mmap"), EXTRA (more janus run options).
# SPDX-License-Identifier: MIT
set -euo pipefail
cd "$(dirname "$0")/.."
JANUS=${JANUS_BIN:-build/janus}
DIR=${JANUS_BENCH_DIR:-$HOME/.cache/janus-bench}
MODEL=${MODEL:-$DIR/moe-l8-f16.gguf}
MOE=${MOE:-2}
MODES=${MODES:-mmap no-mmap}
slots=()
[ -n "${SLOTS:-}" ] && slots=(--slots "$SLOTS")
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
[ -f "$MODEL" ] || { echo "no $MODEL: run make bench first (it generates the model)" >&2; exit 1; }
echo "== $MODEL ($(stat -c %s "$MODEL") bytes): 1 attention + $MOE MoE ranks ${slots[*]}"
for mode in $MODES; do
  # shellcheck disable=SC2086
  JANUS_PRINT_PSS=1 "$JANUS" run -m "$MODEL" -t 1,2,3,4 -n 2 --attn 1 --moe "$MOE" \
    "${slots[@]}" --max-seqs 4 --ctx 256 --budget 64 "--$mode" ${EXTRA:-} 2>&1 >/dev/null \
    | grep '^janus-pss:' | sort -k3,3n | awk '{
        pss = $11 * 1024; rss = $13 * 1024; open = $15 * 1024; share = $17;
        line = sprintf("%-8s rank %s %-4s PSS %8.1f MB  RSS %8.1f MB  (before load %6.1f MB)  share %8.1f MB",
                       $9, $3, $5, pss / 1e6, rss / 1e6, open / 1e6, share / 1e6);
        if ($5 == "moe") line = line sprintf("  PSS/(share) %.3f  bound 1.1 x share + 64 MB: %s",
                                             pss / share, pss <= 1.1 * share + 64e6 ? "ok" : "EXCEEDED");
        print line }'
done
