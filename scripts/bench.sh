#!/usr/bin/env bash
# make bench: decode benchmarks on models larger than the caches (docs/PERFORMANCE.md).
# Generates (once, into $JANUS_BENCH_DIR, default ~/.cache/janus-bench) the ≥1 GB MoE models
# of issue 4 — llama (Mixtral-style), n_embd 1024, 16 experts top-4, expert width 2048 —
# in F16 (8 layers, 1.66 GB), Q8_0 (10 layers, 1.10 GB: 8 would be 0.88 GB) and Q4_K_M
# (18 layers, llama-quantize's _M type mix, about 1.1 GB), then runs
# `janus bench` (decode per batch size, each timing paired with a memory-bandwidth pass) and
# `janus bench --moe-layer` (the two MoE-layer curves) on each.
# Results are printed and also kept as JSON lines in $JANUS_BENCH_DIR/results/;
# `scripts/bench_report.py summary DIR TYPE` turns several runs into the tables of the doc.
# Knobs: THREADS (default 2), BATCHES (1,4,16,64), PROMPT (32), GEN (30), REPS (5),
#        MOE_BATCH (4), TYPES ("f16 q8_0 q4_k_m"), MATMUL (the numeric path of quantized
#        weights, janus bench --matmul; default: janus's default).
# SPDX-License-Identifier: MIT
set -euo pipefail
cd "$(dirname "$0")/.."
JANUS=${JANUS_BIN:-build/janus}
DIR=${JANUS_BENCH_DIR:-$HOME/.cache/janus-bench}
THREADS=${THREADS:-2}
BATCHES=${BATCHES:-1,4,16,64}
PROMPT=${PROMPT:-32}
GEN=${GEN:-30}
REPS=${REPS:-5}
MOE_BATCH=${MOE_BATCH:-4}
TYPES=${TYPES:-f16 q8_0 q4_k_m}
MATMUL=${MATMUL:-}
path_opt=()
[ -n "$MATMUL" ] && path_opt=(--matmul "$MATMUL")
mkdir -p "$DIR/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

echo "== machine"
lscpu | grep -E 'Model name|^CPU\(s\)|L2 cache|L3 cache' || true
grep MemTotal /proc/meminfo || true
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

layers() {
  case "$1" in
    q8_0) echo 10 ;;
    q4_k_m) echo 18 ;;
    *) echo 8 ;;
  esac
}
model() { echo "$DIR/moe-l$(layers "$1")-$1.gguf"; }

for t in $TYPES; do
  m=$(model "$t")
  if [ ! -f "$m" ]; then
    echo "== generating $m"
    "$JANUS" gen-model --arch llama --n-embd 1024 --n-layer "$(layers "$t")" --n-head 16 --n-head-kv 4 \
      --head-dim 64 --n-expert 16 --n-expert-used 4 --n-ff-exp 2048 --type "$t" --seed 1 \
      -o "$m.tmp"
    mv "$m.tmp" "$m"
  fi
done

for t in $TYPES; do
  m=$(model "$t")
  echo "== decode: $m (threads $THREADS)"
  out="$DIR/results/decode-$t-$stamp.jsonl"
  "$JANUS" bench -m "$m" --batch "$BATCHES" --threads "$THREADS" --prompt "$PROMPT" \
    --gen "$GEN" --reps "$REPS" "${path_opt[@]}" --json > "$out"
  /usr/bin/python3 scripts/bench_report.py decode "$out"
  echo "   (json: $out)"
  echo "== MoE layer: $m (batch $MOE_BATCH, threads $THREADS)"
  out="$DIR/results/moe-layer-$t-$stamp.jsonl"
  "$JANUS" bench --moe-layer -m "$m" --batch "$MOE_BATCH" --threads "$THREADS" --reps "$REPS" \
    "${path_opt[@]}" --json > "$out"
  /usr/bin/python3 scripts/bench_report.py moe "$out"
  echo "   (json: $out)"
done
