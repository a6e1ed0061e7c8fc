#!/usr/bin/env bash
# Regenerates every number and plot of docs/PLANNER.md section 6 (SPEC §7-8): runs the
# planner sweeps and simulations, copies the SVGs to docs/img/ and rewrites section 6 from
# the outputs (scripts/planner_results.py). Run from the repository root after `make`.
# Takes about 1 minute on 2 cores. Usage: bash scripts/planner-results.sh [OUTDIR]
set -euo pipefail
O=${1:-build/planner-results}
rm -rf "$O"; mkdir -p "$O/img" "$O/img8" "$O/val"
export JANUS_CACHE_DIR=$O/cache
J=./build/janus
for m in deepseek-v2 qwen3-235b-a22b; do
  $J sweep --model $m --hw h100 --out $O/img > $O/sweep-$m.txt 2>/dev/null
  $J simulate --model $m --hw h100 --slo-ms 150 --trace diurnal --interval 15m --out $O/img > $O/sim-$m.txt
  $J simulate --model $m --hw h100 --slo-ms 150 --trace diurnal --interval 15m --forecast last > $O/simlast-$m.txt
  $J simulate --model $m --hw h100 --slo-ms 150 --trace bursty --interval 15m > $O/simbursty-$m.txt
  $J sweep --model $m --hw h100 --what slo,batch --slo-ms 150 --coef leader_rails=8 --out $O/img8 > $O/sweep8-$m.txt 2>/dev/null
  $J simulate --model $m --hw h100 --slo-ms 150 --trace diurnal --interval 15m --coef leader_rails=8 --out $O/img8 > $O/sim8-$m.txt
  $J sweep --model $m --hw h100 --what slo --coef leader_rails=8 --coef m2n_per_instance=1 --coef moe_overlap=1 > $O/sweepall-$m.txt 2>/dev/null
  $J simulate --model $m --hw h100 --slo-ms 150 --trace diurnal --interval 15m --coef leader_rails=8 --coef m2n_per_instance=1 --coef moe_overlap=1 > $O/simall-$m.txt
done
$J plan --model deepseek-v2 --hw h100 --slo-ms 150 --rate 5000 --layout-out $O/layout.json > $O/plan-layout.txt 2>&1
$J plan --model deepseek-v2 --hw h100 --slo-ms 150 --rate 20000 > $O/plan-20k.txt 2>/dev/null
$J plan --model deepseek-v2 --hw h100 --slo-ms 150 --rate 20000 --coef leader_rails=8 > $O/plan-20k-r8.txt 2>/dev/null
$J plan --model qwen3-235b-a22b --hw h100 --slo-ms 150 --rate 15000 > $O/plan-q15k.txt 2>/dev/null
rm -f docs/img/*.svg
cp $O/img/*.svg docs/img/
for f in $O/img8/*.svg; do
  b=$(basename "$f" .svg)
  case $b in *-load) continue ;; esac
  cp "$f" "docs/img/$b-rails8.svg"
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
