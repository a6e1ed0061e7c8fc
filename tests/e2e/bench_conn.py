#!/usr/bin/python3
"""Cost of one request per connection (docs/HTTP.md "Measured: connections").

  bench_conn.py PORT N new|keepalive

Sends N sequential GET /health from 127.0.0.1, each on a new TCP connection (new) or all on
one kept-alive connection (keepalive; needs a server that keeps connections open), and
prints the mean and p50/p99 latency per request. Standard library only; loopback only.
"""
import http.client
import sys
import time


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("new", "keepalive"):
        sys.exit(__doc__)
    port, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    times = []
    conn = None
    for _ in range(n):
        t0 = time.perf_counter()
        if conn is None or mode == "new":
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/health")
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit("status %d" % r.status)
        if mode == "keepalive" and r.will_close:
            sys.exit("the server closed the connection: keepalive cannot be measured")
        times.append(time.perf_counter() - t0)
    conn.close()
    times.sort()
    print("%s: %d requests, mean %.1f us, p50 %.1f us, p99 %.1f us" %
          (mode, n, 1e6 * sum(times) / n, 1e6 * times[n // 2], 1e6 * times[(99 * n) // 100]))


if __name__ == "__main__":
    main()
