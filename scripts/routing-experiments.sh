#!/usr/bin/env bash
# The routing experiments of docs/ROUTING.md (issue 14 item 4) on a real model:
#   1. janus trace: the model's routing on TEXT (windows of CTX tokens, at most CHUNKS);
#   2. split by window: the first TRAIN_FRAC of the windows = train (statistics and
#      placement), the rest = test (evaluation) — or, with TEST_TEXT set, the whole of TEXT
#      is train and TEST_TEXT's trace is test;
#   3. load skew, co-activation, window locality (scripts/routing_experiments.py stats);
#   4. placement statistics from decode-like batches of the train split: STAT_STEPS steps
#      of STAT_BATCH tokens drawn uniformly (resample); janus place (janus, eplb) for each
#      (n, C) of CONFIGS; janus place-eval on the test split, --sample pool (decode batches
#      of independent sequences) and block (B tokens of one window), BATCHES;
#   5. janus plan / janus sweep --what amax with the synthetic and the measured statistics
#      (data/models/$PLAN_MODEL.json must describe MODEL: same expert count);
#   6. markdown tables and SVG plots in OUTDIR (report).
# Usage: scripts/routing-experiments.sh JANUS_BIN MODEL TEXT OUTDIR
# Env (defaults): CTX=512 CHUNKS=170 TRAIN_FRAC=0.5 TEST_TEXT= STAT_BATCH=16 STAT_STEPS=2000
#   CONFIGS="2:20 4:10 8:5 16:3" BATCHES=1,8,32,128,512 SAMPLES=400 PLAN_MODEL=janus-moe-kjv
#   PLAN_HW=h100 THREADS=1   (PLAN_MODEL= skips step 5)
#   PLOT_NOTE="text": a label printed on every plot (default: the model's file name)
# SPDX-License-Identifier: MIT
set -euo pipefail
[ $# -eq 4 ] || { sed -n '2,20p' "$0"; exit 2; }
J=$1 MODEL=$2 TEXT=$3 OUT=$4
HERE=$(cd "$(dirname "$0")" && pwd)
PY="/usr/bin/python3 $HERE/routing_experiments.py"
CTX=${CTX:-512} CHUNKS=${CHUNKS:-170} TRAIN_FRAC=${TRAIN_FRAC:-0.5} TEST_TEXT=${TEST_TEXT:-}
STAT_BATCH=${STAT_BATCH:-16} STAT_STEPS=${STAT_STEPS:-2000}
CONFIGS=${CONFIGS:-"2:20 4:10 8:5 16:3"} BATCHES=${BATCHES:-1,8,32,128,512}
SAMPLES=${SAMPLES:-400} PLAN_MODEL=${PLAN_MODEL-janus-moe-kjv} PLAN_HW=${PLAN_HW:-h100}
THREADS=${THREADS:-1}
export PLOT_NOTE=${PLOT_NOTE:-$(basename "$MODEL")}
mkdir -p "$OUT/raw"
R=$OUT/raw
t0=$(date +%s)
log() { echo "[$(($(date +%s) - t0)) s] $*" >&2; }

E=$("$J" info -m "$MODEL" | awk '$1 ~ /\.expert_count$/ {print $2; exit}')
if [ -z "$E" ] || [ "$E" -le 0 ]; then echo "routing-experiments: $MODEL has no experts" >&2; exit 1; fi

log "trace ($TEXT, ctx $CTX, at most $CHUNKS windows)"
"$J" trace -m "$MODEL" -f "$TEXT" -o "$R/trace.txt" --ctx "$CTX" --chunks "$CHUNKS" \
  --threads "$THREADS" 2> "$R/trace.log"
cat "$R/trace.log" >&2
if [ -n "$TEST_TEXT" ]; then
  cp "$R/trace.txt" "$R/train.txt"
  "$J" trace -m "$MODEL" -f "$TEST_TEXT" -o "$R/test.txt" --ctx "$CTX" --chunks "$CHUNKS" \
    --threads "$THREADS" 2>> "$R/trace.log"
  split_desc="train = the trace of $(basename "$TEXT"), test = the trace of $(basename "$TEST_TEXT")"
else
  $PY split "$R/trace.txt" "$R/train.txt" "$R/test.txt" --train-frac "$TRAIN_FRAC" > "$R/split.log"
  split_desc="$(cat "$R/split.log") of $(basename "$TEXT") (first $TRAIN_FRAC of the windows = train)"
fi
log "$split_desc"

log "statistics (whole trace)"
$PY stats "$R/trace.txt" "$OUT" --experts "$E" > /dev/null

log "placement statistics: $STAT_STEPS decode-like steps of $STAT_BATCH tokens from train"
$PY resample "$R/train.txt" "$R/train-b$STAT_BATCH.txt" --batch "$STAT_BATCH" \
  --steps "$STAT_STEPS" --seed 1
for nc in $CONFIGS; do
  n=${nc%:*} C=${nc#*:}
  "$J" place --routing "$R/train-b$STAT_BATCH.txt" --experts "$E" --instances "$n" --slots "$C" \
    --policy janus -o "$R/layout-n$n-janus.json" --save-stats "$R/stats.json" 2>> "$R/place.log"
  "$J" place --stats "$R/stats.json" --instances "$n" --slots "$C" --policy eplb \
    -o "$R/layout-n$n-eplb.json" 2>> "$R/place.log"
  for L in janus eplb; do
    for S in pool block; do
      "$J" place-eval --layout "$R/layout-n$n-$L.json" --routing "$R/test.txt" \
        --batches "$BATCHES" --samples "$SAMPLES" --sample "$S" \
        > "$R/pe-n$n-C$C-$L-$S.txt"
    done
  done
  log "a_max n=$n C=$C done"
done

log "plan / sweep: synthetic vs measured statistics ($PLAN_MODEL on $PLAN_HW)"
PLAN="--model $PLAN_MODEL --hw $PLAN_HW --slo-ms 50 --no-cache --json"
SW="--model $PLAN_MODEL --hw $PLAN_HW --what amax --no-cache"
: > "$R/plan.log"
# shellcheck disable=SC2086
if [ -z "$PLAN_MODEL" ]; then
  log "PLAN_MODEL is empty: no planner comparison"
elif "$J" plan $PLAN --rate 1000 > "$R/plan-synthetic-r1000.json" 2>> "$R/plan.log"; then
  for rate in 1000 1000000; do
    "$J" plan $PLAN --rate $rate > "$R/plan-synthetic-r$rate.json" 2>> "$R/plan.log" || true
    "$J" plan $PLAN --rate $rate --stats "$R/stats.json" > "$R/plan-measured-r$rate.json" \
      2>> "$R/plan.log" || true
  done
  : > "$R/sweep-amax-synthetic.txt"; : > "$R/sweep-amax-measured.txt"
  for nm in 2 4 8; do
    for tag in synthetic measured; do
      st=""; [ $tag = measured ] && st="--stats $R/stats.json"
      echo "## $nm MoE instances" >> "$R/sweep-amax-$tag.txt"
      "$J" sweep $SW --amax-moe $nm $st >> "$R/sweep-amax-$tag.txt" 2>> "$R/plan.log" || true
    done
  done
else
  echo "routing-experiments: janus plan --model $PLAN_MODEL failed (see $R/plan.log); no plan comparison" >&2
fi

log "report"
{
  echo "# Routing experiments"
  echo
  echo "Model \`$(basename "$MODEL")\` ($E experts), text \`$(basename "$TEXT")\`; $split_desc."
  echo "Placement statistics: $STAT_STEPS steps of $STAT_BATCH tokens drawn uniformly from the"
  echo "train split. a_max: place-eval, $SAMPLES samples per (layer, batch), test split."
  echo "\`$(head -c 300 "$R/trace.log" | tr '\n' ' ')\`"
  echo
  cat "$OUT/stats.md"
  echo "## a_max (janus place-eval)"
  echo
  BATCHES=$BATCHES $PY report "$OUT"
  echo "## Plan (janus plan --json, janus sweep --what amax): synthetic vs measured statistics"
  echo
  cat "$OUT/plan.md"
  echo
  echo "## Plots"
  echo
  for f in "$OUT"/load.svg "$OUT"/coact-layer*.svg "$OUT"/amax-n*-pool.svg "$OUT"/amax-n*-block.svg; do
    [ -f "$f" ] && echo "![$(basename "$f" .svg)]($(basename "$f"))"
  done
} > "$OUT/README.md" 2> "$R/report.log"
log "done: $OUT/README.md"
