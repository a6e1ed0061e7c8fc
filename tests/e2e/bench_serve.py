#!/usr/bin/env python3
# Load generator for janus serve (not a test; numbers go into docs/HTTP.md):
#   bench_serve.py PORT [N_CLIENTS] [MAX_TOKENS]
# N concurrent streaming greedy completions (ignore_eos); prints wall time, output tokens/s,
# and the median / p90 time to first token and time per output token seen by the clients.
# SPDX-License-Identifier: MIT
import http.client, json, statistics, sys, threading, time

port = int(sys.argv[1]); n = int(sys.argv[2]) if len(sys.argv) > 2 else 32
T = int(sys.argv[3]) if len(sys.argv) > 3 else 64
ttft, tpot, toks = [], [], []
lock = threading.Lock()

def client(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.monotonic()
    c.request("POST", "/v1/completions", json.dumps({"prompt": "Request %d: once upon a time" % i,
              "max_tokens": T, "temperature": 0, "ignore_eos": True, "stream": True,
              "stream_options": {"include_usage": True}}), {"Content-Type": "application/json"})
    r = c.getresponse()
    first = None; usage = None
    while True:
        line = r.readline()
        if not line: break
        if line.startswith(b"data: {"):
            j = json.loads(line[6:])
            if j.get("usage"): usage = j["usage"]
            elif first is None: first = time.monotonic()
        if line.startswith(b"data: [DONE]"): break
    t1 = time.monotonic()
    with lock:
        ttft.append(first - t0)
        nt = usage["completion_tokens"]
        toks.append(nt)
        if nt > 1: tpot.append((t1 - first) / (nt - 1))

t0 = time.monotonic()
th = [threading.Thread(target=client, args=(i,)) for i in range(n)]
[t.start() for t in th]; [t.join() for t in th]
wall = time.monotonic() - t0
q = lambda v, p: sorted(v)[min(len(v) - 1, int(p * len(v)))]
print("clients %d  max_tokens %d  wall %.2f s  output %.1f tok/s  TTFT p50 %.3f p90 %.3f s  TPOT p50 %.4f p90 %.4f s"
      % (n, T, wall, sum(toks) / wall, statistics.median(ttft), q(ttft, 0.9), statistics.median(tpot), q(tpot, 0.9)))
