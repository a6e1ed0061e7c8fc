#!/usr/bin/python3
# Many concurrent streaming completions against janus serve (issue 15 item 1: "1000
# concurrent streaming requests complete with bounded memory"), standard library only:
# asyncio with raw sockets, spread over the source addresses 127.0.0.1..127.0.0.<ADDRS> so
# that a per-address connection cap does not apply to the test as a whole. Every
# connection is opened and its request sent before any response is read; every response
# must be a complete 200 stream of MAX_TOKENS tokens ending in [DONE]. Prints the server's
# peak RSS (VmHWM of SERVER_PID) before and after, and fails if it grew by MAX_MB_PER_STREAM
# or more per stream (a leak per connection). Usage:
#   streams_many.py PORT SERVER_PID N MAX_TOKENS [ADDRS=20] [MAX_MB_PER_STREAM=1]
# SPDX-License-Identifier: MIT
import asyncio
import json
import resource
import sys
import time

PORT, PID, N, T = (int(a) for a in sys.argv[1:5])
ADDRS = int(sys.argv[5]) if len(sys.argv) > 5 else 20
MB_PER_STREAM = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0


def vm(key):
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    raise SystemExit("no %s for pid %d" % (key, PID))


def dechunk(body):
    out, i = b"", 0
    while True:
        j = body.index(b"\r\n", i)
        n = int(body[i:j].split(b";")[0], 16)
        if n == 0:
            return out
        out += body[j + 2:j + 2 + n]
        i = j + 2 + n + 2


def check(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        return "status %r: %r" % (status, body[:200])
    if b"chunked" in head.lower():
        body = dechunk(body)
    ev = [e for e in body.decode().split("\n\n") if e.strip()]
    if not ev or ev[-1] != "data: [DONE]":
        return "no [DONE]: %r" % body[-200:]
    ch = [json.loads(e[6:]) for e in ev[:-1]]
    if any("error" in x for x in ch):
        return "an error event: %r" % ch
    usage = [x["usage"] for x in ch if x.get("usage")]
    fin = [x["choices"][0]["finish_reason"] for x in ch if x["choices"] and x["choices"][0]["finish_reason"]]
    if fin != ["length"] or not usage or usage[0]["completion_tokens"] != T:
        return "finish %r usage %r" % (fin, usage)
    return None


async def main():
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": T, "ignore_eos": True,
                       "stream": True, "stream_options": {"include_usage": True}}).encode()
    req = (b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    conns = await asyncio.gather(*[
        asyncio.wait_for(asyncio.open_connection("127.0.0.1", PORT,
                                                 local_addr=("127.0.0.%d" % (1 + i % ADDRS), 0)), 60)
        for i in range(N)])
    for _, w in conns:
        w.write(req)
    await asyncio.gather(*[w.drain() for _, w in conns])

    async def read(r, w):
        try:
            return await asyncio.wait_for(r.read(), 120)  # to EOF (Connection: close)
        finally:
            w.close()

    return await asyncio.gather(*[read(r, w) for r, w in conns], return_exceptions=True)


# The client needs a descriptor per connection.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < N + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, N + 256), hard))
hwm0 = vm("VmHWM")
t0 = time.monotonic()
res = asyncio.run(main())
wall = time.monotonic() - t0
bad = [(i, r if isinstance(r, Exception) else check(r)) for i, r in enumerate(res)]
bad = [(i, e) for i, e in bad if e]
hwm1, rss1 = vm("VmHWM"), vm("VmRSS")
grow = (hwm1 - hwm0) / 1024.0
print("%d concurrent streams of %d tokens from %d source addresses: %d complete, %d bad, %.2f s"
      % (N, T, ADDRS, N - len(bad), len(bad), wall))
print("server peak RSS (VmHWM): %.1f MiB before, %.1f MiB after (+%.1f MiB, %.1f KiB per stream); "
      "VmRSS now %.1f MiB" % (hwm0 / 1024.0, hwm1 / 1024.0, grow, grow * 1024 / N, rss1 / 1024.0))
for i, e in bad[:5]:
    print("  stream %d: %s" % (i, e))
assert not bad, "%d of %d streams did not complete" % (len(bad), N)
assert grow < MB_PER_STREAM * N, "peak RSS grew by %.1f MiB for %d streams" % (grow, N)
