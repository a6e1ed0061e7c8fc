#!/usr/bin/env bash
# The step watchdog and the lifelines (issue 16 items 1 and 4). MPI deployments, 16
# concurrent streams (greedy and seeded), each run once unfaulted, then with a fault
# mid-flight; every stream must complete with the same text (replay_compare.py):
#   1. SIGSTOP of a MoE rank (1 attention + 2 MoE): the job stalls without dying; the
#      watchdog (default limit, 5 s floor) must fire, the job be killed whole (the stopped
#      rank too), relaunched and replayed; /metrics counts the firing, the relaunch and the
#      replays; the log names the stall.
#   2. kill -9 of an attention-only rank (2 attention + 1 MoE: rank 1).
#   3. The front itself killed (kill -9 of janus serve) while a MoE rank is stopped: rank 0,
#      stuck in its step, must end the job by itself (its lifeline to the front), so that no
#      process of the job is left.
# Prints the measured pause per fault (the longest gap between two tokens of a stream). A 5 ms
# step delay keeps every stream mid-flight when the fault lands (steps of 0.6 ms let streams
# finish first).
# SPDX-License-Identifier: MIT
source "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
CLIENT="$ROOT/tests/e2e/replay_client.py"

metric() { # PORT NAME: the value of one unlabelled /metrics sample
  curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {print $2}'
}

# session_alive SID: the live processes of session SID (zombies left for an init that
# reaps slowly, as in some containers, are already gone as far as the job is concerned)
session_alive() {
  ps -eo pid=,sid=,stat= | awk -v s="$1" '$2 == s && $3 !~ /^Z/ {print $1}'
}

# rank_pid SID RANK: the process of MPI rank RANK in the job's session SID
rank_pid() {
  local p
  for p in $(pgrep -s "$1" || true); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# ---- 1. SIGSTOP of MoE rank 2: the watchdog
start_server W --attn 1 --moe 2 --max-seqs 16 --step-delay-ms 5
"$PY" "$CLIENT" "$PORT_W" "$TMP/w_ref.json" --max-tokens 160 || fail "reference run (1+2)"
[ "$(metric "$PORT_W" janus_watchdog_fires_total)" = 0 ] && ok "no watchdog firing on a healthy run" ||
  fail "the watchdog fired on a healthy run"
"$PY" "$CLIENT" "$PORT_W" "$TMP/w_stop.json" --max-tokens 160 --kill-job --victim rank:2 --signal STOP ||
  fail "fault run (SIGSTOP of MoE rank 2)"
"$PY" "$ROOT/tests/e2e/replay_compare.py" "$TMP/w_ref.json" "$TMP/w_stop.json" ||
  fail "SIGSTOP: streams altered by the stall"
stopped=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["victim_pid"])' "$TMP/w_stop.json")
state=$(awk '{print $3}' "/proc/$stopped/stat" 2>/dev/null || true) # (a zombie counts as gone)
[ -z "$state" ] || [ "$state" = Z ] && ok "the stopped rank was killed with its job" ||
  fail "the stopped rank (pid $stopped, state $state) outlived its job"
fires=$(metric "$PORT_W" janus_watchdog_fires_total)
relaunches=$(metric "$PORT_W" janus_relaunches_total)
replayed=$(metric "$PORT_W" janus_replayed_requests_total)
[ "$fires" = 1 ] && [ "$relaunches" = 1 ] && [ "${replayed:-0}" -ge 12 ] &&
  ok "/metrics: watchdog fires $fires, relaunches $relaunches, replayed requests $replayed" ||
  fail "/metrics after the stall: fires '$fires' relaunches '$relaunches' replayed '$replayed'"
line=$(grep -m1 'stalled: no step for' "$LOG_W" || true)
[ -n "$line" ] && ok "the log names the stall: ${line#*front: }" || fail "no 'stalled: no step for' line in the log"
req GET "http://127.0.0.1:$PORT_W/health"
[ "$(jget 'j["status"]')" = ok ] && [ "$(jget 'j["watchdog_fires"]')" = 1 ] &&
  ok "healthy again; watchdog limit $(jget 'j["watchdog_limit_s"]') s, median step $(jget '"%.2f" % j["step_median_ms"]') ms" ||
  fail "/health after the stall: $BODY"
stop_server W

# ---- 2. kill -9 of attention rank 1 (2 attention + 1 MoE)
start_server A --attn 2 --moe 1 --max-seqs 16 --step-delay-ms 5
"$PY" "$CLIENT" "$PORT_A" "$TMP/a_ref.json" --max-tokens 160 || fail "reference run (2+1)"
"$PY" "$CLIENT" "$PORT_A" "$TMP/a_kill.json" --max-tokens 160 --kill-job --victim rank:1 ||
  fail "fault run (attention rank 1 killed)"
"$PY" "$ROOT/tests/e2e/replay_compare.py" "$TMP/a_ref.json" "$TMP/a_kill.json" ||
  fail "attention rank killed: streams altered by the fault"
stop_server A

# ---- 3. the front killed while a MoE rank is stopped: the job ends by itself
start_server L --attn 1 --moe 2 --max-seqs 16
req GET "http://127.0.0.1:$PORT_L/health"
SID=$(jget 'j["job_pid"]')
body='{"prompt":"Hello","max_tokens":1500,"ignore_eos":true,"stream":true}'
for _ in 1 2 3; do
  curl -s -N --max-time 60 "http://127.0.0.1:$PORT_L/v1/completions" -H 'Content-Type: application/json' \
    -d "$body" >/dev/null 2>&1 &
done
sleep 1
R2=$(rank_pid "$SID" 2) || die "no MoE rank 2 in session $SID"
kill -STOP "$R2"
sleep 0.5
t0=$(date +%s%N)
{ kill -9 "$PID_L" && wait "$PID_L"; } 2>/dev/null || true
for _ in $(seq 1 300); do # bounded: 30 s
  [ -z "$(session_alive "$SID")" ] && break
  sleep 0.1
done
left=$(session_alive "$SID")
if [ -z "$left" ]; then
  ok "front killed with a rank stopped: every process of the job gone after $(((($(date +%s%N) - t0) / 1000000))) ms"
else
  fail "front killed with a rank stopped: processes left after 30 s: $left"
  kill -9 $left 2>/dev/null || true
fi
grep -q 'lost the front' "$LOG_L" && ok "rank 0 says it lost the front" || fail "no 'lost the front' line"

[ $FAILED = 0 ] || { tail -n 40 "$TMP"/*.log >&2; exit 1; }
echo "all serve watchdog checks passed"
