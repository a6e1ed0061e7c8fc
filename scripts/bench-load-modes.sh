#!/usr/bin/env bash
# Memory modes, interleaved (issue 12 item 1; docs/PERFORMANCE.md "Memory modes"): ROUNDS
# rounds, each running `janus bench --json` once with --mmap and once with --no-mmap (the
# order alternates per round; PAUSE seconds between rounds spreads them over time), then
# prints per mode and batch the median decode tokens/s (min-max), the median load time,
# and the default rule's verdict: the mode with the better median at batch 1 (the
# memory-bound case the modes differ in); within TIE (2 %) keeps mmap.
# With LLAMA_BENCH=/path/to/llama-bench, each round also runs llama.cpp's batch-1 decode
# (`-mmp 1` and `-mmp 0`, `-o json`: llama.cpp and its forks) on the same file in the same
# minutes.
# Knobs: MODEL (default $JANUS_BENCH_DIR/moe-l8-f16.gguf, made by `make bench`), ROUNDS (5),
#        THREADS (2), BATCHES (1,16), GEN (30), REPS (3), PROMPT (32), PAUSE (0), TIE (0.02),
#        OUT (results directory, default $JANUS_BENCH_DIR/results/modes-<stamp>).
# SPDX-License-Identifier: MIT
set -euo pipefail
cd "$(dirname "$0")/.."
JANUS=${JANUS_BIN:-build/janus}
DIR=${JANUS_BENCH_DIR:-$HOME/.cache/janus-bench}
MODEL=${MODEL:-$DIR/moe-l8-f16.gguf}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-2}
BATCHES=${BATCHES:-1,16}
GEN=${GEN:-30}
REPS=${REPS:-3}
PROMPT=${PROMPT:-32}
PAUSE=${PAUSE:-0}
TIE=${TIE:-0.02}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$DIR/results/modes-$stamp}
[ -f "$MODEL" ] || { echo "no $MODEL: run make bench first (it generates the model)" >&2; exit 1; }
mkdir -p "$OUT"
echo "== $MODEL, $ROUNDS interleaved rounds, threads $THREADS, batches $BATCHES; results in $OUT"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order="mmap no-mmap"; else order="no-mmap mmap"; fi
  for mode in $order; do
    echo "-- round $r: --$mode ($(date -u +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg))"
    "$JANUS" bench -m "$MODEL" --batch "$BATCHES" --threads "$THREADS" --prompt "$PROMPT" \
      --gen "$GEN" --reps "$REPS" --json "--$mode" | tee -a "$OUT/$mode.jsonl"
    if [ -n "${LLAMA_BENCH:-}" ]; then
      mmp=$([ "$mode" = mmap ] && echo 1 || echo 0)
      "$LLAMA_BENCH" -m "$MODEL" -mmp "$mmp" -p 0 -n "$GEN" -t "$THREADS" -o json \
        > "$OUT/llama-$mode-$r.json" || echo "llama-bench failed" >&2
    fi
  done
  [ "$r" -lt "$ROUNDS" ] && sleep "$PAUSE"
done
/usr/bin/python3 - "$OUT" "$TIE" <<'PY'
import json, os, statistics, sys
out, tie = sys.argv[1], float(sys.argv[2])
def rows(name):
    p = os.path.join(out, name)
    return [json.loads(l) for l in open(p) if l.startswith("{")] if os.path.exists(p) else []
med = {}
print(f"{'mode':8} {'batch':>5} {'runs':>4} {'decode tok/s median (min-max)':>32} {'load s median':>14} {'of_bw':>6}")
for mode in ("mmap", "no-mmap"):
    rs = rows(mode + ".jsonl")
    for b in sorted({r["batch"] for r in rs}):
        v = [r["decode_tok_s"] for r in rs if r["batch"] == b]
        ld = [r["load_s"] for r in rs if r["batch"] == b]
        fb = [r["frac_of_bandwidth"] for r in rs if r["batch"] == b]
        med[(mode, b)] = statistics.median(v)
        print(f"{mode:8} {b:5d} {len(v):4d} {statistics.median(v):14.2f} ({min(v):.2f}-{max(v):.2f}){'':6} "
              f"{statistics.median(ld):12.2f} {100 * statistics.median(fb):5.0f}%")
for mode in ("mmap", "no-mmap"):
    rs = []
    for f in sorted(os.listdir(out)):
        if f.startswith("llama-" + mode + "-") and f.endswith(".json"):
            try:
                rs += json.load(open(os.path.join(out, f)))
            except ValueError:
                pass
    v = [r.get("avg_ts") for r in rs if r.get("avg_ts")]
    if v:
        print(f"llama.cpp {'-mmp 1' if mode == 'mmap' else '-mmp 0'}: batch 1 median {statistics.median(v):.2f} tok/s "
              f"({min(v):.2f}-{max(v):.2f}, {len(v)} runs)")
a, b = med.get(("mmap", 1)), med.get(("no-mmap", 1))
if a and b:
    win = "mmap" if b <= a * (1 + tie) else "no-mmap"
    print(f"default rule (batch 1, tie {100 * tie:.0f}% keeps mmap): {win} "
          f"(mmap {a:.2f} vs no-mmap {b:.2f} tok/s)")
PY
