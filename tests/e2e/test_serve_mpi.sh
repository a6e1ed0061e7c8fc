#!/usr/bin/env bash
# End-to-end on the disaggregated deployment (SPEC §2-4): janus serve with 2 attention and
# 2 MoE instances as MPI ranks. Greedy output through the server equals `janus generate`
# (the monolithic engine), concurrent streams complete with the right counts, /metrics
# carries the deployment's exchange and expert counters, and a killed rank turns into
# explicit errors for in-flight requests and a failing /health when no relaunch is allowed.
# SPDX-License-Identifier: MIT
source "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || die "mpirun not found: run scripts/install-deps.sh"
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }

# --max-relaunches 0: no replay here (test_serve_replay.sh has it), the failure path instead
start_server M --attn 2 --moe 2 --max-seqs 4 --budget 16 --max-relaunches 0
U=http://127.0.0.1:$PORT_M
req GET "$U/health"
[ "$(jget 'j["n_attn"]')" = 2 ] && [ "$(jget 'j["n_moe"]')" = 2 ] || fail "deployment shape: $BODY"
JOB_PID=$(jget 'j["job_pid"]')

for PROMPT in "The expert" "Once upon a time there was"; do
  "$BIN" generate -m "$MODEL" -p "$PROMPT" -n 10 --ignore-eos >"$TMP/gen.txt"
  req POST "$U/v1/completions" -d "{\"prompt\":\"$PROMPT\",\"max_tokens\":10,\"temperature\":0,\"ignore_eos\":true}"
  expect_status 200 "completion on 2+2 ranks"
  printf '%s' "$BODY" >"$TMP/c.json"
  "$PY" - "$TMP/c.json" "$TMP/gen.txt" <<'PY' && ok "greedy on 2+2 ranks equals janus generate ($PROMPT)" || fail "greedy differs on 2+2 ranks ($PROMPT)"
import json, sys
t = json.load(open(sys.argv[1]))["choices"][0]["text"]
g = open(sys.argv[2], encoding="utf-8", errors="replace").read()[:-1]
assert t == g, (t, g)
PY
done

"$PY" - "$PORT_M" <<'PY' || fail "8 concurrent streams on 2+2 ranks"
import http.client, json, sys, threading
port = int(sys.argv[1]); N, T = 8, 12
res = [None] * N
def w(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", "/v1/completions", json.dumps({"prompt": "Hello %d" % i, "max_tokens": T, "temperature": 0,
              "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}), {"Content-Type": "application/json"})
    r = c.getresponse()
    ev = [e for e in r.read().decode().split("\n\n") if e.strip()]
    u = [json.loads(e[6:])["usage"] for e in ev[:-1] if '"usage"' in e]
    res[i] = (r.status, ev[-1], u[0]["completion_tokens"] if u else None)
th = [threading.Thread(target=w, args=(i,)) for i in range(N)]
[t.start() for t in th]; [t.join() for t in th]
assert all(x == (200, "data: [DONE]", T) for x in res), res
print("ok   8 concurrent streams on 2+2 ranks")
PY

ok_m=0
for _ in $(seq 1 50); do
  m1=$(metric "$PORT_M" 'janus_exchange_messages_total{scheme="1pc"}'); m2=$(metric "$PORT_M" 'janus_exchange_messages_total{scheme="2pc1"}')
  m3=$(metric "$PORT_M" 'janus_exchange_messages_total{scheme="2pc2"}'); a0=$(metric "$PORT_M" 'janus_moe_activated_experts_total{instance="0"}')
  a1=$(metric "$PORT_M" 'janus_moe_activated_experts_total{instance="1"}')
  if [ $((m1 + m2 + m3)) -gt 0 ] && [ "${a0:-0}" -gt 0 ] && [ "${a1:-0}" -gt 0 ]; then ok_m=1; break; fi
  sleep 0.1
done
[ $ok_m = 1 ] && ok "metrics: exchange messages and activated experts per MoE instance" || fail "deployment counters missing on /metrics"

# a rank dies mid-request: killed as soon as the first token of a long stream arrives
"$PY" - "$PORT_M" "$JOB_PID" <<'PY' || fail "in-flight stream when a rank dies"
import http.client, json, os, signal, subprocess, sys
port, mpirun = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
c.request("POST", "/v1/completions", json.dumps({"prompt": "Hello", "max_tokens": 1500, "ignore_eos": True, "stream": True}), {"Content-Type": "application/json"})
r = c.getresponse()
assert r.status == 200 and r.readline().startswith(b"data: ")
ranks = subprocess.run(["pgrep", "-P", str(mpirun)], capture_output=True, text=True).stdout.split()
assert ranks, "no rank processes under mpirun"
os.kill(int(ranks[-1]), signal.SIGKILL)
ev = [e.strip() for e in r.read().decode().split("\n\n") if e.strip()]
errs = [json.loads(e[6:]) for e in ev if e.startswith("data: {") and '"error"' in e]
assert errs and errs[0]["error"]["code"] == "deployment_failed", ev[-3:]
assert ev[-1] == "data: [DONE]"
print("ok   in-flight stream got an explicit error when a rank died:", errs[0]["error"]["message"])
PY
for _ in $(seq 1 100); do req GET "$U/health"; [ "$STATUS" = 503 ] && break; sleep 0.1; done
expect_status 503 "/health after a rank died"
[ "$(jget 'j["status"]')" = error ] || fail "/health: $BODY"
kill -0 "$PID_M" || fail "the server itself must stay up"
[ $FAILED = 0 ] || { tail -30 "$LOG_M" >&2; exit 1; }
echo "all serve mpi checks passed"
