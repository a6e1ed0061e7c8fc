#!/usr/bin/env bash
# Manual cross-check (not in the suite: it needs the npm registry): runs gen-model models
# through llama.cpp itself, via node-llama-cpp's prebuilt CPU binaries, and compares the
# next-token log-probabilities with `janus logits` (docs/GGUF.md §5, issue 12 item 6).
# llama.cpp runs with an F32 KV cache and no flash attention, so the gap is F32 rounding.
#   tests/golden/crosscheck_llamacpp.sh [JANUS_BIN]      (prints one line per model)
# SPDX-License-Identifier: MIT
set -euo pipefail
J=$(realpath "${1:-build/janus}")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
npm init -y >/dev/null
npm i -E node-llama-cpp@3.21.1 --ignore-scripts >/dev/null 2>&1
cat > probe.mjs <<'JS'
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
const [,, modelPath, toks] = process.argv;
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: 256, batchSize: 64, threads: 1,
    experimentalKvCacheKeyType: 0, experimentalKvCacheValueType: 0, flashAttention: false});
const it = context.getSequence().evaluateWithMetadata(toks.split(",").map(Number),
    {probabilities: true}, {temperature: 1, topK: 0, topP: 1, minP: 0});
const first = await it.next();
for (const [t, p] of first.value.probabilities) console.log(`${t} ${p}`);
process.exit(0);
JS
cat > cmp.py <<'PY'
import sys
import numpy as np
ours = np.array([float(x) for x in open(sys.argv[1]).read().split()])
ref = np.full(len(ours), np.nan)
for line in open(sys.argv[2]):
    t, p = line.split()
    ref[int(t)] = float(p)
lp = ours - ours.max()
lp = lp - np.log(np.exp(lp).sum())
m = ref > 1e-6
print(f"{sys.argv[3]}: max |dlog p| {np.max(np.abs(lp[m] - np.log(ref[m]))):.2e} over {m.sum()} "
      f"tokens, argmax janus {ours.argmax()} llama.cpp {np.nanargmax(ref)}")
PY
T=1,300,301,302,5,600,7,8,9,10
while read -r name args; do
  # shellcheck disable=SC2086
  "$J" gen-model --seed 7 -o "$name.gguf" $args >/dev/null
  "$J" logits -m "$name.gguf" -t "$T" > "$name.janus"
  node probe.mjs "$W/$name.gguf" "$T" > "$name.llamacpp" 2>/dev/null
  /usr/bin/python3 cmp.py "$name.janus" "$name.llamacpp" "$name"
done <<'CASES'
deepseek2-kvb --arch deepseek2
deepseek2-split --arch deepseek2 --mla-split
deepseek2-split-yarn-v2lite --arch deepseek2 --mla-split --rope-scaling yarn --rope-factor 40 --rope-orig-ctx 64 --yarn-log-mul 0.0707
deepseek2-kvb-yarn --arch deepseek2 --rope-scaling yarn --rope-factor 40 --rope-orig-ctx 64 --yarn-log-mul 0.0707
deepseek2-yarn-nolog --arch deepseek2 --mla-split --rope-scaling yarn --rope-factor 16 --rope-orig-ctx 48 --yarn-log-mul 0
olmoe --arch olmoe
olmoe-yarn --arch olmoe --rope-scaling yarn --rope-factor 8 --rope-orig-ctx 32
qwen3moe-linear --arch qwen3moe --rope-scaling linear --rope-factor 4
llama-yarn-betas --arch llama --rope-scaling yarn --rope-factor 16 --rope-orig-ctx 48 --yarn-beta-fast 16 --yarn-beta-slow 2
CASES
