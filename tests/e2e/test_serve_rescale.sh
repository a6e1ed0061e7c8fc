#!/usr/bin/env bash
# Live rescale of (n_attn, n_moe) (issue 16 items 3 and 4; docs/HTTP.md "Live rescale"): the
# embedded default model served by an MPI deployment of (1,1); 16 concurrent streams of 160
# tokens (greedy and seeded), once without a rescale, then again with two rescales mid-run
# through `janus admin URL rescale` ((1,1) -> (1,2) -> (2,1)); every stream must complete, the
# greedy ones with the same text (replay_compare.py --rescale), and no process of the first job
# may be left. Then: the relaunch after a death uses the new shape; a rescale to the current
# shape does nothing; a second rescale, or a re-placement, while one runs is a 409; a new deployment that cannot
# start (a layout made for another MoE count) is a 500 and the old one keeps serving; a --mono deployment refuses a
# second MoE instance (501), refuses a shape that cannot hold the requests in flight (409) and
# rescales its attention count; an autoscaled server under a
# synthetic load makes decisions that /metrics counts (no timing asserted).
# Prints the measured pause (the longest gap between two tokens of a stream).
# SPDX-License-Identifier: MIT
source "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
NO_MODEL=1 # the embedded default model (janus serve without -m)
CLIENT="$ROOT/tests/e2e/replay_client.py"

metric() { # PORT NAME: the value of one /metrics sample (NAME with its labels)
  curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {print $2}'
}
shape() { # PORT: "n_attn,n_moe" from /health
  curl -s "http://127.0.0.1:$1/health" | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print("%d,%d" % (j["n_attn"], j["n_moe"]))'
}

# ---- 1. two rescales under load, nothing lost
start_server R --max-seqs 16 --step-delay-ms 15
U="http://127.0.0.1:$PORT_R"
"$PY" "$CLIENT" "$PORT_R" "$TMP/ref.json" --max-tokens 160 || fail "reference run (1,1)"
"$PY" "$CLIENT" "$PORT_R" "$TMP/res.json" --max-tokens 160 --rescale "1,2 2,1" --janus "$BIN" ||
  fail "rescale run"
"$PY" "$ROOT/tests/e2e/replay_compare.py" "$TMP/ref.json" "$TMP/res.json" --rescale ||
  fail "streams altered by the rescales"
[ "$(shape "$PORT_R")" = 2,1 ] && ok "/health reports the new shape (2,1)" || fail "shape after: $(shape "$PORT_R")"
n=$(metric "$PORT_R" janus_rescales_total)
[ "$n" = 2 ] && ok "/metrics: janus_rescales_total $n, pause $(metric "$PORT_R" janus_last_rescale_pause_seconds) s" ||
  fail "janus_rescales_total '$n'"
[ "$(metric "$PORT_R" 'janus_deployment_shape{role="attn"}')" = 2 ] && ok "/metrics: janus_deployment_shape" ||
  fail "janus_deployment_shape"
grep -q 'rescale (1,2) -> (2,1) done' "$LOG_R" && ok "the log records the rescale" || fail "no 'rescale ... done' line"

# ---- 2. the watchdog and relaunch keep working, with the new shape
"$PY" "$CLIENT" "$PORT_R" "$TMP/kill.json" --max-tokens 160 --kill-job --victim rank:1 ||
  fail "fault run after the rescale (rank 1 killed)"
"$PY" "$ROOT/tests/e2e/replay_compare.py" "$TMP/ref.json" "$TMP/kill.json" ||
  fail "relaunch after a rescale: streams altered"
[ "$(shape "$PORT_R")" = 2,1 ] && ok "the relaunched deployment has the new shape (2,1)" ||
  fail "relaunched shape $(shape "$PORT_R")"

# ---- 3. the current shape: nothing to do; one rescale at a time
req POST "$U/admin/rescale" -d '{"n_attn":2,"n_moe":1}'
[ "$STATUS" = 200 ] && [ "$(jget 'j["status"]')" = unchanged ] && ok "rescale to the current shape: unchanged" ||
  fail "rescale to the current shape: $STATUS $BODY"
"$BIN" admin "$U" rescale --attn 1 --moe 1 >"$TMP/bg.out" 2>&1 &
BG=$!
for _ in $(seq 1 200); do # bounded: 20 s
  [ "$(metric "$PORT_R" janus_rescale_in_progress)" = 1 ] && break
  sleep 0.1
done
req POST "$U/admin/rescale" -d '{"n_attn":1,"n_moe":2}'
if [ "$(metric "$PORT_R" janus_rescale_in_progress)" = 1 ] || [ "$STATUS" = 409 ]; then
  expect_error 409 "a second rescale while one runs"
else
  echo "skip the 409 check: the first rescale ended before the second was sent"
fi
req POST "$U/admin/replace" -d '{}'
if [ "$(metric "$PORT_R" janus_rescale_in_progress)" = 1 ] || [ "$STATUS" = 409 ]; then
  expect_error 409 "a re-placement while a rescale runs"
  printf '%s' "$BODY" | grep -q "rescale is under way" && ok "the 409 names the rescale" || fail "409 message: $BODY"
else
  echo "skip the replace-409 check: the rescale ended before the replace was sent"
fi
wait "$BG" && ok "the first rescale completed: $(head -c 160 "$TMP/bg.out")" || fail "background rescale: $(cat "$TMP/bg.out")"
[ "$(shape "$PORT_R")" = 1,1 ] && ok "back to (1,1)" || fail "shape $(shape "$PORT_R")"
stop_server R

# ---- 3b. a new deployment that fails to start: the old one keeps serving
# (a replica layout is made for one MoE count: the (1,2) job refuses the (1,1) layout)
"$BIN" plan --model janus-moe-kjv --hw cpu-local --slo-ms 100 --rate 50 --max-gpus 2 \
  --layout-out "$TMP/layout1.json" >/dev/null 2>&1 || die "janus plan --layout-out"
start_server L --layout "$TMP/layout1.json"
req POST "http://127.0.0.1:$PORT_L/admin/rescale" -d '{"n_attn":1,"n_moe":2}'
expect_error 500 "a new deployment that cannot start"
printf '%s' "$BODY" | grep -q "keeps serving" && ok "the error says the old deployment keeps serving" ||
  fail "error message: $BODY"
[ "$(shape "$PORT_L")" = 1,1 ] && ok "still (1,1)" || fail "shape after a failed rescale: $(shape "$PORT_L")"
req POST "http://127.0.0.1:$PORT_L/v1/completions" -d '{"prompt":"Hello","max_tokens":8}'
expect_status 200 "a completion after the failed rescale"
[ "$(metric "$PORT_L" janus_rescale_failures_total)" = 1 ] && ok "janus_rescale_failures_total 1" ||
  fail "janus_rescale_failures_total '$(metric "$PORT_L" janus_rescale_failures_total)'"
stop_server L

# ---- 4. a monolithic deployment: attention count only; the new shape must hold what is in flight
start_server M --mono --attn 2 --max-seqs 1 --max-waiting 1 --step-delay-ms 20
UM="http://127.0.0.1:$PORT_M"
req POST "$UM/admin/rescale" -d '{"n_attn":2,"n_moe":2}'
expect_error 501 "--mono with 2 MoE instances"
CURLS=()
for _ in 1 2 3; do # 2 x 1 slots + 1 waiting: 3 in flight; (1,1) holds 2
  curl -s -N --max-time 120 "$UM/v1/completions" -H 'Content-Type: application/json' \
    -d '{"prompt":"Hello","max_tokens":400,"ignore_eos":true,"stream":true}' >/dev/null 2>&1 &
  CURLS+=($!)
done
for _ in $(seq 1 200); do # bounded: 20 s
  [ "$(metric "$PORT_M" janus_requests_in_flight)" = 3 ] && break
  sleep 0.1
done
req POST "$UM/admin/rescale" -d '{"n_attn":1,"n_moe":1}'
expect_error 409 "--mono (2,1) -> (1,1) with 3 requests in flight (it holds 2)"
[ "$(jget 'j["error"]["code"]')" = too_many_in_flight ] && ok "code too_many_in_flight: $(jget 'j["error"]["message"]')" ||
  fail "code: $BODY"
kill "${CURLS[@]}" 2>/dev/null || true
wait "${CURLS[@]}" 2>/dev/null || true
for _ in $(seq 1 200); do # bounded: 20 s
  [ "$(metric "$PORT_M" janus_requests_in_flight)" = 0 ] && break
  sleep 0.1
done
req POST "$UM/admin/rescale" -d '{"n_attn":1,"n_moe":1}'
expect_status 200 "--mono (2,1) -> (1,1) once idle"
[ "$(shape "$PORT_M")" = 1,1 ] && ok "--mono shape (1,1)" || fail "--mono shape $(shape "$PORT_M")"
req POST "$UM/v1/completions" -d '{"prompt":"Hello","max_tokens":8}'
expect_status 200 "a completion after the --mono rescale"
stop_server M

# ---- 5. the autoscaler: a synthetic load, decisions counted in /metrics (values not asserted)
start_server A --max-seqs 16 --step-delay-ms 15 --autoscale --autoscale-interval 1 --autoscale-persist 2 \
  --autoscale-dwell 2 --autoscale-max-attn 2 --autoscale-max-moe 2 --slo-tpot-ms 20
"$PY" "$CLIENT" "$PORT_A" "$TMP/auto.json" --max-tokens 240 --n 12 || fail "load on the autoscaled server"
"$PY" - "$TMP/auto.json" <<'EOF' || fail "streams failed under the autoscaler"
import json, sys
S = json.load(open(sys.argv[1]))["streams"]
bad = [s["error"] for s in S if s["error"] is not None or s["finish"] != "length"]
assert not bad, bad
EOF
ev=""
for _ in $(seq 1 100); do # bounded: 10 s (the interval is 1 s)
  ev=$(metric "$PORT_A" janus_autoscale_evaluations_total)
  [ "${ev:-0}" -ge 2 ] && break
  sleep 0.1
done
[ "${ev:-0}" -ge 2 ] && ok "/metrics: janus_autoscale_evaluations_total $ev, rescales $(metric "$PORT_A" janus_rescales_total), target ($(metric "$PORT_A" 'janus_autoscale_target{role="attn"}'),$(metric "$PORT_A" 'janus_autoscale_target{role="moe"}'))" ||
  fail "no autoscaler evaluations in /metrics ('$ev')"
grep -m1 'autoscale: ' "$LOG_A" >/dev/null && ok "the log has the decisions: $(grep -m1 'autoscale: ' "$LOG_A" | sed 's/.*autoscale: //' | head -c 200)" ||
  fail "no 'autoscale: ' line in the log"
stop_server A

[ $FAILED = 0 ] || { tail -n 40 "$TMP"/*.log >&2; exit 1; }
echo "all serve rescale checks passed"
