#!/usr/bin/env bash
# janus trace end to end (docs/ROUTING.md): the routing it records for every window is the
# routing janus generate --record-routing records for the same tokens (same expert ids per
# token and layer), with and without --stride; janus place, place-eval and schedule read
# the trace; bad input is a one-line error with a non-zero exit and no output file.
# Env: JANUS_BIN, JANUS_FIXTURES.
# SPDX-License-Identifier: MIT
set -euo pipefail
BIN=${JANUS_BIN:-build/janus}
FIX=${JANUS_FIXTURES:-../shared/fixtures}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

M=$FIX/models/deepseek2-v2-f32.gguf
cp README.md "$TMP/text"
"$BIN" tokenize -m "$M" -f "$TMP/text" > "$TMP/ids"
BOS=$(cut -d' ' -f1 < "$TMP/ids")

# Window W of a trace recorded with --ctx N --stride S is text tokens [W*S, W*S + N) with
# the first replaced by BOS; generate -t with those ids prefills them in one step 0.
check_window() { # trace, N, S, W
  local tr=$1 n=$2 s=$3 w=$4
  local ids
  ids=$(tr ' ' '\n' < "$TMP/ids" | sed -n "$((w * s + 2)),$((w * s + n))p" | paste -sd, -)
  "$BIN" generate -m "$M" -t "$BOS,$ids" -n 1 --record-routing "$TMP/g" > /dev/null ||
    fail "generate --record-routing (window $w)"
  # the blocks of step W in the trace, renamed to step 0, must equal generate's step 0
  awk -v w="$w" '/^#/ {next} /^step/ {keep = ($2 == w); if (keep) print "step 0", $3, $4; next}
                 keep' "$tr" > "$TMP/a"
  awk '/^#/ {next} /^step/ {keep = ($2 == 0); if (keep) print; next} keep' "$TMP/g" > "$TMP/b"
  [ -s "$TMP/a" ] || fail "$tr: no blocks for step $w"
  [ "$(grep -c '^step' "$TMP/a")" = 2 ] || fail "$tr: step $w has not one block per MoE layer"
  [ "$(grep -vc '^step' "$TMP/a")" = $((2 * n)) ] || fail "$tr: step $w has not $n tokens per layer"
  cmp -s "$TMP/a" "$TMP/b" || { diff "$TMP/a" "$TMP/b" | head || true; fail "$tr window $w differs from generate"; }
}

"$BIN" trace -m "$M" -f "$TMP/text" -o "$TMP/t" --ctx 48 --chunks 3 2> "$TMP/log" || fail "trace"
grep -q "3 windows of 48 tokens" "$TMP/log" || fail "trace summary: $(cat "$TMP/log")"
[ "$(grep -c '^step' "$TMP/t")" = 6 ] || fail "3 windows x 2 MoE layers expected"
grep -q '^step 2 layer 2$' "$TMP/t" || fail "trace lacks step 2 layer 2"
grep -q '^step 0 layer 0$' "$TMP/t" && fail "the dense layer 0 was traced"
check_window "$TMP/t" 48 48 0
check_window "$TMP/t" 48 48 2
# overlapping windows
"$BIN" trace -m "$M" -f "$TMP/text" -o "$TMP/ts" --ctx 40 --stride 16 --chunks 4 2> /dev/null ||
  fail "trace --stride"
check_window "$TMP/ts" 40 16 3
# the thread count changes nothing
"$BIN" trace -m "$M" -f "$TMP/text" -o "$TMP/t2" --ctx 48 --chunks 3 --threads 2 2> /dev/null
cmp -s "$TMP/t" "$TMP/t2" || fail "trace differs between --threads 1 and 2"

# the consumers read it
"$BIN" place --routing "$TMP/t" --instances 4 --slots 5 --policy janus -o "$TMP/l.json" \
  --save-stats "$TMP/s.json" 2> /dev/null || fail "place --routing"
"$BIN" place --stats "$TMP/s.json" --instances 4 --slots 5 --policy eplb -o "$TMP/le.json" \
  2> /dev/null || fail "place --stats (eplb)"
"$BIN" place-eval --layout "$TMP/l.json" --routing "$TMP/t" --batches 1,8,64 --samples 20 \
  --sample pool > "$TMP/pe" || fail "place-eval"
[ "$(grep -c '^ *[0-9]' "$TMP/pe")" = 3 ] || fail "place-eval rows: $(cat "$TMP/pe")"
"$BIN" schedule --layout "$TMP/le.json" --routing "$TMP/t" --policy optimal > "$TMP/sch" ||
  fail "schedule"
grep -q '^step 1 layer 2 a_max ' "$TMP/sch" || fail "schedule output"

# errors: one line, non-zero exit, no output left behind
expect_err() { # pattern, command...
  local pat=$1; shift
  if "$@" > /dev/null 2> "$TMP/e"; then fail "should fail: $*"; fi
  [ "$(wc -l < "$TMP/e")" = 1 ] || { cat "$TMP/e"; fail "not one line: $*"; }
  grep -q -- "$pat" "$TMP/e" || { cat "$TMP/e"; fail "no '$pat' in error of: $*"; }
}
: > "$TMP/empty"
printf 'too short' > "$TMP/short"
expect_err "empty text" "$BIN" trace -m "$M" -f "$TMP/empty" -o "$TMP/x"
expect_err "fewer than one window" "$BIN" trace -m "$M" -f "$TMP/short" -o "$TMP/x" --ctx 32
expect_err "cannot write" "$BIN" trace -m "$M" -f "$TMP/text" -o "$TMP/no/such/dir/x" --ctx 32
expect_err "missing -o" "$BIN" trace -m "$M" -f "$TMP/text"
expect_err "missing -f" "$BIN" trace -m "$M" -o "$TMP/x"
expect_err "exceeds the model's context" "$BIN" trace -m "$M" -f "$TMP/text" -o "$TMP/x" --ctx 100000
expect_err "nonexistent" "$BIN" trace -m "$TMP/nonexistent.gguf" -f "$TMP/text" -o "$TMP/x"
[ -e "$TMP/x" ] && fail "a failed trace left $TMP/x"
"$BIN" trace --help | grep -q usage || fail "trace --help"
echo "ok"
