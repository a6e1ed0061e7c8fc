#!/usr/bin/env bash
# Smoke test of the training tooling (issue 14 item 3): on a tiny slice of text (Debian's
# licence texts, present on every Debian system) train a SentencePiece tokenizer and a tiny
# deepseek2-style MoE for a few steps with scripts/train, stop and resume it (the resumed run
# must end where an uninterrupted one does), export F32 through `janus gen-model --weights`,
# and check janus's logits against PyTorch's (<= 1e-4) and `janus perplexity` against
# PyTorch's evaluation by the same method (<= 1 %).
# SPDX-License-Identifier: MIT
set -euo pipefail
ROOT=${JANUS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${JANUS_BIN:-$ROOT/build/janus}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/janus-train.XXXXXX")
trap 'rm -rf "$T"' EXIT
S=$ROOT/scripts/train
$PY -c 'import torch, sentencepiece' || { echo "FAIL: python3-torch / python3-sentencepiece missing (scripts/install-deps.sh --tests)"; exit 1; }

mkdir -p "$T/corpus"
L=/usr/share/common-licenses
cat "$L/GPL-3" "$L/Apache-2.0" > "$T/corpus/train.txt"
cat "$L/LGPL-2.1" > "$T/corpus/heldout.txt"
$PY "$S/tokenizer.py" --corpus "$T/corpus" --out "$T/spm" --vocab 400 --threads 1 >/dev/null

CFG='{"n_embd":48,"n_layer":3,"n_head":2,"n_expert":8,"n_expert_used":2,"n_ff_exp":16,"n_ff":64,"kv_lora":16,"qk_nope":8,"qk_rope":8,"v_head":8,"context":64}'
ARGS=(--data "$T/spm" --steps 12 --batch 2 --seq 64 --eval-every 6 --eval-windows 2 --threads 1)
# Uninterrupted run, and one stopped after its first checkpoint then resumed.
$PY "$S/train.py" "${ARGS[@]}" --out "$T/a" --config "$CFG" >/dev/null
$PY "$S/train.py" "${ARGS[@]}" --out "$T/b" --config "$CFG" --stop-after 5 >/dev/null || true
[ -f "$T/b/ckpt.pt" ] || { echo "FAIL: no checkpoint after an interrupted run"; exit 1; }
$PY "$S/train.py" "${ARGS[@]}" --out "$T/b" > "$T/b.log"
grep -q "resumed at step" "$T/b.log" || { echo "FAIL: the second run did not resume"; exit 1; }
$PY - "$T/a/ckpt.pt" "$T/b/ckpt.pt" <<'PY'
import sys, torch
a, b = (torch.load(p)["model"] for p in sys.argv[1:])
d = max((a[k] - b[k]).abs().max().item() for k in a)
print(f"resumed vs uninterrupted: max |weight difference| = {d:.3g}")
sys.exit(0 if d == 0 else 1)
PY

$PY "$S/export.py" --run "$T/a" --spm "$T/spm.model" --janus "$BIN" --type f32 -o "$T/m.gguf" >/dev/null
$PY "$S/check_export.py" --run "$T/a" --gguf "$T/m.gguf" --ids "$T/spm.heldout.ids" --janus "$BIN" \
  --lengths 1,9,64 --text "$T/corpus/heldout.txt" --spm "$T/spm.model" --ctx 32 --chunks 8
$PY "$S/plot_loss.py" --run "$T/a" -o "$T/loss.svg" >/dev/null
[ "$(grep -c '<polyline' "$T/loss.svg")" -ge 3 ] || { echo "FAIL: loss curve has no lines"; exit 1; }
echo "PASS train smoke"
