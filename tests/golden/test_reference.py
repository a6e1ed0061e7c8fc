#!/usr/bin/env python3
# Suite test for tests/golden/reference.py (the float64 NumPy reference): it must reproduce
# every fixture's .logits to <= 1e-6 and its 8 greedy ids exactly; negative controls show
# the comparison catches a wrong feature (rope style, renormalisation, group rule); and it
# must run on janus gen-model models of every architecture and type, where the engine
# (`janus logits`) must agree with it within the fixtures' tolerances. Exit 1 on any failure.
# Env: JANUS_FIXTURES (default ../shared/fixtures), JANUS_BIN (default build/janus).
# SPDX-License-Identifier: MIT
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

FIX = os.environ.get("JANUS_FIXTURES", "../shared/fixtures")
BIN = os.environ.get("JANUS_BIN", "build/janus")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def fixture(m, n):
    ref = os.path.join(FIX, "reference", f"{m}.{n}")
    ids = [int(t) for t in open(ref + ".tokens").read().split()]
    want = np.array([float(v) for v in open(ref + ".logits").read().split()])
    return ids, want


# 1. every fixture
check(reference.selftest(FIX) == 0, "selftest: every fixture within 1e-6, greedy exact")

# 2. negative controls: a wrong feature must be caught by the same comparison
def delta_with(m, patch):
    model = reference.Model(os.path.join(FIX, "models", m + ".gguf"))
    patch(model)
    ids, want = fixture(m, 1)
    return float(np.max(np.abs(model.forward(ids) - want)))


def no_renorm(model):
    model.arch_route = model.route

    def route(il, h):
        saved = model.arch
        model.arch = "qwen2moe"  # softmax without renormalisation
        try:
            return model.arch_route(il, h)
        finally:
            model.arch = saved
    model.route = route


def flip_rope(model):
    model.neox = not model.neox


def no_groups(model):
    model.G = 0


check(delta_with("qwen3moe-f32", flip_rope) > 1e-2, "negative control: NEOX<->NORM detected")
check(delta_with("llama-moe-f32", no_renorm) > 1e-2, "negative control: no renorm detected")
check(delta_with("deepseek2-v3g-f32", no_groups) > 1e-2, "negative control: groups ignored")

# 3. gen-model models of every architecture and type run through the reference
if os.path.exists(BIN):
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("llama", "q8_0", []), ("llama", "f32", ["--n-embd", "128", "--n-head", "8"]),
                 ("qwen2moe", "bf16", []), ("qwen3moe", "f16", []),
                 ("qwen3moe", "f32", ["--n-embd", "96", "--n-head", "6", "--head-dim", "32"]),
                 ("deepseek2", "f32", []),
                 ("deepseek2", "f32", ["--gating", "sigmoid", "--expert-groups", "4",
                                       "--expert-groups-used", "2"])]
        for arch, typ, extra in cases:
            path = os.path.join(tmp, f"{arch}-{typ}.gguf")
            r = subprocess.run([BIN, "gen-model", "--arch", arch, "--type", typ, "--seed", "7",
                                "-o", path] + extra, capture_output=True, text=True)
            if r.returncode != 0:
                check(False, f"gen-model {arch} {typ}: {r.stderr.strip()}")
                continue
            model = reference.Model(path)
            ids = [1, 300, 301, 302, 5, 600]
            logits = model.forward(ids)
            n_vocab = model.g.kv[f"{arch}.vocab_size"]
            name = f"gen-model {arch} {typ} {' '.join(extra)}".strip()
            check(logits.shape == (n_vocab,) and np.all(np.isfinite(logits))
                  and float(np.std(logits)) > 1e-3,
                  f"{name}: finite logits over {n_vocab} tokens")
            # 4. the engine (janus logits) agrees with the reference on this model, within
            # the fixtures' tolerances (README §6: 1e-3; Q8_0 1e-1) and with the same argmax
            r = subprocess.run([BIN, "logits", "-m", path, "-t", ",".join(map(str, ids))],
                               capture_output=True, text=True)
            if r.returncode != 0:
                check(False, f"{name}: janus logits failed: {r.stderr.strip()}")
                continue
            got = np.array([float(v) for v in r.stdout.split()])
            tol = 1e-1 if typ == "q8_0" else 1e-3
            d = float(np.max(np.abs(got - logits))) if got.shape == logits.shape else np.inf
            check(d <= tol and int(np.argmax(got)) == int(np.argmax(logits)),
                  f"{name}: janus logits vs reference max|Δ| {d:.2e} (tol {tol:g}), same argmax")
else:
    check(False, f"janus binary {BIN} not found (set JANUS_BIN)")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
