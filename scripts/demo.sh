#!/usr/bin/env bash
# The README's main job on the embedded default: `janus serve` with no -m serves the small
# MoE trained by scripts/train (compiled into build/janus, written once to $XDG_CACHE_HOME/janus or
# ~/.cache/janus) over the OpenAI-compatible HTTP API on 127.0.0.1:8080,
# on a disaggregated deployment: 1 attention instance and 2 MoE instances as MPI ranks.
# Extra arguments go to `janus serve` (e.g. --port 9000, --attn 2 --moe 3).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./build/janus serve --attn 1 --moe 2 "$@"
