#!/usr/bin/env bash
# End-to-end for the live page (issue 15 item 8; docs/HTTP.md, "Live page"): GET
# /metrics.json has every field and agrees with /metrics; GET / is the compiled-in
# src/http/live.html with no-store and a CSP, and no external resource; Debian's headless
# Chromium (a test dependency) loads it on 1 attention + 2 MoE ranks under load, and every
# plot draws points from the data and the screenshot is far from blank (Pillow); with
# --api-key, / and /metrics.json answer 401 without the key (a key form for a browser) and
# the page opened as /#key=KEY works; with --metrics-public both are open.
# SPDX-License-Identifier: MIT
source "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || die "mpirun not found: run scripts/install-deps.sh"
command -v chromium >/dev/null || die "chromium not found: run scripts/install-deps.sh (a test dependency)"
"$PY" -c 'import PIL' 2>/dev/null || die "python3-pil not found: run scripts/install-deps.sh (a test dependency)"
HERE=$(cd "$(dirname "$0")" && pwd)

start_server A --attn 1 --moe 2 --max-seqs 4
U=http://127.0.0.1:$PORT_A
for i in 1 2 3; do
  req POST "$U/v1/completions" -d "{\"prompt\":\"The expert $i\",\"max_tokens\":8,\"temperature\":0,\"ignore_eos\":true}"
  expect_status 200 "completion $i"
done

# ---- /metrics.json: every field, and the same values as /metrics (counters bracketed by
# two JSON reads around the text one, since heartbeat steps keep counting)
curl -s -D "$TMP/mj.h" -o "$TMP/m1.json" "$U/metrics.json"
curl -s -o "$TMP/m.txt" "$U/metrics"
sleep 1.2 # one more STATS (every 0.5 s), so the second read moves
curl -s -o "$TMP/m2.json" "$U/metrics.json"
"$PY" - "$TMP/m1.json" "$TMP/m.txt" "$TMP/m2.json" "$TMP/mj.h" <<'PY' && ok "/metrics.json fields agree with /metrics" || fail "/metrics.json"
import json, re, sys
a, b = (json.load(open(p)) for p in (sys.argv[1], sys.argv[3]))
hdr = open(sys.argv[4]).read().lower()
assert "content-type: application/json" in hdr and "cache-control: no-store" in hdr, hdr
prom = {}
for line in open(sys.argv[2]):
    if line.startswith("#") or not line.strip():
        continue
    k, v = line.rsplit(" ", 1)
    prom[k] = float(v)
keys = {"time_seconds", "up", "model", "requests", "client_disconnects_total", "prompt_tokens_total",
        "generation_tokens_total", "time_to_first_token_seconds", "time_per_output_token_seconds",
        "steps_total", "step_seconds_total", "last_step_age_seconds", "layer_a_max", "layer_a_max_sum",
        "moe_activated_experts", "moe_activated_experts_total", "exchange", "kv_cache", "recovery",
        "scale", "replacement"}
assert set(a) == keys, set(a) ^ keys
assert set(a["requests"]) == {"running", "waiting", "in_flight", "ok", "error", "cancelled", "rejected", "invalid"}
assert b["time_seconds"] > a["time_seconds"] and a["up"] is True and a["model"]
# nothing is in flight: the request counters are exact
for o in ("ok", "error", "cancelled", "rejected", "invalid"):
    assert a["requests"][o] == prom['janus_requests_total{outcome="%s"}' % o] == b["requests"][o], o
assert a["requests"]["ok"] == 3 and a["generation_tokens_total"] == 24 == prom["janus_generation_tokens_total"]
assert a["prompt_tokens_total"] == prom["janus_prompt_tokens_total"] > 0
for name in ("time_to_first_token_seconds", "time_per_output_token_seconds"):
    h = a[name]
    assert len(h["counts"]) == len(h["le"]) + 1 and sum(h["counts"]) == h["count"] == 3, h
    assert h["count"] == prom["janus_%s_count" % name] and abs(h["sum"] - prom["janus_%s_sum" % name]) < 1e-6
    cum = 0
    for le, c in zip(h["le"] + ["+Inf"], h["counts"]):
        cum += c
        key = 'janus_%s_bucket{le="%s"}' % (name, le if le == "+Inf" else "%g" % le)
        assert prom[key] == cum, (key, prom[key], cum)
def bracket(x, p, y, what):
    assert x <= p <= y, (what, x, p, y)
bracket(a["steps_total"], prom["janus_steps_total"], b["steps_total"], "steps")
assert b["steps_total"] > a["steps_total"] > 0
L = len(a["layer_a_max"])
assert L > 0 and L == len(a["layer_a_max_sum"]) == len([k for k in prom if k.startswith("janus_layer_a_max{")])
for l in range(L):
    bracket(a["layer_a_max_sum"][l], prom['janus_layer_a_max_sum{layer="%d"}' % l], b["layer_a_max_sum"][l], l)
assert len(a["moe_activated_experts"]) == 2 == len(a["moe_activated_experts_total"])  # --moe 2
for g in range(2):
    bracket(a["moe_activated_experts_total"][g], prom['janus_moe_activated_experts_total{instance="%d"}' % g],
            b["moe_activated_experts_total"][g], g)
x = a["exchange"]
assert x["schemes"] == ["1pc", "2pc1", "2pc2"]
for k, s in enumerate(x["schemes"]):
    bracket(x["steps_total"][k], prom['janus_exchange_steps_total{scheme="%s"}' % s], b["exchange"]["steps_total"][k], s)
    bracket(x["bytes_total"][k], prom['janus_exchange_bytes_total{scheme="%s"}' % s], b["exchange"]["bytes_total"][k], s)
assert sum(x["steps_total"]) > 0  # an MPI deployment exchanges every step
assert a["kv_cache"]["capacity_tokens"] == prom["janus_kv_cache_capacity_tokens"] > 0
assert len(a["kv_cache"]["used_tokens"]) == 1
PY

# ---- GET /: the compiled-in file, with its headers; nothing loaded from elsewhere
curl -s -D "$TMP/page.h" -o "$TMP/page.html" "$U/"
grep -qi '^HTTP/1.1 200' "$TMP/page.h" || fail "GET /: $(head -1 "$TMP/page.h")"
grep -qi '^content-type: text/html; charset=utf-8' "$TMP/page.h" || fail "GET /: content type"
grep -qi '^cache-control: no-store' "$TMP/page.h" || fail "GET /: cache-control"
grep -qi "^content-security-policy: default-src 'none';.*connect-src 'self'" "$TMP/page.h" || fail "GET /: CSP"
cmp -s "$TMP/page.html" "$ROOT/src/http/live.html" || fail "GET / differs from src/http/live.html"
grep -Eiq '(src|href) *=|https?://|@import' "$TMP/page.html" && fail "the page names an external resource"
STATUS=$(curl -s -I -o /dev/null -w '%{http_code}' --max-time 30 "$U/" || echo 000)
expect_status 200 "HEAD /"
ok "GET / serves src/http/live.html with no-store and a CSP"

# ---- the page in headless Chromium, in real time, with requests going on
rm -f "$TMP/stop"
"$PY" - "$PORT_A" "$TMP/stop" >"$TMP/load.out" 2>&1 <<'PY' &
import http.client, json, os, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
n, end = 0, time.monotonic() + 180
while not os.path.exists(stop) and time.monotonic() < end:  # bounded
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/v1/completions", json.dumps({"prompt": "Hello %d" % n, "max_tokens": 6 + n % 12,
              "temperature": 0, "ignore_eos": True}), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read(); c.close()
    assert r.status == 200, r.status
    n += 1
    time.sleep(0.05)
print(n)
PY
LOAD=$!
"$PY" "$HERE/page_shot.py" "$U/" "$TMP/page.png" 5 1280 900 >"$TMP/probe.json" || fail "page_shot.py"
touch "$TMP/stop"
wait "$LOAD" || fail "background completions: $(cat "$TMP/load.out")"
echo "     chromium: $(cat "$TMP/probe.json")"
curl -s -o "$TMP/m3.json" "$U/metrics.json"
"$PY" - "$TMP/probe.json" "$TMP/m2.json" "$TMP/m3.json" <<'PY' && ok "the page shows the data: numbers and all six plots" || fail "the page's content"
import json, sys
p, before, after = (json.load(open(f)) for f in sys.argv[1:4])
assert p["title"] == "Janus-C live", p
assert p["s-up"] == "ready", p
steps = int(p["n-steps"])
assert before["steps_total"] < steps <= after["steps_total"], (before["steps_total"], steps, after["steps_total"])
assert 3 < int(p["n-ok"]) <= after["requests"]["ok"], p
assert p["n-shape"] == "%d / 2" % len(after["layer_a_max"]), p
assert int(p["n-polls"]) >= 5, p
for c in ("c-ttft", "c-tpot", "c-queue", "c-scheme", "c-amax", "c-act"):
    assert p[c] > 0, (c, p)
PY
"$PY" - "$TMP/page.png" <<'PY' && ok "the screenshot is not blank" || fail "the screenshot"
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
assert im.size == (1280, 900), im.size
px = list(im.getdata())
colours = len(set(px))
# Text, grid and frames are grey; only drawn data (lines, columns, the heat strip) and the
# legend swatches are saturated.
sat = sum(1 for r, g, b in px if max(r, g, b) - min(r, g, b) >= 60)
print("     screenshot: %d colours, %d saturated pixels" % (colours, sat))
assert colours >= 64, colours
assert sat >= 3000, sat
PY
stop_server A

# ---- with a key: / and /metrics.json are behind it; a browser gets a key form
start_server K --api-key sekret
UK=http://127.0.0.1:$PORT_K
req GET "$UK/metrics.json"
expect_error 401 "/metrics.json without the key"
req GET "$UK/"
expect_error 401 "/ without the key (an API client: OpenAI error)"
req GET "$UK/" -H 'Accept: text/html,application/xhtml+xml'
expect_status 401 "/ without the key (a browser)"
grep -q 'type="password"' <<<"$BODY" && ! grep -q 'c-ttft' <<<"$BODY" || fail "the 401 for a browser is not the key form: ${BODY:0:200}"
req GET "$UK/metrics.json" -H 'Authorization: Bearer sekret'
expect_status 200 "/metrics.json with the key"
req GET "$UK/" -H 'Authorization: Bearer sekret'
expect_status 200 "/ with the key"
# The page opened as /#key=KEY: the key form fetches the page with the key, and the page
# polls with it (the fragment never reaches the server).
timeout 120 chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 --dump-dom \
  "$UK/#key=sekret" >"$TMP/dom.html" 2>"$TMP/chromium.log" || fail "chromium --dump-dom: $(tail -3 "$TMP/chromium.log")"
"$PY" - "$TMP/dom.html" <<'PY' && ok "/#key=KEY in Chromium: the page polls with the key" || fail "the page with #key="
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'id="n-steps">(\d+)<', dom)
assert m and int(m.group(1)) > 0, dom[-2000:]
assert 'class="err"' not in dom, re.search(r'id="msg"[^>]*>[^<]*', dom).group(0)
PY
stop_server K

# ---- --metrics-public: the page and its data are open, the API is not
start_server P --api-key sekret --metrics-public
UP=http://127.0.0.1:$PORT_P
req GET "$UP/"
expect_status 200 "--metrics-public: / without the key"
req GET "$UP/metrics.json"
expect_status 200 "--metrics-public: /metrics.json without the key"
req GET "$UP/v1/models"
expect_error 401 "--metrics-public: /v1/models still needs the key"

[ "$FAILED" = 0 ] || exit 1
echo "test_serve_page: ok"
