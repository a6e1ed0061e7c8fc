#!/usr/bin/env bash
# janus serve under hostile clients (issue 15 items 1 and 5; docs/HTTP.md "Connections"):
# hostile traffic comes from its own loopback addresses (127.0.0.2, ...), the probes from
# 127.0.0.1. With 256 idle and 256 slow-loris connections open (and one address over its
# per-address cap, refused with 429), /health and a completion still succeed; the latency is
# printed, not asserted. The global cap refuses with 503; a slow-loris head and a trickling
# body get 408; an oversize head 431; bad Content-Length 400; HTTP/2.0 505; every one of
# them an OpenAI-shaped JSON error; one request per connection. The clients are
# tests/e2e/hostile_client.py (standard library, bounded loops).
# SPDX-License-Identifier: MIT
source "$(dirname "$0")/lib.sh"
HC="$ROOT/tests/e2e/hostile_client.py"

# Default limits (2048 connections, 64 per address) but a header deadline longer than the
# test, so the hostile connections stay open while the probes run.
start_server A --mono --header-timeout 60
"$PY" "$HC" flood "$PORT_A" 256 256 64 || fail "flood (see above)"
stop_server A

# Short deadlines and a small global cap.
start_server B --mono --header-timeout 4 --body-timeout 2 --max-connections 24 --max-per-address 8
"$PY" "$HC" malformed "$PORT_B" || fail "malformed requests (see above)"
"$PY" "$HC" deadlines "$PORT_B" 4 2 || fail "deadlines (see above)"
"$PY" "$HC" cap "$PORT_B" 24 8 || fail "global cap (see above)"
req GET "http://127.0.0.1:$PORT_B/health"
expect_status 200 "/health after the hostile clients"
stop_server B

[ "$FAILED" = 0 ] || exit 1
echo "test_serve_hostile: all ok"
