#!/usr/bin/env bash
# Helpers for the janus serve end-to-end tests (sourced, not run): start a real server on
# a free loopback port (--port 0, port read from its first output line), wait for /health
# by polling, always stop it on exit (trap), and small assertion helpers over curl output.
# Env: JANUS_BIN (default build/janus), JANUS_FIXTURES (default ../shared/fixtures).
# SPDX-License-Identifier: MIT
set -euo pipefail
ROOT=${JANUS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${JANUS_BIN:-$ROOT/build/janus}
FIX=${JANUS_FIXTURES:-$ROOT/../shared/fixtures}
MODEL=${JANUS_E2E_MODEL:-$FIX/models/llama-moe-f32.gguf}
PY=/usr/bin/python3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/janus-e2e.XXXXXX")
SERVER_PIDS=()
FAILED=0

cleanup() {
  local rc=$?
  for p in "${SERVER_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${SERVER_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  # Sanitizer builds: a report in any server (or job) log fails the test.
  if grep -l -E 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$TMP"/*.log >/dev/null 2>&1; then
    grep -h -A30 -E 'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' "$TMP"/*.log >&2
    echo "FAIL: sanitizer report in a server log" >&2
    rc=1
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILED=1; }
die() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

# start_server NAME [serve args...]: sets PORT_<NAME>, PID_<NAME>, LOG_<NAME>; waits for 200 on /health.
start_server() {
  local name=$1; shift
  local log=$TMP/$name.log
  local margs=(-m "$MODEL")
  [ "${NO_MODEL:-0}" = 1 ] && margs=() # the embedded default model
  "$BIN" serve "${margs[@]}" --port 0 "$@" >"$log" 2>&1 &
  local pid=$!
  SERVER_PIDS+=("$pid")
  local port=""
  for _ in $(seq 1 300); do
    port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" 2>/dev/null | sed 's/.*://' || true)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "server $name exited at start"; }
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$log" >&2; die "server $name did not print its port"; }
  local code=""
  for _ in $(seq 1 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" || true)
    [ "$code" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "server $name exited before ready"; }
    sleep 0.1
  done
  [ "$code" = 200 ] || { cat "$log" >&2; die "server $name not healthy (last $code)"; }
  printf -v "PORT_$name" '%s' "$port"
  printf -v "PID_$name" '%s' "$pid"
  printf -v "LOG_$name" '%s' "$log"
}

stop_server() { # NAME
  local pv="PID_$1"; local pid=${!pv}
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# req METHOD URL [curl args...]: prints "<status>\n<body>" into $TMP/resp; sets STATUS and BODY.
# A POST is sent as application/json unless the arguments name a Content-Type.
req() {
  local method=$1 url=$2; shift 2
  local ct=()
  [ "$method" = POST ] && ! printf '%s\n' "$@" | grep -qi '^content-type:' && ct=(-H 'Content-Type: application/json')
  STATUS=$(curl -s -o "$TMP/resp" -w '%{http_code}' -X "$method" --max-time 120 "$url" "${ct[@]}" "$@" || echo 000)
  BODY=$(cat "$TMP/resp" 2>/dev/null || true)
}

# jget EXPR: evaluates a Python expression over j = json.loads($BODY).
jget() { printf '%s' "$BODY" | "$PY" -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

expect_status() { # WANT WHAT
  if [ "$STATUS" = "$1" ]; then ok "$2 -> $1"; else fail "$2: status $STATUS, want $1: $BODY"; fi
}

# expect_error STATUS WHAT: status and OpenAI error shape {"error":{"message","type","param","code"}}.
expect_error() {
  expect_status "$1" "$2"
  printf '%s' "$BODY" | "$PY" -c '
import json,sys
e=json.load(sys.stdin)["error"]
assert set(e)=={"message","type","param","code"}, e
assert isinstance(e["message"],str) and e["message"], e
' || fail "$2: not an OpenAI error object: $BODY"
}
