#!/usr/bin/env bash
# Disaggregated deployments across real test hosts (issue 18 items 1-2): scripts/testhosts.sh
# makes 2, 4, then 3 network + UTS namespaces on a bridge; `janus run --node-size 0 --hostfile H
# --mpirun scripts/testhosts-mpirun.sh` runs Open MPI across them (no ssh) and must give the
# monolithic engine's greedy ids and logits (1e-4), group ranks by real host, count cross-node
# messages, and bring the wake-up channel up across hosts; `janus serve` likewise; `down` must
# leave nothing. As root, a set-up failure fails the test; without root it cannot run
# (exit 77: CTest reports it as skipped, not passed).
# SPDX-License-Identifier: MIT
# shellcheck disable=SC2154 # PORT_hosts and LOG_hosts are set by lib.sh's start_server
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/testhosts_lib.sh
TESTHOSTS_TAG=jte source "$(dirname "$0")/testhosts_lib.sh"

# nothing_left: no namespace, state directory, mount or link of the prefix remains.
nothing_left() {
  local what=$1
  ip netns list | awk '{print $1}' | grep -q "^$PFX-" && fail "$what: namespaces left: $(ip netns list | grep "^$PFX-")"
  [ ! -e "/run/janus-testhosts/$PFX" ] || fail "$what: /run/janus-testhosts/$PFX left"
  grep -q "janus-testhosts/$PFX" /proc/self/mountinfo && fail "$what: mounts left"
  ip -o link | grep -q "$PFX" && fail "$what: links left in this namespace"
  if [ "$FAILED" = 0 ]; then ok "$what: nothing left"; fi
}

# no_procs_in K: every job process has left the K test hosts (bounded wait, 10 s).
no_procs_in() {
  local k=$1 i left=""
  for _ in $(seq 1 100); do
    left=""
    for i in $(seq 1 "$k"); do left+=$(ip netns pids "$PFX-h$i" 2>/dev/null || true); done
    [ -z "$left" ] && break
    sleep 0.1
  done
  [ -z "$left" ] || fail "processes left in the test hosts: $left"
}

# ---- bad input and the up/down cycle ---------------------------------------------------
for bad in "up 0" "up x" "up 2 --rate fast" "up 2 --slots 0" "up 2 --bogus" "exec nohost true"; do
  # shellcheck disable=SC2086
  if "$TH" $bad >"$TMP/bad.out" 2>"$TMP/bad.err"; then fail "testhosts.sh $bad accepted"; fi
  [ -s "$TMP/bad.out" ] && fail "testhosts.sh $bad printed on stdout"
  grep -q . "$TMP/bad.err" || fail "testhosts.sh $bad: no message"
done
nothing_left "bad arguments"
JANUS_TESTHOSTS_PREFIX=BAD "$TH" up 1 >/dev/null 2>&1 && fail "prefix BAD accepted"
# A failure half-way (tc refuses, after the switch and host 1 exist): the trap removes it all.
mkdir -p "$TMP/badtc"
printf '#!/bin/sh\necho "tc: refused by the test" >&2\nexit 1\n' >"$TMP/badtc/tc"
chmod +x "$TMP/badtc/tc"
if PATH=$TMP/badtc:$PATH "$TH" up 2 --rate 1gbit >"$TMP/bad.out" 2>"$TMP/bad.err"; then
  fail "up with a failing tc succeeded"
fi
[ -s "$TMP/bad.out" ] && fail "a failed up printed on stdout"
grep -q "up failed, removing $PFX" "$TMP/bad.err" || fail "failed up: $(cat "$TMP/bad.err")"
nothing_left "a failed up"

# ---- 2 hosts ------------------------------------------------------------------------------
"$TH" up 2 >"$TMP/up.out" 2>"$TMP/up.err" || { cat "$TMP/up.err" >&2; die "testhosts.sh up 2 failed"; }
[ "$(wc -l <"$TMP/up.out")" = 1 ] || fail "up printed more than the hostfile path: $(cat "$TMP/up.out")"
HF=$(cat "$TMP/up.out")
[ "$(cat "$HF")" = "$PFX-h1 slots=1
$PFX-h2 slots=1" ] || fail "hostfile: $(cat "$HF")"
"$TH" up 1 >/dev/null 2>&1 && fail "a second up with the same prefix was accepted"
for i in 1 2; do
  [ "$("$TH" exec "$PFX-h$i" hostname)" = "$PFX-h$i" ] || fail "host $i hostname"
  "$TH" exec "$PFX-h$i" ip -br addr show eth0 | grep -q "198.18.0.$i/" || fail "host $i address"
done
[ "$(hostname)" != "$PFX-h1" ] || fail "the test host's hostname leaked out"
ip -br addr | grep -q '198\.18\.' && fail "a test address exists outside the test hosts"
ok "up 2: hostfile, hostnames, addresses"

# monolithic NAME N: the fixture model NAME and its prompt N; sets MODEL, IDS, WANT (greedy ids
# of `janus generate`) and $TMP/mono.out, $TMP/mono.logits (`janus logits`).
monolithic() {
  MODEL=$FIX/models/$1.gguf
  IDS=$(tr -s ' \n' ',' <"$FIX/reference/$1.$2.tokens" | sed 's/,$//')
  "$BIN" generate -m "$MODEL" -t "$IDS" -n 8 --ids --ignore-eos >"$TMP/mono.out" 2>"$TMP/mono.err" ||
    die "janus generate $1: $(cat "$TMP/mono.err")"
  WANT=$(tail -n 1 "$TMP/mono.out")
  "$BIN" logits -m "$MODEL" -t "$IDS" >"$TMP/mono.logits" 2>"$TMP/mono.err" || die "janus logits $1 failed"
}
monolithic deepseek2-v2-f32 3

# run_hosts NAME K [janus run flags]: `janus run` across the test hosts; output in $TMP/NAME.*.
run_hosts() {
  local name=$1 k=$2
  shift 2
  local t0=$SECONDS
  JANUS_LOG=debug timeout 120 "$BIN" run -m "$MODEL" -t "$IDS" --node-size 0 --hostfile "$HF" \
    --mpirun "$MPIRUN" "$@" >"$TMP/$name.out" 2>"$TMP/$name.log" ||
    { cat "$TMP/$name.log" >&2; fail "$name: janus run failed"; return 0; }
  echo "     $name: janus run took $((SECONDS - t0)) s (shared machine)"
  no_procs_in "$k"
}

# check_greedy NAME DEPLOYMENT-LINE SCHEME: ids, host grouping, cross counters, wake-up channel.
check_greedy() {
  local name=$1 dep=$2 scheme=$3 got row
  got=$(grep -E '^[0-9]+( [0-9]+){7}$' "$TMP/$name.out" | head -n 1 || true)
  [ "$got" = "$WANT" ] || fail "$name: greedy '$got' != monolithic '$WANT'"
  grep -qF "deployment: $dep, node size 0" "$TMP/$name.out" ||
    fail "$name: host grouping: $(grep deployment: "$TMP/$name.out")"
  # The scheme's row, broadcast or selective ("+sel": with several MoE instances the default
  # fixed-order sums make every step selective): cross-node messages and bytes counted.
  row=$(awk -v s="$scheme" '($1 == s || $1 == s "+sel") && NF == 5 && $2 > 0 && $3 > 0' "$TMP/$name.out" | head -n 1)
  if [ -z "$row" ]; then
    row=$(awk -v s="$scheme" '$1 == s && NF == 5' "$TMP/$name.out")
    fail "$name: cross-node counters not > 0: '$row'"
  fi
  if ! grep -q "wake-up channel up" "$TMP/$name.log" || grep -q "wake-up channel off" "$TMP/$name.log"; then
    fail "$name: wake-up channel across hosts: $(grep wake-up "$TMP/$name.log")"
  fi
  if [ "$FAILED" = 0 ]; then
    ok "$name: greedy = monolithic, $dep, $scheme cross $(echo "$row" | awk '{print $2 " msgs " $3 " bytes"}')"
  fi
}

# check_logits NAME: --logits equals janus logits within 1e-4.
check_logits() {
  "$PY" - "$TMP/$1.out" "$TMP/mono.logits" <<'EOF' || fail "$1: --logits differ from janus logits"
import sys
a = [float(x) for x in open(sys.argv[1]).read().split()]
b = [float(x) for x in open(sys.argv[2]).read().split()]
assert a and len(a) == len(b), (len(a), len(b))
d = max(abs(x - y) for x, y in zip(a, b))
assert d <= 1e-4, d
print(f"ok   {sys.argv[1].split('/')[-1]}: max |logit diff| {d:.2e} over {len(a)}")
EOF
}

run_hosts two 2 --attn 1 --moe 2 --comm 1pc -n 8 --print-ids --ignore-eos --stats
check_greedy two "1 attention (1 nodes) + 2 MoE (2 nodes)" 1pc
run_hosts two_logits 2 --attn 1 --moe 2 --comm 2pc2 -n 1 --logits
check_logits two_logits

# janus serve across the same hosts: a greedy completion equals the monolithic ids.
JANUS_LOG=debug start_server hosts -m "$MODEL" --mpi --attn 1 --moe 2 --node-size 0 --hostfile "$HF" --mpirun "$MPIRUN"
req POST "http://127.0.0.1:$PORT_hosts/v1/completions" -d "{\"prompt\": [${IDS}], \"max_tokens\": 8, \"temperature\": 0, \"ignore_eos\": true}"
expect_status 200 "serve across 2 hosts: completion"
[ -n "$(ip netns pids "$PFX-h2")" ] || fail "serve: no rank runs in host 2"
grep -q "wake-up channel up (3 ranks)" "$LOG_hosts" || fail "serve: wake-up channel: $(grep wake-up "$LOG_hosts")"
TXT=$(jget 'j["choices"][0]["text"]' || true)
MONO_TXT=$(head -n -1 "$TMP/mono.out")
[ -n "$MONO_TXT" ] || fail "janus generate printed no text"
[ "$TXT" = "$MONO_TXT" ] || fail "serve across hosts: text '$TXT' != monolithic '$MONO_TXT'"
stop_server hosts
no_procs_in 2
if [ "$FAILED" = 0 ]; then ok "serve across 2 hosts: greedy text = monolithic"; fi

"$TH" down "$PFX" || fail "down after 2 hosts"
nothing_left "down after 2 hosts"
"$TH" down "$PFX" || fail "a second down failed (not idempotent)"

# ---- 4 hosts, one rank each: attention spread over hosts too -----------------------------
"$TH" up 4 >"$TMP/up.out" 2>"$TMP/up.err" || { cat "$TMP/up.err" >&2; die "testhosts.sh up 4 failed"; }
HF=$(cat "$TMP/up.out")
monolithic qwen2moe-f32 2
run_hosts four 4 --attn 2 --moe 2 --comm 2pc2 -n 8 --print-ids --ignore-eos --stats
check_greedy four "2 attention (2 nodes) + 2 MoE (2 nodes)" 2pc2
monolithic llama-moe-f32 1
run_hosts four_logits 4 --attn 2 --moe 2 --comm 1pc -n 1 --logits
check_logits four_logits
"$TH" down "$PFX" || fail "down after 4 hosts"
nothing_left "down after 4 hosts"

# ---- 3 hosts, shaped to 1 Gbit/s ---------------------------------------------------------
"$TH" up 3 --rate 1gbit --slots 2 >"$TMP/up.out" 2>"$TMP/up.err" ||
  { cat "$TMP/up.err" >&2; die "testhosts.sh up 3 failed"; }
HF=$(cat "$TMP/up.out")
monolithic deepseek2-v2-f32 1
"$TH" exec "$PFX-h3" tc qdisc show dev eth0 | grep -q "tbf.*rate 1Gbit" || fail "host 3: no tbf at 1Gbit"
# slots=2: ranks 0-1 (attention) on h1, 2-3 (MoE) on h2, 4 (MoE) on h3.
run_hosts three 3 --attn 2 --moe 3 --comm 2pc1 -n 8 --print-ids --ignore-eos --stats
check_greedy three "2 attention (1 nodes) + 3 MoE (2 nodes)" 2pc1
# A process left in a host (here a sleep) is ended by down, so the namespace really goes.
"$TH" exec "$PFX-h3" sleep 100 &
STRAY=$!
for _ in $(seq 1 50); do [ -n "$(ip netns pids "$PFX-h3")" ] && break; sleep 0.1; done
[ -n "$(ip netns pids "$PFX-h3")" ] || fail "the stray process did not start in host 3"
"$TH" down "$PFX" 2>"$TMP/down.err" || fail "down after 3 hosts: $(cat "$TMP/down.err")"
grep -q "ending processes still in $PFX's hosts" "$TMP/down.err" || fail "down did not report the stray process"
wait "$STRAY" 2>/dev/null || true
kill -0 "$STRAY" 2>/dev/null && fail "the stray process survived down"
nothing_left "down after 3 hosts"

[ "$FAILED" = 0 ] || exit 1
echo "PASS test_testhosts"
