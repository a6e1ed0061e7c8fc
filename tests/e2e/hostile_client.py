#!/usr/bin/python3
"""Hostile HTTP clients for tests/e2e/test_serve_hostile.sh (issue 15 items 1 and 5).

Standard library only; loopback only; every loop is bounded. Hostile traffic binds its own
source addresses (127.0.0.2, 127.0.0.3, ...) so the server's per-address cap applies to it
and not to the probing client on 127.0.0.1.

  flood PORT IDLE LORIS PER_ADDR   idle + slow-loris connections spread over addresses,
                                   one address over its cap (429), then /health and a
                                   completion from 127.0.0.1 still succeed (latency printed)
                                   while every hostile connection is still held
  cap PORT MAX PER_ADDR            MAX + 8 connections: at most MAX held, the rest get 503
  deadlines PORT HEADER_S BODY_S   a slow-loris head and a trickling body get 408
  malformed PORT                   431, 400 (Content-Length, Host, ...), 413, 505 in the
                                   OpenAI error shape; one request per connection
Exit status 0 when every check passed, 1 otherwise (one FAIL line per failed check).
"""
import json
import resource
import select
import socket
import sys
import threading
import time

FAILED = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    FAILED.append(msg)


def ok(msg):
    print("ok   " + msg, flush=True)


def connect(port, src="127.0.0.1", timeout=30.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_all(s, limit_s=30.0, cap=1 << 20):
    """Reads until EOF (or a reset, or limit_s, or cap bytes); returns the bytes."""
    data = b""
    end = time.monotonic() + limit_s
    while len(data) < cap:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def parse_response(raw):
    """(status, headers dict lower-case, body bytes) of one HTTP/1.x response, or None."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        return None
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(parts[1]), headers, body


def check_error(raw, want_status, what, want_code=None):
    """The response is want_status with an OpenAI-shaped JSON error body."""
    r = parse_response(raw)
    if r is None:
        fail("%s: no HTTP response (got %r)" % (what, raw[:200]))
        return False
    status, headers, body = r
    if status != want_status:
        fail("%s: status %d, want %d: %r" % (what, status, want_status, body[:300]))
        return False
    if not headers.get("content-type", "").startswith("application/json"):
        fail("%s: Content-Type %r, want application/json: %r" %
             (what, headers.get("content-type"), body[:300]))
        return False
    try:
        e = json.loads(body)["error"]
        assert set(e) == {"message", "type", "param", "code"}, e
        assert isinstance(e["message"], str) and e["message"], e
        assert isinstance(e["type"], str) and e["type"], e
        if want_code is not None:
            assert e["code"] == want_code, e
    except (ValueError, KeyError, TypeError, AssertionError) as ex:
        fail("%s: not the OpenAI error shape (%s): %r" % (what, ex, body[:300]))
        return False
    ok("%s -> %d %s (%s)" % (what, status, e["code"], e["message"]))
    return True


def request(port, raw, limit_s=30.0, src="127.0.0.1"):
    s = connect(port, src)
    try:
        s.sendall(raw)
        return read_all(s, limit_s)
    finally:
        s.close()


def probe(port, what, method, path, body=None, timeout=30.0):
    """One request from 127.0.0.1 with a generous timeout: (status, seconds)."""
    t0 = time.monotonic()
    req = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        req += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    raw = request(port, req.encode() + b"\r\n" + data, timeout)
    dt = time.monotonic() - t0
    r = parse_response(raw)
    status = r[0] if r else 0
    print("measured: %s took %.3f s (status %d; goal < 1 s)" % (what, dt, status), flush=True)
    return status, (r[2] if r else b"")


def still_open(s):
    """True while the server has neither closed nor answered the connection."""
    s.settimeout(0.0)  # non-blocking: a peek that would block means "open, nothing sent"
    try:
        s.recv(1, socket.MSG_PEEK)
        return False  # an answer or EOF
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.settimeout(30.0)


def readable_within(socks, want, limit_s):
    """Waits (bounded) until at least want of socks are readable; returns those."""
    end = time.monotonic() + limit_s
    ready = []
    while time.monotonic() < end:
        ready = [s for s in socks if select.select([s], [], [], 0)[0]]
        if len(ready) >= want:
            break
        time.sleep(0.05)
    return ready


def flood(port, n_idle, n_loris, per_addr):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4 * (n_idle + n_loris + per_addr) + 256)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    addr = [2]  # next hostile source address 127.0.0.N

    def spread(n):
        """n connections from fresh addresses, per_addr each (the cap admits them all)."""
        out = []
        while len(out) < n:
            src = "127.0.0.%d" % addr[0]
            addr[0] += 1
            for _ in range(min(per_addr, n - len(out))):
                out.append(connect(port, src))
        return out

    idle = spread(n_idle)
    loris = spread(n_loris)
    for s in loris:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    stop = threading.Event()

    def trickle():  # one byte per second on every slow-loris connection (bounded)
        for _ in range(120):
            if stop.wait(1.0):
                return
            for s in loris:
                try:
                    s.send(b"a")
                except OSError:
                    pass

    th = threading.Thread(target=trickle, daemon=True)
    th.start()
    print("opened %d idle and %d slow-loris connections from 127.0.0.2..127.0.0.%d" %
          (n_idle, n_loris, addr[0] - 1), flush=True)
    # One address over its cap: per_addr admitted, the next one refused with 429.
    over_src = "127.0.0.%d" % addr[0]
    addr[0] += 1
    held = [connect(port, over_src) for _ in range(per_addr)]
    extra = connect(port, over_src)
    check_error(read_all(extra, 30.0), 429, "connection %d from %s" % (per_addr + 1, over_src),
                "too_many_connections")
    extra.close()
    # The probes from 127.0.0.1.
    st, _ = probe(port, "GET /health with %d idle + %d slow-loris open" % (n_idle, n_loris),
                  "GET", "/health")
    if st == 200:
        ok("/health under hostile connections -> 200")
    else:
        fail("/health under hostile connections: status %d" % st)
    st, body = probe(port, "POST /v1/completions (4 tokens) under the same load", "POST",
                     "/v1/completions", {"prompt": "Hello", "max_tokens": 4, "temperature": 0})
    try:
        good = st == 200 and json.loads(body)["usage"]["completion_tokens"] == 4
    except (ValueError, KeyError, TypeError):
        good = False
    if good:
        ok("completion under hostile connections -> 200, 4 tokens")
    else:
        fail("completion under hostile connections: status %d: %r" % (st, body[:300]))
    # The hostile connections were really held open by the server the whole time.
    closed = [s for s in idle + loris + held if not still_open(s)]
    if closed:
        fail("%d of the hostile connections were closed by the server" % len(closed))
    else:
        ok("all %d hostile connections were still open during the probes" %
           (len(idle) + len(loris) + len(held)))
    stop.set()
    th.join(5)
    for s in idle + loris + held:
        s.close()


def cap(port, max_conn, per_addr):
    """max_conn + 8 connections, per_addr per address: at most max_conn are held, the rest
    get 503 in the OpenAI shape."""
    conns = []
    src = 30
    while len(conns) < max_conn + 8:
        for _ in range(min(per_addr, max_conn + 8 - len(conns))):
            conns.append(connect(port, "127.0.0.%d" % src))
        src += 1
    answered = readable_within(conns, 8, 30.0)
    held = [s for s in conns if s not in answered]
    if len(answered) < 8 or len(held) > max_conn:
        fail("global cap %d: %d of %d connections held, %d answered" %
             (max_conn, len(held), len(conns), len(answered)))
    else:
        ok("global cap %d: %d of %d connections held, %d refused" %
           (max_conn, len(held), len(conns), len(answered)))
    for s in answered:
        check_error(read_all(s, 10.0), 503, "connection over the global cap",
                    "too_many_connections")
    for s in conns:
        s.close()


def deadlines(port, header_s, body_s):
    # Slow-loris: one header byte every 0.5 s, never finishing the head.
    s = connect(port, "127.0.0.2")
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    t0 = time.monotonic()
    raw = b""
    for _ in range(int((header_s + 10) / 0.5)):
        if select.select([s], [], [], 0.5)[0]:
            raw = read_all(s, 10.0)
            break
        try:
            s.send(b"a")
        except OSError:
            break
    dt = time.monotonic() - t0
    s.close()
    print("measured: slow-loris closed after %.2f s (--header-timeout %d)" % (dt, header_s))
    check_error(raw, 408, "slow-loris head", "request_timeout")
    # Trickling body: a complete head, then one body byte every 0.5 s.
    body = json.dumps({"prompt": "x" * 200, "max_tokens": 1}).encode()
    s = connect(port, "127.0.0.3")
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    t0 = time.monotonic()
    raw = b""
    for i in range(min(len(body), int((body_s + 10) / 0.5))):
        if select.select([s], [], [], 0.5)[0]:
            break
        try:
            s.send(body[i:i + 1])
        except OSError:
            break
    raw = read_all(s, 10.0)
    dt = time.monotonic() - t0
    s.close()
    print("measured: trickling body answered after %.2f s (--body-timeout %d)" % (dt, body_s))
    check_error(raw, 408, "trickling body", "request_timeout")


def malformed(port):
    big = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    check_error(request(port, big), 431, "20 KB request head", "request_header_too_large")
    # The same head, only a little under the cap, still passes.
    fine = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 12000 + b"\r\n\r\n"
    r = parse_response(request(port, fine))
    if r and r[0] == 200:
        ok("12 KB request head -> 200")
    else:
        fail("12 KB request head: %r" % (r,))
    for cl, what in ((b"12a", "Content-Length 12a"), (b"-1", "Content-Length -1"),
                     (b"5, 5", "Content-Length '5, 5'")):
        raw = request(port, b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                      cl + b"\r\n\r\n{}")
        check_error(raw, 400, what, "invalid_content_length")
    raw = request(port, b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Length: 99999999999999999999999\r\n\r\n")
    check_error(raw, 413, "Content-Length beyond 64 bits", "request_too_large")
    raw = request(port, b"GET /health HTTP/1.1\r\n\r\n")
    check_error(raw, 400, "HTTP/1.1 without Host", "missing_host")
    raw = request(port, b"GET /health HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n")
    check_error(raw, 505, "HTTP/2.0 request line", "http_version_not_supported")
    raw = request(port, b"GET /health\r\nHost: 127.0.0.1\r\n\r\n")
    check_error(raw, 400, "request line without a version", "malformed_request")
    raw = request(port, b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Transfer-Encoding: gzip\r\n\r\n")
    check_error(raw, 400, "Transfer-Encoding gzip", "invalid_transfer_encoding")
    # One request per connection: two pipelined requests get one response and a close.
    raw = request(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                  b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    r = parse_response(raw)
    n = raw.count(b"HTTP/1.1 ")
    if r and r[0] == 200 and r[1].get("connection", "").lower() == "close" and n == 1:
        ok("two pipelined requests -> one 200 with Connection: close, then the close")
    else:
        fail("pipelined requests: %d responses, first %r" % (n, r[:2] if r else None))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, port = sys.argv[1], int(sys.argv[2])
    a = [int(x) for x in sys.argv[3:]]
    if cmd == "flood" and len(a) == 3:
        flood(port, *a)
    elif cmd == "cap" and len(a) == 2:
        cap(port, *a)
    elif cmd == "deadlines" and len(a) == 2:
        deadlines(port, *a)
    elif cmd == "malformed" and not a:
        malformed(port)
    else:
        sys.exit(__doc__)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
