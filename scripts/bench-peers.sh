#!/usr/bin/env bash
# Decode beside the peers, interleaved (issue 13 targets; docs/PERFORMANCE.md "Quantized
# weights"): ROUNDS rounds on one MODEL, each running, in an order that rotates per round,
#   janus     `janus bench --batch 1,16 --json` (its own read-bandwidth pass beside each timing)
#   ik        ik_llama.cpp's llama-bench (-mmp 0 -rtr 1, batch 1) and llama-batched-bench
#             (--no-mmap -rtr, 16 parallel sequences), when IK_BIN names their directory
#   llama.cpp node-llama-cpp's prebuilt CPU llama.cpp (batch 1 and 16, no mmap) through
#             NLC_DIR/bench.mjs (docs/PERFORMANCE.md "Memory modes" has the harness)
# and prints per engine and batch the median decode tokens/s (min-max) and janus's share of
# the read bandwidth. Peers are built outside the repo from fetched snapshots.
# Knobs: MODEL (required), ROUNDS (5), THREADS (2), GEN (32), REPS (3), PAUSE (0), MATMUL
#        (janus --matmul; empty: the default), IK_BIN, NLC_DIR, OUT (results directory).
# SPDX-License-Identifier: MIT
set -euo pipefail
cd "$(dirname "$0")/.."
JANUS=${JANUS_BIN:-build/janus}
DIR=${JANUS_BENCH_DIR:-$HOME/.cache/janus-bench}
MODEL=$(realpath "${MODEL:?set MODEL to a GGUF file (make bench generates the bench models)}")
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-2}
GEN=${GEN:-32}
REPS=${REPS:-3}
PAUSE=${PAUSE:-0}
MATMUL=${MATMUL:-}
IK_BIN=${IK_BIN:-}
NLC_DIR=${NLC_DIR:-}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$DIR/results/peers-$stamp}
mkdir -p "$OUT"
path_opt=()
[ -n "$MATMUL" ] && path_opt=(--matmul "$MATMUL")
echo "== $MODEL: $ROUNDS rounds, threads $THREADS; results in $OUT"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

run_janus() {
  "$JANUS" bench -m "$MODEL" --batch 1,16 --threads "$THREADS" --prompt 32 --gen "$GEN" \
    --reps "$REPS" --json "${path_opt[@]}" >> "$OUT/janus.jsonl"
}
run_ik() {
  [ -n "$IK_BIN" ] || return 0
  cd "$OUT" # the peers write llama.log into the working directory
  "$IK_BIN/llama-bench" -m "$MODEL" -mmp 0 -rtr 1 -p 0 -n "$GEN" -t "$THREADS" -r 1 -o json \
    2>/dev/null | /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(json.dumps({"engine": "ik_llama.cpp", "batch": 1, "decode_tok_s": r["avg_ts"]}))
' >> "$OUT/peers.jsonl"
  "$IK_BIN/llama-batched-bench" -m "$MODEL" -c 2048 -npp 32 -ntg "$GEN" -npl 16 -t "$THREADS" \
    --no-mmap -rtr 2>&1 | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    f = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(f) == 10 and f[2].isdigit():
        print(json.dumps({"engine": "ik_llama.cpp", "batch": int(f[2]), "decode_tok_s": float(f[7])}))
' >> "$OUT/peers.jsonl"
  cd - > /dev/null
}
run_llamacpp() {
  [ -n "$NLC_DIR" ] || return 0
  for b in 1 16; do
    (cd "$NLC_DIR" && node bench.mjs "$MODEL" 0 "$b" "$GEN") >> "$OUT/peers.jsonl"
  done
}

engines=(janus ik llamacpp)
for r in $(seq 1 "$ROUNDS"); do
  for i in 0 1 2; do
    e=${engines[$(((i + r) % 3))]}
    echo "-- round $r: $e ($(date -u +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg))"
    "run_$e"
  done
  [ "$r" -lt "$ROUNDS" ] && sleep "$PAUSE"
done

/usr/bin/python3 - "$OUT" <<'EOF'
import json, statistics, sys, pathlib
out = pathlib.Path(sys.argv[1])
rows = {}
def add(engine, batch, v, frac=None):
    rows.setdefault((engine, batch), []).append((v, frac))
for line in (out / "janus.jsonl").read_text().splitlines():
    j = json.loads(line)
    if "decode_tok_s" in j:
        add("janus", int(j["batch"]), j["decode_tok_s"], j.get("frac_of_bandwidth"))
p = out / "peers.jsonl"
if p.exists():
    for line in p.read_text().splitlines():
        j = json.loads(line)
        add(j["engine"], int(j["batch"]), j["decode_tok_s"])
print(f"{'engine':<34} {'batch':>5} {'runs':>4} {'tok/s median':>12} {'(min-max)':>17} {'of_bw':>6}")
for (e, b), v in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    t = [x for x, _ in v]
    f = [x for _, x in v if x is not None]
    fr = f"{100 * statistics.median(f):.0f} %" if f else "-"
    print(f"{e:<34} {b:>5} {len(t):>4} {statistics.median(t):>12.2f} "
          f"{'(%.2f-%.2f)' % (min(t), max(t)):>17} {fr:>6}")
EOF
