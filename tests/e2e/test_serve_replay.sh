#!/usr/bin/env bash
# Replay after the deployment dies (issue 16 item 1): 16 concurrent streams (greedy and
# seeded sampling) run once on a healthy server, then again while the job is killed with
# kill -9 mid-flight; every stream must complete with the same text and usage, /health must
# go through "recovering" back to "ok", /v1/models stays 200, a request sent while
# recovering completes too, no process of the old job is left. Then --max-relaunches 0: the
# streams end with an explicit error. Then the MPI deployment: a MoE rank killed, then
# mpirun itself (its ranks orphaned). Prints the measured pauses.
# SPDX-License-Identifier: MIT
source "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
CLIENT="$ROOT/tests/e2e/replay_client.py"

# compare REF FAULT: every stream complete, same text, same usage, recovery seen, nothing of
# the old job left (replay_compare.py).
compare() { "$PY" "$ROOT/tests/e2e/replay_compare.py" "$1" "$2"; }

# ---- 1. the one-process deployment: kill -9 of the worker
start_server A --mono --step-delay-ms 40 --max-seqs 16 --max-relaunches 2
"$PY" "$CLIENT" "$PORT_A" "$TMP/a_ref.json" || fail "reference run (mono)"
"$PY" "$CLIENT" "$PORT_A" "$TMP/a_kill.json" --kill-job || fail "fault run (mono)"
compare "$TMP/a_ref.json" "$TMP/a_kill.json" || fail "mono: streams altered by the fault"
req GET "http://127.0.0.1:$PORT_A/health"
[ "$(jget 'j["status"]')" = ok ] && [ "$(jget 'j["restarts"]')" = 1 ] &&
  ok "healthy again, restarts 1, recovery $(jget 'j["last_recovery_ms"]') ms (death to replay)" ||
  fail "/health after the recovery: $BODY"
grep -q 'replayed' "$LOG_A" && ok "the log says what was replayed" || fail "no replay line in the log"
stop_server A

# ---- 2. budget spent (--max-relaunches 0): an explicit error, never a hang
start_server Z --mono --step-delay-ms 40 --max-relaunches 0
"$PY" - "$PORT_Z" <<'PY' || fail "--max-relaunches 0: in-flight stream"
import http.client, json, os, signal, sys
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
c.request("GET", "/health"); pid = json.loads(c.getresponse().read())["job_pid"]
c.request("POST", "/v1/completions", json.dumps({"prompt": "Hello", "max_tokens": 200, "ignore_eos": True, "stream": True}), {"Content-Type": "application/json"})
r = c.getresponse()
assert r.status == 200 and r.readline().startswith(b"data: ")
os.kill(pid, signal.SIGKILL)
rest = r.read().decode()
ev = [e.strip() for e in rest.split("\n\n") if e.strip()]
errs = [json.loads(e[6:]) for e in ev if e.startswith("data: {") and '"error"' in e]
assert errs and errs[0]["error"]["code"] == "deployment_failed", rest[-400:]
print("ok   --max-relaunches 0: explicit error event:", errs[0]["error"]["message"])
PY
req GET "http://127.0.0.1:$PORT_Z/health"
[ "$STATUS" = 503 ] && [ "$(jget 'j["status"]')" = error ] && ok "/health error once nothing is relaunched" ||
  fail "/health after an unrecovered death: $STATUS $BODY"
stop_server Z

# ---- 3. the MPI deployment (1 attention + 2 MoE ranks): kill -9 of MoE rank 2
if [ "${JANUS_REPLAY_MPI:-1}" = 1 ]; then
  start_server M --attn 1 --moe 2 --max-seqs 16 --step-delay-ms 5
  "$PY" "$CLIENT" "$PORT_M" "$TMP/m_ref.json" --max-tokens 160 || fail "reference run (mpi)"
  "$PY" "$CLIENT" "$PORT_M" "$TMP/m_kill.json" --max-tokens 160 --kill-job --victim rank:2 || fail "fault run (mpi)"
  compare "$TMP/m_ref.json" "$TMP/m_kill.json" || fail "mpi: streams altered by the fault"
  req GET "http://127.0.0.1:$PORT_M/health"
  [ "$(jget 'j["status"]')" = ok ] && ok "mpi: healthy again, recovery $(jget 'j["last_recovery_ms"]') ms" ||
    fail "mpi: /health after the recovery: $BODY"
  # mpirun itself killed: its orphaned ranks are killed with the group, the streams go on
  "$PY" "$CLIENT" "$PORT_M" "$TMP/m_kill2.json" --max-tokens 160 --kill-job --victim job || fail "fault run (mpirun)"
  compare "$TMP/m_ref.json" "$TMP/m_kill2.json" || fail "mpirun killed: streams altered by the fault"
  req GET "http://127.0.0.1:$PORT_M/health"
  [ "$(jget 'j["status"]')" = ok ] && [ "$(jget 'j["restarts"]')" = 2 ] &&
    ok "mpirun killed: healthy again, restarts 2, recovery $(jget 'j["last_recovery_ms"]') ms" ||
    fail "mpirun killed: /health after the recovery: $BODY"
  stop_server M
fi

[ $FAILED = 0 ] || { tail -n 40 "$TMP"/*.log >&2; exit 1; }
echo "all serve replay checks passed"
