#!/usr/bin/env bash
# scripts/routing-experiments.sh smoke run on the deepseek2 fixture (docs/ROUTING.md): the
# report has the skew table (one row per MoE layer), both a_max tables (every (n, B) row,
# optimal <= greedy and optimal <= every other policy on the same layout) and the plots.
# The planner step is skipped (PLAN_MODEL=): the fixture has no catalogue entry.
# Env: JANUS_BIN, JANUS_FIXTURES.
# SPDX-License-Identifier: MIT
set -euo pipefail
BIN=${JANUS_BIN:-build/janus}
FIX=${JANUS_FIXTURES:-../shared/fixtures}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

CTX=64 CHUNKS=10 CONFIGS="2:10 4:5" SAMPLES=20 PLAN_MODEL='' \
  bash scripts/routing-experiments.sh "$BIN" "$FIX/models/deepseek2-v2-f32.gguf" README.md \
  "$TMP/out" 2> "$TMP/log" || { cat "$TMP/log"; fail "routing-experiments.sh"; }
O=$TMP/out
for f in README.md stats.json load.svg coact-layer1.svg coact-layer2.svg amax-n2-pool.svg \
         amax-n4-block.svg raw/train.txt raw/test.txt raw/layout-n4-eplb.json; do
  [ -s "$O/$f" ] || fail "missing $f"
done
grep -q '^split: 5 train windows, 5 test windows' "$O/raw/split.log" || fail "split: $(cat "$O/raw/split.log")"
/usr/bin/python3 - "$O" <<'PY' || fail "report tables"
import re, sys
md = open(sys.argv[1] + "/README.md").read()
skew = re.findall(r"^\| ([12]) \| 640 \|", md, re.M)
assert skew == ["1", "2", "1", "2"][:len(skew)] and len(skew) >= 2, skew
for smp in ("pool", "block"):
    sec = md.split(f"### a_max, --sample {smp}")[1].split("###")[0]
    rows = [r.split("|")[1:-1] for r in sec.splitlines() if re.match(r"^\| \d", r)]
    assert [(r[0].strip(), r[2].strip()) for r in rows] == \
        [(n, b) for n in ("2", "4") for b in ("1", "8", "32", "128", "512")], rows
    for r in rows:
        v = [float(x) for x in r[3:10]]  # janus: greedy optimal tok-bal random; eplb: opt tok-bal random
        assert v[1] <= v[0] + 1e-9 and v[1] <= v[2] + 1e-9 and v[1] <= v[3] + 1e-9, r
        assert v[4] <= v[5] + 1e-9 and v[4] <= v[6] + 1e-9, r
        assert 1 <= v[1] <= int(r[1]), r
PY
echo "ok"
