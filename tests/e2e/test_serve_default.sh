#!/usr/bin/env bash
# End-to-end of the README's main command: `janus serve` with no -m writes the embedded
# default model (the trained MoE, cli/default_model.h) to $XDG_CACHE_HOME/janus on first use,
# serves it, and the README's curl examples get a completion and a chat reply. A second start reuses the cached model; it runs
# the deployment of `make run` (scripts/demo.sh: --mpi --attn 1 --moe 2).
# SPDX-License-Identifier: MIT
source "$(dirname "$0")/lib.sh"
export XDG_CACHE_HOME=$TMP/cache
NO_MODEL=1 start_server D1 --mono
ls "$XDG_CACHE_HOME"/janus/janus-moe-kjv-q8_0-*.gguf >/dev/null || fail "default model not cached"
grep -q "the default model .* written to" "$LOG_D1" || fail "first start should write the model"
# The README example (docs/HTTP.md, "Quick start"), with the port of this server.
readme_example() { # PORT WHAT
  BODY=$(curl -s "http://127.0.0.1:$1/v1/completions" -H 'Content-Type: application/json' \
    -d '{"prompt": "In the beginning", "max_tokens": 32, "temperature": 0.7, "top_p": 0.9}')
  printf '%s' "$BODY" | "$PY" -c '
import json,sys
j=json.load(sys.stdin)
c=j["choices"][0]
assert j["object"]=="text_completion" and isinstance(c["text"],str) and c["finish_reason"] in ("length","stop"), j
assert 1 <= j["usage"]["completion_tokens"] <= 32, j
assert j["model"] == "janus-moe-kjv", j
' && ok "README curl example ($2)" || fail "README curl example ($2): $BODY"
}
readme_example "$PORT_D1" "monolithic"
stop_server D1
NO_MODEL=1 start_server D2 --mpi --attn 1 --moe 2
grep -q "written to" "$LOG_D2" && fail "second start should reuse the cached model" || ok "cached default model reused"
readme_example "$PORT_D2" "1 attention + 2 MoE ranks"
[ $FAILED = 0 ] || exit 1
echo "default model checks passed"
