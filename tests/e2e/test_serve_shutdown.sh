#!/usr/bin/env bash
# End-to-end: graceful shutdown and temporary-file hygiene of janus serve (issue 15 item 6;
# docs/HTTP.md "Shutdown"). SIGTERM during a stream that fits in --grace: the stream
# completes normally, new connections are refused (or get 503), a request on a kept
# connection gets 503 shutting_down, the exit status is 0 and the socket directory is gone.
# With a short --grace (and, separately, a second SIGTERM) long requests end with
# shutting_down, streaming and not. After kill -9 the next start reaps the stale directory,
# and leaves symlinks and the directories of live processes alone.
# SPDX-License-Identifier: MIT
source "$(dirname "$0")/lib.sh"

UID_=$(id -u)
export TMPDIR=$TMP/sd # the servers' socket directories go under $TMPDIR/janus-UID
mkdir -p "$TMPDIR"
SD=$TMPDIR/janus-$UID_

# wait_exit PID: waits (bounded) for the server to exit; RC = its exit status.
wait_exit() {
  for _ in $(seq 1 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$1" 2>/dev/null; then RC="still running"; return; fi
  RC=0
  wait "$1" || RC=$?
}

# The client: a stream (and optionally a non-streaming request) in flight, then signals.
# Args: PORT SERVER_PID MAX_TOKENS N_SIGNALS; prints one JSON line with what it saw.
cat >"$TMP/client.py" <<'PY'
import http.client, json, os, signal, socket, sys, threading, time
port, pid, max_tokens, nsig = (int(a) for a in sys.argv[1:5])
H = {"Content-Type": "application/json"}
out = {}

def body(stream):
    b = {"prompt": "Hello", "max_tokens": max_tokens, "ignore_eos": True, "temperature": 0,
         "stream": stream}
    if stream:
        b["stream_options"] = {"include_usage": True}
    return json.dumps(b)

def nonstream():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", "/v1/completions", body(False), H)
    r = c.getresponse()
    j = json.loads(r.read() or b"{}")
    out["nonstream"] = [r.status, (j.get("error") or {}).get("code"),
                        (j.get("usage") or {}).get("completion_tokens")]

kept = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # a kept-alive connection
kept.request("GET", "/health"); r = kept.getresponse(); r.read()
assert r.status == 200, r.status
out["keeps_connections"] = (r.getheader("Connection") or "").lower() != "close"
s = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
s.request("POST", "/v1/completions", body(True), H)
r = s.getresponse()
assert r.status == 200, r.status
first = r.readline()
assert first.startswith(b"data: "), first
t = threading.Thread(target=nonstream) if nsig >= 1 and max_tokens > 100 else None
if t:
    t.start()
    time.sleep(0.3)  # let it reach the job (its outcome is asserted either way)
t0 = time.monotonic()
os.kill(pid, signal.SIGTERM)
# New connections: refused, or 503 shutting_down, once the server has seen the signal.
probe = None
for _ in range(200):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/health"); pr = c.getresponse(); pb = pr.read()
        if pr.status == 503:
            probe = "503 " + json.loads(pb)["error"]["code"]; break
    except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
        probe = "refused"; break
    time.sleep(0.05)
out["new_connection"] = probe
try:
    kept.request("GET", "/health"); kr = kept.getresponse(); kb = kr.read()
    out["kept"] = "%d %s" % (kr.status, json.loads(kb)["error"]["code"] if kr.status != 200 else "")
    out["kept_close"] = (kr.getheader("Connection") or "").lower()
except (ConnectionError, http.client.RemoteDisconnected) as e:  # (it reconnects if closed)
    out["kept"] = "closed " + type(e).__name__
if nsig >= 2:
    time.sleep(0.3)
    os.kill(pid, signal.SIGTERM)
events = [first.decode()]
for line in r:
    events.append(line.decode())
txt = "".join(events)
chunks = [json.loads(l[6:]) for l in txt.splitlines() if l.startswith("data: {")]
errs = [c["error"]["code"] for c in chunks if "error" in c]
fin = [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices") and c["choices"][0].get("finish_reason")]
ntext = sum(1 for c in chunks if c.get("choices") and c["choices"][0].get("text"))
usage = [c["usage"]["completion_tokens"] for c in chunks if c.get("usage")]
out["stream"] = {"errors": errs, "finish": fin, "text_chunks": ntext, "usage": usage,
                 "done": "data: [DONE]" in txt}
if t:
    t.join()
out["after_signal_s"] = round(time.monotonic() - t0, 2)
print(json.dumps(out))
PY

sockdirs() { ls -d "$SD"/front-* 2>/dev/null || true; }

# ---- 1. SIGTERM with a stream that fits in the grace period
start_server G --mono --step-delay-ms 20 --grace 60
[ "$(sockdirs | grep -c "front-$PID_G-")" = 1 ] && ok "the socket directory carries the pid ($(basename "$(sockdirs)"))" ||
  fail "socket directory: $(sockdirs)"
[ "$(stat -c %a "$SD")" = 700 ] && ok "$SD has mode 0700" || fail "$SD mode $(stat -c %a "$SD")"
OUT=$("$PY" "$TMP/client.py" "$PORT_G" "$PID_G" 40 1) || fail "client (grace): $OUT"
echo "    $OUT"
printf '%s' "$OUT" | "$PY" -c '
import json, sys
o = json.load(sys.stdin)
s = o["stream"]
assert s["errors"] == [] and s["finish"] == ["length"] and s["done"], s
assert s["usage"] == [40] and s["text_chunks"] > 0, s   # all 40 tokens
assert o["new_connection"] in ("refused", "503 shutting_down"), o
if o["keeps_connections"]:  # a request on a connection kept open: 503 and Connection: close
    assert o["kept"] == "503 shutting_down" and o["kept_close"] == "close", o
else:                       # one request per connection: the client must reconnect: refused
    assert o["kept"] in ("503 shutting_down", "closed ConnectionRefusedError"), o
' && ok "SIGTERM: the stream completed normally, new connections $(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["new_connection"])'), a kept connection got 503 shutting_down (or, without keep-alive, refused)" ||
  fail "SIGTERM within the grace: $OUT"
wait_exit "$PID_G"
[ "$RC" = 0 ] && ok "exit status 0 after SIGTERM" || fail "exit status after SIGTERM: $RC ($(tail -5 "$LOG_G"))"
[ -z "$(sockdirs)" ] && ok "the socket directory is gone" || fail "left behind: $(sockdirs)"
grep -q 'stopped accepting' "$LOG_G" || fail "no drain message in the log"

# ---- 2. short --grace: long requests end with shutting_down (stream and non-stream)
start_server S --mono --step-delay-ms 40 --grace 1
OUT=$("$PY" "$TMP/client.py" "$PORT_S" "$PID_S" 400 1) || fail "client (short grace): $OUT"
echo "    $OUT"
printf '%s' "$OUT" | "$PY" -c '
import json, sys
o = json.load(sys.stdin)
s = o["stream"]
assert s["errors"] == ["shutting_down"] and s["finish"] == [] and s["done"], s
assert o["nonstream"][:2] == [503, "shutting_down"], o
' && ok "--grace 1: the long stream and the non-streaming request end with shutting_down" ||
  fail "short grace: $OUT"
wait_exit "$PID_S"
[ "$RC" = 0 ] && ok "exit status 0 (grace over)" || fail "exit status (grace over): $RC"
[ -z "$(sockdirs)" ] && ok "the socket directory is gone (grace over)" || fail "left behind: $(sockdirs)"

# ---- 3. a second SIGTERM ends at once (the stream would fit in the 60 s grace)
start_server T --mono --step-delay-ms 40 --grace 60
OUT=$("$PY" "$TMP/client.py" "$PORT_T" "$PID_T" 400 2) || fail "client (second signal): $OUT"
echo "    $OUT"
printf '%s' "$OUT" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)["stream"]
assert s["errors"] == ["shutting_down"] and s["finish"] == [] and s["done"], s
' && ok "a second SIGTERM ends the stream with shutting_down" || fail "second signal: $OUT"
wait_exit "$PID_T"
[ "$RC" = 0 ] && ok "exit status 0 (second signal)" || fail "exit status (second signal): $RC"

# ---- 4. SIGHUP and SIGINT also stop the server cleanly
for sig in HUP INT; do
  start_server "H$sig" --mono
  pv="PID_H$sig"
  kill -"$sig" "${!pv}"
  wait_exit "${!pv}"
  [ "$RC" = 0 ] && [ -z "$(sockdirs)" ] && ok "SIG$sig: exit 0, socket directory removed" ||
    fail "SIG$sig: exit $RC, left: $(sockdirs)"
done

# ---- 5. kill -9: the next start reaps the stale directory (and nothing else)
start_server K --mono
JOB=$(curl -s "http://127.0.0.1:$PORT_K/health" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["job_pid"])')
STALE=$(sockdirs)
kill -KILL "$PID_K"
wait "$PID_K" 2>/dev/null || true
kill -KILL -- "-$JOB" 2>/dev/null || true # the orphaned job (its own process group)
[ -d "$STALE" ] && ok "kill -9 leaves $(basename "$STALE") behind" || fail "no stale directory after kill -9"
sleep 0 & DEAD=$! # a pid that is surely not running
wait "$DEAD"
mkdir -p "$TMP/victim" && touch "$TMP/victim/keep"
ln -s "$TMP/victim" "$SD/front-$DEAD-link"          # a symlink: never followed
mkdir "$SD/front-$$-live" && touch "$SD/front-$$-live/x" # a live pid: kept
mkdir "$SD/other-$DEAD-x"                             # not ours by name: kept
start_server L --mono
[ ! -e "$STALE" ] && ok "the next start removed the stale $(basename "$STALE")" ||
  fail "stale directory not reaped: $(ls -la "$SD")"
grep -q "removed .*front-$PID_K-" "$LOG_L" || fail "no log line for the reaped directory"
[ -f "$TMP/victim/keep" ] && [ -L "$SD/front-$DEAD-link" ] && [ -f "$SD/front-$$-live/x" ] &&
  [ -d "$SD/other-$DEAD-x" ] && ok "symlinks, live pids' directories and other names are left alone" ||
  fail "reaping went too far: $(ls -la "$SD")"
[ "$(sockdirs | grep -c "front-$PID_L-")" = 1 ] || fail "the new server has no socket directory"
# a start that fails (the port is taken) removes its directory too
if timeout 120 "$BIN" serve -m "$MODEL" --mono --port "$PORT_L" >"$TMP/busy.log" 2>&1; then
  fail "a second server on port $PORT_L started"
else
  grep -q 'cannot listen' "$TMP/busy.log" && [ "$(sockdirs | grep -vc -e "front-$PID_L-" -e "front-$DEAD-" -e "front-$$-")" = 0 ] &&
    ok "a failed start (port in use) leaves no socket directory" ||
    fail "failed start: $(cat "$TMP/busy.log"); left: $(sockdirs)"
fi
stop_server L
wait_exit "$PID_L"
[ "$RC" = 0 ] || fail "exit status of L: $RC"

exit $FAILED
