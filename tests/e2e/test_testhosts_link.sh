#!/usr/bin/env bash
# A link that fails between test hosts (issue 18 item 4, issue 16 item 1): `janus serve` with 1
# attention + 2 MoE ranks across 2 test hosts (scripts/testhosts.sh), 16 concurrent streams.
#   1. Host 2's link (its switch port) goes down for 8 s mid-flight: Open MPI's TCP transport
#      alone would wait minutes; rank 0 names the unreachable host (keepalive on its wake-up
#      channel), the step watchdog fires, the job is killed whole, relaunched (a relaunch while
#      the link is down fails, the next one after it is back comes up) and replayed: every
#      stream completes with the text of an unfaulted run.
#   2. --max-relaunches 0 and the link down for good: the stream ends with an explicit error
#      that names the host, once the watchdog's limit has passed.
# Prints the pauses. Root needed (network namespaces); without it: exit 77 (skipped).
# SPDX-License-Identifier: MIT
# shellcheck disable=SC2154 # PORT_*, LOG_* are set by lib.sh's start_server
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/testhosts_lib.sh
TESTHOSTS_TAG=jtk source "$(dirname "$0")/testhosts_lib.sh"

HF=$("$TH" up 2 2>"$TMP/up.err") || { cat "$TMP/up.err" >&2; die "testhosts.sh up 2 failed"; }
SERVE=(--mpi --attn 1 --moe 2 --node-size 0 --hostfile "$HF" --mpirun "$MPIRUN" --max-seqs 16)
DOWN="ip -n $PFX-sw link set h2 down"
UP="ip -n $PFX-sw link set h2 up"

# ---- 1. the link down for 8 s: recovery, identical streams
start_server K "${SERVE[@]}"
[ -n "$(ip netns pids "$PFX-h2")" ] || fail "no rank runs in host 2"
"$PY" "$ROOT/tests/e2e/replay_client.py" "$PORT_K" "$TMP/ref.json" --max-tokens 160 || fail "reference run"
"$PY" "$ROOT/tests/e2e/replay_client.py" "$PORT_K" "$TMP/link.json" --max-tokens 160 --kill-job \
  --fault-cmd "$DOWN; sleep 8; $UP" || fail "fault run (link down 8 s)"
"$PY" "$ROOT/tests/e2e/replay_compare.py" "$TMP/ref.json" "$TMP/link.json" ||
  fail "link down: streams altered by the fault"
line=$(grep -m1 'stalled: no step for' "$LOG_K" || true)
case $line in
  *"host $PFX-h2 is unreachable"*) ok "the watchdog's line names the host: ${line#*front: }" ;;
  *) fail "the watchdog's line does not name host $PFX-h2: '$line' ($(grep -m1 unreachable "$LOG_K" || true))" ;;
esac
stop_server K

# ---- 2. no relaunch, the link down for good: an explicit error naming the host
start_server Z "${SERVE[@]}" --max-relaunches 0
"$PY" - "$PORT_Z" "$DOWN" "$PFX-h2" <<'PY' || fail "--max-relaunches 0, link down: the error"
import http.client, json, subprocess, sys, time
port, down, host = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
c.request("POST", "/v1/completions", json.dumps({"prompt": "Hello", "max_tokens": 1500,
          "ignore_eos": True, "stream": True}), {"Content-Type": "application/json"})
r = c.getresponse()
assert r.status == 200
n = 0
while n < 6:  # a few tokens first: the watchdog then knows the median step (else 6 x floor)
    line = r.readline()
    assert line, "the stream ended early"
    n += line.startswith(b"data: ")
subprocess.run(["sh", "-c", down], check=True)
t0 = time.monotonic()
rest = r.read().decode()
dt = time.monotonic() - t0
ev = [e.strip() for e in rest.split("\n\n") if e.strip()]
errs = [json.loads(e[6:]) for e in ev if e.startswith("data: {") and '"error"' in e]
assert errs and errs[0]["error"]["code"] == "deployment_failed", rest[-400:]
msg = errs[0]["error"]["message"]
assert host in msg, ("the error does not name the host", host, msg)
print("ok   link down for good: error event %.1f s after the link went down: %s" % (dt, msg))
PY
$UP
req GET "http://127.0.0.1:$PORT_Z/health"
[ "$STATUS" = 503 ] && [ "$(jget 'j["status"]')" = error ] && ok "/health error, naming the cause: $(jget 'j["message"]')" ||
  fail "/health after the link failed for good: $STATUS $BODY"
stop_server Z

[ $FAILED = 0 ] || { tail -n 40 "$TMP"/*.log >&2; exit 1; }
echo "all test-host link checks passed"
