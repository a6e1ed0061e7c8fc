#!/usr/bin/env bash
# The README's main job on the embedded default: make a small random-weight MoE model
# with `janus gen-model` on first use (kept in a cache directory), then serve it over an
# OpenAI-compatible HTTP API on a disaggregated deployment (see docs/HTTP.md).
# JANUS_DEMO=generate prints a short generation instead of serving.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/janus
MODEL=$CACHE/default-llama-moe-q8_0.gguf
mkdir -p "$CACHE"
if [ ! -f "$MODEL" ]; then
  echo "demo: generating the default model at $MODEL" >&2
  ./build/janus gen-model --arch llama --type q8_0 --seed 42 -o "$MODEL.tmp"
  mv "$MODEL.tmp" "$MODEL"
fi
if [ "${JANUS_DEMO:-serve}" = generate ]; then
  exec ./build/janus generate -m "$MODEL" -p "The expert" -n 32 --seed 1
fi
exec ./build/janus serve -m "$MODEL" "$@"
