#!/usr/bin/env bash
# janus xfer-bench (issue 18 item 3): under mpirun on this host it must time every asked
# scheme for every B and print sane fields (positive times, a prediction, a chosen and a best
# scheme among those known, regret >= 0), pass its exact-value check of every exchange (also
# with 2PC leaders and node phases: 2 attention + 2 MoE in nodes of 2, B not divisible by
# n_a), and refuse bad input with a message naming the cause. Times are printed, not asserted.
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

# check_output NSCHEMES BATCHES...: one xfer line per scheme and B, one choice line per B.
check_output() {
  "$PY" - "$TMP/xb.out" "$@" <<'EOF' || fail "xfer-bench output: $(cat "$TMP/xb.out")"
import math, sys
path, n_s, batches = sys.argv[1], int(sys.argv[2]), [int(b) for b in sys.argv[3:]]
xfer, choice, cal = {}, {}, None
for line in open(path):
    w = line.split()
    f = dict(kv.split("=", 1) for kv in w[1:] if "=" in kv)
    if w and w[0] == "calibration":
        cal = f
    elif w and w[0] == "xfer":
        xfer[(int(f["B"]), f["scheme"])] = f
    elif w and w[0] == "choice":
        choice[int(f["B"])] = f
assert cal and float(cal["cross_lat_us"]) > 0 and float(cal["cross_gbps"]) > 0, cal
assert len(xfer) == n_s * len(batches), sorted(xfer)
for (B, s), f in xfer.items():
    assert B in batches and s in ("1pc", "2pc1", "2pc2"), (B, s)
    m, lo, p = float(f["measured_us"]), float(f["min_us"]), float(f["pred_us"])
    assert 0 < lo <= m and p > 0 and int(f["iters"]) >= 1, f
    # err_pct from the printed (rounded to 0.01) times, within that rounding and its own 0.05
    tol = 100 * (0.005 / m + p * 0.005 / (m * m)) + 0.051
    assert abs(float(f["err_pct"]) - 100 * (p - m) / m) <= tol, f
for B in batches:
    c = choice[B]
    assert c["check"] == "ok", c
    best = min(float(xfer[(b, s)]["measured_us"]) for (b, s) in xfer if b == B)
    assert float(xfer[(B, c["best"])]["measured_us"]) == best, c  # ties: any of them
    if c["regret_pct"] != "nan":
        assert float(c["regret_pct"]) >= 0, c
    print(f"     B={B}: " + ", ".join(f"{s} {xfer[(B, s)]['measured_us']} us (pred {xfer[(B, s)]['pred_us']})"
                                      for (b, s) in sorted(xfer) if b == B))
EOF
}

xb 2 --attn 1 --moe 1 --batch 1,3,16 --d 32 --reps 3 --iters 4 || fail "(1,1): $(cat "$TMP/xb.err")"
grep -q "^# xfer-bench: 1 attention (1 nodes) + 1 MoE (1 nodes)" "$TMP/xb.out" || fail "(1,1) header"
H=$(hostname)
grep -qx "# hosts: 0=$H 1=$H" "$TMP/xb.out" || fail "hosts line: $(grep hosts: "$TMP/xb.out")"
check_output 3 1 3 16
if [ "$FAILED" = 0 ]; then ok "(1,1): 3 schemes x 3 batch sizes, checked"; fi

xb 4 --attn 2 --moe 2 --node-size 2 --batch 1,7 --comm 2pc2,1pc --d 8 --reps 2 \
  --comm-cost cross_lat_us=50 || fail "(2,2): $(cat "$TMP/xb.err")"
grep -q "2 attention (1 nodes) + 2 MoE (1 nodes), node size 2" "$TMP/xb.out" || fail "(2,2) header"
grep -q "cross_lat_us=50.000" "$TMP/xb.out" || fail "--comm-cost not applied: $(grep calibration "$TMP/xb.out")"
check_output 2 1 7
if [ "$FAILED" = 0 ]; then ok "(2,2) in nodes of 2: 2PC2 and 1PC, checked, --comm-cost applied"; fi

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
if [ "$FAILED" = 0 ]; then ok "bad input refused with its cause"; fi

[ "$FAILED" = 0 ] || exit 1
echo "PASS test_xfer_bench"
