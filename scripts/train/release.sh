#!/usr/bin/env bash
# Makes a trained run the shipped default model (issue 14 items 2-3), reproducibly:
#   scripts/train/release.sh RUN SPM_PREFIX CORPUS_DIR
# exports RUN's checkpoint as Q8_0 to models/janus-moe-kjv-q8_0.gguf (embedded into
# build/janus by the Makefile) and as F32 to a temporary file, checks the F32 export against
# PyTorch (last-position logits <= 1e-4, perplexity <= 1 %), measures the shipped file's
# held-out perplexity, draws the loss curve to docs/img/train-loss.svg, rebuilds, and
# reports the dictionary-word share of generated text. Any failed check stops it.
set -euo pipefail
[ $# = 3 ] || { echo "usage: $0 RUN SPM_PREFIX CORPUS_DIR" >&2; exit 2; }
RUN=$1 SPM=$2 CORPUS=$3
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/janus-release.XXXXXX")
trap 'rm -rf "$T"' EXIT
OUT=models/janus-moe-kjv-q8_0.gguf
$PY scripts/train/export.py --run "$RUN" --spm "$SPM.model" --type q8_0 -o "$T/q8.gguf"
$PY scripts/train/export.py --run "$RUN" --spm "$SPM.model" --type f32 -o "$T/f32.gguf"
$PY scripts/train/check_export.py --run "$RUN" --gguf "$T/f32.gguf" --ids "$SPM.heldout.ids" \
  --text "$CORPUS/heldout.txt" --spm "$SPM.model" --ctx 512 --chunks 16
echo "== held-out perplexity (all windows), F32 and shipped Q8_0 (default int8 path)"
build/janus perplexity -m "$T/f32.gguf" -f "$CORPUS/heldout.txt" --ctx 512 --json --threads 2
build/janus perplexity -m "$T/q8.gguf" -f "$CORPUS/heldout.txt" --ctx 512 --json --threads 2
mkdir -p models docs/img
cp "$T/q8.gguf" "$OUT"
$PY scripts/train/plot_loss.py --run "$RUN" -o docs/img/train-loss.svg
make -j2 >/dev/null
echo "== dictionary-word share of generated text (the embedded default)"
$PY scripts/train/word_share.py --janus build/janus
sha256sum "$OUT"
