#!/usr/bin/env bash
# janus logits / janus generate end to end: golden values through the CLI, --help, one-line
# errors with non-zero exit, --record-routing output. Env: JANUS_BIN, JANUS_FIXTURES.
# SPDX-License-Identifier: MIT
set -euo pipefail
BIN=${JANUS_BIN:-build/janus}
FIX=${JANUS_FIXTURES:-../shared/fixtures}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

M=$FIX/models/llama-moe-f32.gguf
TOK=$(tr ' ' ',' < "$FIX/reference/llama-moe-f32.1.tokens")

# logits: 768 lines within 1e-3 of the reference
"$BIN" logits -m "$M" -t "$TOK" > "$TMP/l"
[ "$(wc -l < "$TMP/l")" = 768 ] || fail "logits: expected 768 lines"
paste "$TMP/l" "$FIX/reference/llama-moe-f32.1.logits" |
  awk '{d=$1-$2; if(d<0)d=-d; if(d>m)m=d} END{if(m>1e-3){print "max diff " m; exit 1}}' ||
  fail "logits differ from the reference"

# the thread count does not change a single bit (kernels.h: row splits are value-neutral)
"$BIN" logits -m "$M" -t "$TOK" --threads 2 > "$TMP/l2"
cmp -s "$TMP/l" "$TMP/l2" || fail "logits differ between --threads 1 and 2"

# generate: greedy ids on the last line
out=$("$BIN" generate -m "$M" -t "$TOK" -n 8 --ids --ignore-eos | tail -1)
[ "$out" = "$(cat "$FIX/reference/llama-moe-f32.1.greedy")" ] || fail "greedy ids: $out"
# text prompt and sampling run
"$BIN" generate -m "$M" -p "The server" -n 5 --temp 0.7 --top-k 20 --top-p 0.9 --seed 3 > "$TMP/g" ||
  fail "generate -p"
a=$("$BIN" generate -m "$M" -p "The server" -n 6 --temp 0.9 --seed 11 --ids --ignore-eos | tail -1)
b=$("$BIN" generate -m "$M" -p "The server" -n 6 --temp 0.9 --seed 11 --ids --ignore-eos | tail -1)
[ "$a" = "$b" ] || fail "same seed, different tokens: $a / $b"

# --record-routing
"$BIN" generate -m "$FIX/models/deepseek2-v3g-f32.gguf" -t 1,384,263 -n 3 \
  --record-routing "$TMP/r" > /dev/null || fail "record-routing"
grep -q '^step 0 layer 1$' "$TMP/r" || fail "trace lacks step 0 layer 1"
grep -q '^step 2 layer 2$' "$TMP/r" || fail "trace lacks step 2 layer 2"

# --help
"$BIN" logits --help | grep -q usage || fail "logits --help"
"$BIN" generate --help | grep -q usage || fail "generate --help"

# errors: one line on stderr, non-zero exit
expect_err() { # pattern, command...
  local pat=$1; shift
  if "$@" > /dev/null 2> "$TMP/e"; then fail "should fail: $*"; fi
  [ "$(wc -l < "$TMP/e")" = 1 ] || { cat "$TMP/e"; fail "not one line: $*"; }
  grep -q -- "$pat" "$TMP/e" || { cat "$TMP/e"; fail "no '$pat' in error of: $*"; }
}
expect_err "missing -m" "$BIN" logits -t 1,2
expect_err "missing -t" "$BIN" logits -m "$M"
expect_err "out of range" "$BIN" logits -m "$M" -t 1,768
expect_err "nonexistent" "$BIN" logits -m "$TMP/nonexistent.gguf" -t 1
expect_err "exactly one of" "$BIN" generate -m "$M" -n 2
expect_err "unknown option" "$BIN" generate -m "$M" -t 1 --bogus 1
expect_err "--temp" "$BIN" generate -m "$M" -t 1 --temp x
head -c 100000 "$M" > "$TMP/trunc.gguf"
expect_err "trunc.gguf" "$BIN" logits -m "$TMP/trunc.gguf" -t 1

# perplexity (llama-perplexity's method): the scored count follows the windows, the thread
# count changes nothing, and bad arguments are one-line errors with a non-zero exit
cp README.md "$TMP/text"
p1=$("$BIN" perplexity -m "$M" -f "$TMP/text" --ctx 32 --chunks 4 --json)
p2=$("$BIN" perplexity -m "$M" -f "$TMP/text" --ctx 32 --chunks 4 --json --threads 2)
[ "$p1" = "$p2" ] || fail "perplexity differs between --threads 1 and 2: $p1 / $p2"
/usr/bin/python3 - "$p1" <<'PY' || fail "perplexity --json: $p1"
import json, math, sys
j = json.loads(sys.argv[1])
assert j["ctx"] == 32 and j["chunks"] == 4 and j["tokens"] == 4 * 15, j
assert math.isfinite(j["ppl"]) and 1 < j["ppl"] and abs(math.log(j["ppl"]) - j["nll"]) < 1e-6, j
PY
"$BIN" perplexity -m "$M" -f "$TMP/text" --ctx 32 --chunks 1 2>/dev/null | grep -q '^ppl = ' || fail "perplexity text output"
printf 'too short' > "$TMP/short"
for args in "-f $TMP/text --ctx 33:must be even" "-f $TMP/short --ctx 32:fewer than one window" \
            "-f $TMP/missing:$TMP/missing" "-f $TMP/text --ctx 1000000:exceeds the model's context" \
            "--ctx 32:missing -f"; do
  a=${args%%:*}; want=${args#*:}
  # shellcheck disable=SC2086
  if "$BIN" perplexity -m "$M" $a > "$TMP/o" 2>&1; then fail "perplexity $a: exit 0"; fi
  grep -q -- "$want" "$TMP/o" || fail "perplexity $a: $(cat "$TMP/o")"
done
echo "ok"
