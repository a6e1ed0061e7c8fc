#!/usr/bin/env bash
# janus xfer-bench (issue 18 item 3): under mpirun on this host it must time every asked
# dispatch mode and scheme for every B and print sane fields (positive times, a prediction, a
# chosen and a best scheme among those known, regret >= 0, the (scheme, mode) pair), pass its
# exact-value check of every exchange, broadcast and selective (also with 2PC leaders and
# node phases: 2 attention + 2 or 4 MoE in nodes of 2, B not divisible by n_a), count the
# bytes its plan implies (selective 1PC below broadcast with several MoE instances), feed the
# sweep's report (scripts/bench_xfer_report.py: CSV rows, tables, plots), and refuse bad
# input with a message naming the cause. Times are printed, not asserted.
# SPDX-License-Identifier: MIT
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_mpi_yield_when_idle=1

# xb NP ARGS...: janus xfer-bench under mpirun (bounded: 60 s); output in $TMP/xb.out/.err.
xb() {
  local np=$1
  shift
  timeout 60 mpirun --oversubscribe -n "$np" "$BIN" xfer-bench "$@" >"$TMP/xb.out" 2>"$TMP/xb.err"
}

# check_output NMODES NSCHEMES BATCHES...: one xfer line per mode, scheme and B, one choice
# line per mode and B, one pair line per B when both modes are timed; fields consistent.
check_output() {
  "$PY" - "$TMP/xb.out" "$@" <<'EOF' || fail "xfer-bench output: $(cat "$TMP/xb.out")"
import math, sys
path, n_m, n_s, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(b) for b in sys.argv[4:]]
xfer, choice, pair, cal = {}, {}, {}, None
for line in open(path):
    w = line.split()
    f = dict(kv.split("=", 1) for kv in w[1:] if "=" in kv)
    if w and w[0] == "calibration":
        cal = f
    elif w and w[0] == "xfer":
        xfer[(int(f["B"]), f["mode"], f["scheme"])] = f
    elif w and w[0] == "choice":
        choice[(int(f["B"]), f["mode"])] = f
    elif w and w[0] == "pair":
        pair[int(f["B"])] = f
assert cal and float(cal["cross_lat_us"]) > 0 and float(cal["cross_gbps"]) > 0, cal
assert len(xfer) == n_m * n_s * len(batches), sorted(xfer)
modes = sorted({k[1] for k in xfer})
assert len(modes) == n_m and set(modes) <= {"broadcast", "selective"}, modes
for (B, mode, s), f in xfer.items():
    assert B in batches and s in ("1pc", "2pc1", "2pc2"), (B, s)
    m, lo, p = float(f["measured_us"]), float(f["min_us"]), float(f["pred_us"])
    assert 0 < lo <= m and p > 0 and int(f["iters"]) >= 1, f
    # err_pct from the printed (rounded to 0.01) times, within that rounding and its own 0.05
    tol = 100 * (0.005 / m + p * 0.005 / (m * m)) + 0.051
    assert abs(float(f["err_pct"]) - 100 * (p - m) / m) <= tol, f
    assert int(f["bytes"]) >= int(f["cross_bytes"]) > 0, f
    route = float(f["route_us"])
    assert (route > 0) if mode == "selective" else (route == 0), f
    assert 0 < float(f["fanout"]) and float(f["fanout_model"]) > 0, f
for B in batches:
    for mode in modes:
        c = choice[(B, mode)]
        assert c["check"] == "ok", c
        cells = {s: float(xfer[(B, mode, s)]["measured_us"]) for (b, mm, s) in xfer if b == B and mm == mode}
        assert cells[c["best"]] == min(cells.values()), c  # ties: any of them
        if c["regret_pct"] != "nan":
            assert float(c["regret_pct"]) >= 0, c
        print(f"     B={B} {mode}: " + ", ".join(
            f"{s} {xfer[(B, mode, s)]['measured_us']} us (pred {xfer[(B, mode, s)]['pred_us']}, "
            f"{xfer[(B, mode, s)]['bytes']} B)" for s in sorted(cells)))
    if n_m == 2:
        p = pair[B]
        assert p["check"] == "ok", p
        all_ = {f"{s}/{mm}": float(f["measured_us"]) for (b, mm, s), f in xfer.items() if b == B}
        assert all_[p["best"]] == min(all_.values()), p
        assert p["chosen"].split("/")[1] in ("broadcast", "selective"), p
        if p["regret_pct"] != "nan":
            assert float(p["regret_pct"]) >= 0, p
    else:
        assert B not in pair, pair
EOF
}

# check_bytes NA NE K D BATCHES...: counted bytes of the checked exchange. Broadcast 1PC moves
# B rows to every MoE instance and back; selective 1PC the rows of the plan (fanout x B) out,
# the fixed-order row units (return_rows x B) back, plus the routing exchange (every row's k
# ids and weights to every other rank); with NE >= 2 instances selective 1PC moves fewer
# bytes than broadcast (under 2PC the row units can outnumber broadcast's node sums: printed).
check_bytes() {
  "$PY" - "$TMP/xb.out" "$@" <<'EOF' || fail "xfer-bench bytes: $(grep '^xfer' "$TMP/xb.out")"
import sys
path, na, ne, k, d, batches = sys.argv[1], *map(int, sys.argv[2:6]), [int(b) for b in sys.argv[6:]]
rb = 4 * d
xfer = {}
for line in open(path):
    w = line.split()
    if w and w[0] == "xfer":
        f = dict(kv.split("=", 1) for kv in w[1:])
        xfer[(int(f["B"]), f["mode"], f["scheme"])] = f
for B in batches:
    bc, sel = xfer[(B, "broadcast", "1pc")], xfer[(B, "selective", "1pc")]
    assert int(bc["bytes"]) == 2 * B * ne * rb, bc
    rows = round(float(sel["fanout"]) * B)
    back = round(float(sel["return_rows"]) * B)
    assert rows <= back <= k * B, (sel, rows, back)
    assert int(sel["bytes"]) == (rows + back) * rb + B * k * 8 * (na + ne - 1), (sel, rows, back)
    for s in ("1pc", "2pc1", "2pc2"):
        b, se = int(xfer[(B, "broadcast", s)]["bytes"]), int(xfer[(B, "selective", s)]["bytes"])
        assert se < b or s != "1pc", (B, s, se, b)
        print(f"     B={B} {s}: selective {se} B, broadcast {b} B ({se / b:.2f})")
EOF
}

xb 2 --attn 1 --moe 1 --batch 1,3,16 --d 32 --reps 3 --iters 4 || fail "(1,1): $(cat "$TMP/xb.err")"
grep -q "^# xfer-bench: 1 attention (1 nodes) + 1 MoE (1 nodes)" "$TMP/xb.out" || fail "(1,1) header"
grep -q "^# selective: 32 experts, top-4 uniform (seed 1), round-robin layout, 32 slots" "$TMP/xb.out" ||
  fail "(1,1) selective header: $(grep '^# selective' "$TMP/xb.out")"
H=$(hostname)
grep -qx "# hosts: 0=$H 1=$H" "$TMP/xb.out" || fail "hosts line: $(grep hosts: "$TMP/xb.out")"
check_output 2 3 1 3 16
cp "$TMP/xb.out" "$TMP/run-1+1.txt"
if [ "$FAILED" = 0 ]; then ok "(1,1): 2 modes x 3 schemes x 3 batch sizes, checked"; fi

xb 4 --attn 2 --moe 2 --node-size 2 --batch 1,7 --comm 2pc2,1pc --d 8 --reps 2 \
  --comm-cost cross_lat_us=50 || fail "(2,2): $(cat "$TMP/xb.err")"
grep -q "2 attention (1 nodes) + 2 MoE (1 nodes), node size 2" "$TMP/xb.out" || fail "(2,2) header"
grep -q "cross_lat_us=50.000" "$TMP/xb.out" || fail "--comm-cost not applied: $(grep calibration "$TMP/xb.out")"
check_output 2 2 1 7
if [ "$FAILED" = 0 ]; then ok "(2,2) in nodes of 2: 2PC2 and 1PC, both modes, checked, --comm-cost applied"; fi

xb 2 --attn 1 --moe 1 --batch 5 --d 16 --reps 1 --iters 2 --dispatch selective --no-calibrate ||
  fail "(1,1) selective only: $(cat "$TMP/xb.err")"
check_output 1 3 5
if grep -q "mode=broadcast" "$TMP/xb.out"; then fail "--dispatch selective timed broadcast"; fi
xb 2 --attn 1 --moe 1 --batch 5 --d 16 --reps 1 --iters 2 --dispatch broadcast --no-calibrate ||
  fail "(1,1) broadcast only: $(cat "$TMP/xb.err")"
check_output 1 3 5
if grep -q "^# selective" "$TMP/xb.out"; then fail "--dispatch broadcast set up selective"; fi
if [ "$FAILED" = 0 ]; then ok "--dispatch selective / broadcast time only that mode"; fi

# Selective with several MoE instances and nodes (2PC leaders and local phases on both
# sides): exact values under 1PC, 2PC1, 2PC2, and fewer bytes than broadcast under 1PC.
xb 6 --attn 2 --moe 4 --node-size 2 --batch 13,64 --d 256 --reps 1 --iters 2 --top-k 4 \
  --experts 32 --no-calibrate || fail "(2,4): $(cat "$TMP/xb.err")"
grep -q "2 attention (1 nodes) + 4 MoE (2 nodes), node size 2" "$TMP/xb.out" || fail "(2,4) header"
check_output 2 3 13 64
check_bytes 2 4 4 256 13 64
xb 3 --attn 1 --moe 2 --batch 64 --d 256 --reps 1 --iters 2 --top-k 2 --experts 16 --seed 7 \
  --no-calibrate || fail "(1,2): $(cat "$TMP/xb.err")"
check_output 2 3 64
check_bytes 1 2 2 256 64
cp "$TMP/xb.out" "$TMP/run-1+2.txt"
if [ "$FAILED" = 0 ]; then ok "selective with 2 and 4 MoE instances: checked, fewer bytes than broadcast under 1PC"; fi

# The sweep's report (scripts/bench_xfer_report.py) on these outputs: the CSV rows of each
# run, then every table with one row per B, and two SVG files that parse.
REPORT=$ROOT/scripts/bench_xfer_report.py
{ "$PY" "$REPORT" --header &&
  "$PY" "$REPORT" --rows "$TMP/run-1+1.txt" 1+1 none 1 0.5 128 &&
  "$PY" "$REPORT" --rows "$TMP/run-1+2.txt" 1+2 none 1 0.5 1024; } >"$TMP/xb.csv" ||
  fail "report --rows: $(cat "$TMP/xb.csv")"
[ "$(wc -l <"$TMP/xb.csv")" = $((1 + 18 + 6)) ] || fail "report --rows: $(wc -l <"$TMP/xb.csv") lines"
"$PY" "$REPORT" "$TMP/xb.csv" "$TMP/bc.svg" "$TMP/sel.svg" >"$TMP/report.md" ||
  fail "report: $(cat "$TMP/report.md")"
"$PY" - "$TMP/report.md" "$TMP/bc.svg" "$TMP/sel.svg" <<'EOF' || fail "report: $(cat "$TMP/report.md")"
import sys, xml.dom.minidom
text = open(sys.argv[1]).read()
tables = [t for t in text.split("\n\n") if t.startswith("| link")]
assert len(tables) == 3, len(tables)
for t, n in zip(tables, (3, 3, 1)):
    body = t.splitlines()[2:]
    assert len(body) == n, (n, body)
    assert all(c.strip() for line in body for c in line.strip("|").split("|")), body
assert "1+1, selective: prediction error for B ≥ 16" in text, text
assert "1+2 (indicative): regret of the (scheme, mode) choice" in text, text
for svg in sys.argv[2:]:
    doc = xml.dom.minidom.parse(svg)
    assert doc.getElementsByTagName("polyline"), svg
print("     report: 3 tables, 2 plots")
EOF
if [ "$FAILED" = 0 ]; then ok "the sweep's report on these outputs"; fi

# Bad input: a clear message naming the cause, non-zero exit, no hang.
bad() { # WHAT WANT NP ARGS...
  local what=$1 want=$2
  shift 2
  if xb "$@"; then fail "$what: accepted"; return; fi
  grep -q -- "$want" "$TMP/xb.err" || fail "$what: message '$(cat "$TMP/xb.err")' lacks '$want'"
}
bad "no --attn" "--attn N and --moe M are required" 1 --moe 1
bad "rank count" "needs --attn + --moe = 3 ranks, mpirun started 2" 2 --attn 1 --moe 2
bad "unknown scheme" "'3pc' is not one of" 2 --attn 1 --moe 1 --comm 1pc,3pc
bad "scheme twice" "'1pc' given twice" 2 --attn 1 --moe 1 --comm 1pc,1pc
bad "batch 0" "batch" 2 --attn 1 --moe 1 --batch 0
bad "bad --comm-cost" "cost model" 2 --attn 1 --moe 1 --no-calibrate --comm-cost cross_gbps=-1
bad "unknown dispatch" "--dispatch: unknown 'all'" 2 --attn 1 --moe 1 --dispatch all
bad "top-k above experts" "--top-k 9 exceeds --experts 8" 2 --attn 1 --moe 1 --experts 8 --top-k 9
if [ "$FAILED" = 0 ]; then ok "bad input refused with its cause"; fi

[ "$FAILED" = 0 ] || exit 1
echo "PASS test_xfer_bench"
