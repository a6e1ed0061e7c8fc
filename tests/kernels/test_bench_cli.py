#!/usr/bin/env python3
# Script test for `janus bench` on fixture models (tiny: a functional check, no timing
# thresholds): --json prints one object per batch size with the required fields, positive
# rates, weight bytes per token consistent with the model (non-expert bytes + distinct
# activated experts, ≤ E per layer) and with weight_gb_s; --moe-layer prints both curves
# and their fits; bad options give one-line errors and a non-zero exit; JANUS_KERNELS picks
# the kernel table and an unavailable name is reported on stderr.
# Env: JANUS_FIXTURES (default ../shared/fixtures), JANUS_BIN (default build/janus).
# SPDX-License-Identifier: MIT
import json
import math
import os
import subprocess
import sys

FIX = os.environ.get("JANUS_FIXTURES", "../shared/fixtures")
BIN = os.environ.get("JANUS_BIN", "build/janus")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(args, kernels=None):
    env = dict(os.environ)
    env.pop("JANUS_KERNELS", None)
    if kernels is not None:
        env["JANUS_KERNELS"] = kernels
    p = subprocess.run([BIN, "bench"] + args, capture_output=True, text=True, timeout=600, env=env)
    return p.returncode, p.stdout, p.stderr


def model(name):
    return os.path.join(FIX, "models", name + ".gguf")


REQUIRED = ["batch", "decode_tok_s", "prompt_tok_s", "weight_bytes_per_token", "weight_gb_s",
            "bandwidth_gb_s"]

for name, n_expert in [("llama-moe-f16", 8), ("llama-moe-q8_0", 8), ("deepseek2-v3g-f32", 16)]:
    rc, out, err = run(["-m", model(name), "--batch", "1,3,5", "--prompt", "4", "--gen", "3",
                        "--threads", "2", "--membw-mb", "8", "--reps", "2", "--json"])
    check(rc == 0, f"{name}: exit 0 ({err.strip()})")
    rows = [json.loads(l) for l in out.splitlines() if l.strip()]
    check([r["batch"] for r in rows] == [1, 3, 5], f"{name}: one object per batch size")
    for r in rows:
        b = r["batch"]
        check(all(k in r for k in REQUIRED), f"{name} b={b}: required fields")
        check(all(r[k] > 0 and math.isfinite(r[k]) for k in REQUIRED), f"{name} b={b}: positive")
        check(0 < r["distinct_experts_per_layer"] <= min(n_expert, 4 * b),
              f"{name} b={b}: distinct experts {r['distinct_experts_per_layer']} in range")
        # weight_gb_s = bytes/token * tokens/s
        gb = r["weight_bytes_per_token"] * r["decode_tok_s"] / 1e9
        check(abs(gb - r["weight_gb_s"]) <= 1e-3 * gb + 1e-9, f"{name} b={b}: GB/s consistent")
        # The fraction is the median of per-round paired ratios (2 rounds of 1 step here).
        check(r["rounds"] == 2 and r["gen"] == 2, f"{name} b={b}: 2 rounds of 1 step")
        check(0 < r["frac_of_bandwidth_min"] <= r["frac_of_bandwidth"] <= r["frac_of_bandwidth_max"],
              f"{name} b={b}: fraction of bandwidth within its rounds' range")
        check(r["frac_of_bound"] > 0, f"{name} b={b}: fraction of the bound")
        check(0 < r["moe_ms"] <= r["step_ms"] and abs(r["moe_ms"] + r["other_ms"] - r["step_ms"])
              <= 1e-3 * r["step_ms"], f"{name} b={b}: MoE share of the step")
    if len(rows) == 3:
        # Per-token bytes shrink with the batch: the non-expert weights are shared.
        check(rows[0]["weight_bytes_per_token"] > rows[2]["weight_bytes_per_token"],
              f"{name}: bytes per token fall with batch")

# JANUS_KERNELS picks the table (the JSON says which); an unknown name is reported and
# the best table used.
small = ["-m", model("llama-moe-f16"), "--batch", "1", "--prompt", "2", "--gen", "1",
         "--membw-mb", "0", "--reps", "1", "--json"]
rc, out, err = run(small, kernels="ref")
check(rc == 0 and json.loads(out.splitlines()[0])["kernels"] == "ref", "JANUS_KERNELS=ref used")
rc, out, err = run(small, kernels="no-such-table")
check(rc == 0 and "JANUS_KERNELS=no-such-table is not available" in err,
      f"unknown JANUS_KERNELS reported ({err.strip()})")
check(json.loads(out.splitlines()[0])["kernels"] in ("avx512", "avx2", "ref"), "fallback table")

rc, out, err = run(["--moe-layer", "-m", model("llama-moe-f16"), "--batch", "4", "--reps", "2",
                    "--threads", "2", "--json"])
check(rc == 0, f"moe-layer: exit 0 ({err.strip()})")
rows = [json.loads(l) for l in out.splitlines() if l.strip()]
pts = [r for r in rows if r.get("curve") == "experts" and "latency_ms" in r]
check([r["experts"] for r in pts] == list(range(1, 9)), "moe-layer: experts curve 1..E")
fits = [r for r in rows if "r2" in r]
check(len(fits) == 2 and all(r["r2"] <= 1.0 for r in fits), "moe-layer: two fits with R^2")
bpts = [r for r in rows if r.get("curve") == "batch" and "latency_ms" in r]
check([r["batch"] for r in bpts] == [1, 2, 4, 8, 16, 32, 64], "moe-layer: batch curve")

for args, what in [(["--batch", "1"], "missing -m"),
                   (["-m", model("llama-moe-f16"), "--batch", "0"], "batch 0"),
                   (["-m", model("llama-moe-f16"), "--threads", "x"], "bad threads"),
                   (["--moe-layer", "-m", model("llama-moe-f16")], "moe-layer without batch"),
                   (["-m", "/nonexistent.gguf"], "missing file"),
                   (["-m", model("llama-moe-f16"), "--bogus"], "unknown option")]:
    rc, out, err = run(args)
    lines = err.strip().splitlines()
    check(rc != 0 and len(lines) == 1 and lines[0].startswith("janus bench: "),
          f"error: {what} -> {err.strip()}")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
