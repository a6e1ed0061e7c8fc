#!/usr/bin/env bash
# Regenerates every number and plot of docs/PLANNER.md section 6 (SPEC §7-8): runs the
# planner sweeps and simulations, copies the SVGs to docs/img/ and rewrites section 6 from
# the outputs (scripts/planner_results.py). Run from the repository root after `make`.
# Takes under a minute on 2 cores (more when they are shared). Usage: bash scripts/planner-results.sh [OUTDIR]
# Defaults (issue 17): h100's leader_rails 8 (the publication's testbed), Janus's dispatch
# chosen per step (auto), the monolithic baseline calibrated (docs/PLANNER.md 5.1).
set -euo pipefail
O=${1:-build/planner-results}
rm -rf "$O"; mkdir -p "$O/img" "$O/img1" "$O/val"
export JANUS_CACHE_DIR=$O/cache
J=./build/janus
for m in deepseek-v2 qwen3-235b-a22b; do
  $J sweep --model $m --hw h100 --out $O/img > $O/sweep-$m.txt 2>/dev/null
  $J simulate --model $m --hw h100 --slo-ms 150 --trace diurnal --interval 15m --out $O/img > $O/sim-$m.txt
  $J simulate --model $m --hw h100 --slo-ms 150 --trace diurnal --interval 15m --forecast last > $O/simlast-$m.txt
  $J simulate --model $m --hw h100 --slo-ms 150 --trace bursty --interval 15m > $O/simbursty-$m.txt
  # 6.5: the single-leader funnel; broadcast only (Janus before issue 17); the idealised
  # (roofline) monolithic baseline; and the two mechanism changes of the baselines.
  $J sweep --model $m --hw h100 --what slo,batch --slo-ms 150 --coef leader_rails=1 --out $O/img1 > $O/sweep1-$m.txt 2>/dev/null
  $J simulate --model $m --hw h100 --slo-ms 150 --trace diurnal --interval 15m --coef leader_rails=1 --out $O/img1 > $O/sim1-$m.txt
  $J sweep --model $m --hw h100 --what slo --coef dispatch=1 > $O/sweepbc-$m.txt 2>/dev/null
  $J sweep --model $m --hw h100 --what slo --coef dispatch=1 --coef leader_rails=1 > $O/sweepbc1-$m.txt 2>/dev/null
  $J simulate --model $m --hw h100 --slo-ms 150 --trace diurnal --interval 15m --coef dispatch=1 > $O/simbc-$m.txt
  $J sweep --model $m --hw h100 --what slo,batch --coef mono_slowdown=1 > $O/sweepr-$m.txt 2>/dev/null
  $J simulate --model $m --hw h100 --slo-ms 150 --trace diurnal --interval 15m --coef mono_slowdown=1 > $O/simr-$m.txt
  $J sweep --model $m --hw h100 --what slo --coef m2n_per_instance=1 --coef moe_overlap=1 > $O/sweepall-$m.txt 2>/dev/null
  $J simulate --model $m --hw h100 --slo-ms 150 --trace diurnal --interval 15m --coef m2n_per_instance=1 --coef moe_overlap=1 > $O/simall-$m.txt
  $J sweep --model $m --hw h100 --what dispatch --batches 1,16,64,256,1024,4096,8192 --shapes 4+8,8+16,8+32 > $O/disp-$m.txt 2>/dev/null
  $J sweep --model $m --hw h100 --what dispatch --batches 1,16,64,256,1024,4096,8192 --shapes 4+8,8+16,8+32 --coef leader_rails=1 > $O/disp1-$m.txt 2>/dev/null
done
$J plan --model deepseek-v2 --hw h100 --slo-ms 150 --rate 5000 --layout-out $O/layout.json > $O/plan-layout.txt 2>&1
for slo in 150 200; do
  $J plan --model deepseek-v2 --hw h100 --slo-ms $slo --rate 20000 > $O/plan-20k-$slo.txt 2>/dev/null
  $J plan --model deepseek-v2 --hw h100 --slo-ms $slo --rate 20000 --coef mono_slowdown=1 > $O/plan-20k-$slo-r.txt 2>/dev/null
  $J plan --model deepseek-v2 --hw h100 --slo-ms $slo --rate 20000 --coef leader_rails=1 > $O/plan-20k-$slo-1.txt 2>/dev/null
done
$J plan --model deepseek-v2 --hw h100 --slo-ms 150 --rate 28000 --json > $O/plan-ds28k.json 2>/dev/null
$J plan --model qwen3-235b-a22b --hw h100 --slo-ms 150 --rate 15000 > $O/plan-q15k.txt 2>/dev/null
$J sweep --model-file data/models/deepseek-v2-fp8kv6.json --hw h800 --what slo --slos 1000000 --max-gpus 8 --coef mono_slowdown=1 > $O/calibration.txt 2>/dev/null
rm -f docs/img/deepseek-v2-h100-*.svg docs/img/qwen3-235b-a22b-h100-*.svg
cp $O/img/*.svg docs/img/
for f in $O/img1/*.svg; do
  b=$(basename "$f" .svg)
  case $b in *-load) continue ;; esac
  cp "$f" "docs/img/$b-rails1.svg"
done
/usr/bin/python3 scripts/planner_results.py "$O" > "$O/section6.md"
/usr/bin/python3 - "$O/section6.md" <<'PY'
import sys
doc = open('docs/PLANNER.md').read()
sec = open(sys.argv[1]).read().rstrip('\n') + '\n\n'
a, b = doc.index('## 6. Results'), doc.index('## 7. Workloads')
open('docs/PLANNER.md', 'w').write(doc[:a] + sec + doc[b:])
PY
echo "planner results: $O, docs/img/*.svg, docs/PLANNER.md section 6 rewritten"
