#!/usr/bin/env python3
# Summarises several `make bench` runs (docs/PERFORMANCE.md): medians (and min..max) per
# model type and batch size of the decode JSON lines, and per-point medians of the MoE-layer
# curves with a least-squares fit on the medians. Prints Markdown tables.
# Usage: scripts/bench-report.py RESULTS_DIR [STAMP_PREFIX ...] (stamps select runs).
# SPDX-License-Identifier: MIT
import glob
import json
import os
import re
import statistics
import sys

d = sys.argv[1]
stamps = sys.argv[2:]


def pick(paths):
    return sorted(p for p in paths if not stamps or any(s in p for s in stamps))


def med(v):
    return statistics.median(v)


def fit(xs, ys):
    n = len(xs)
    sx, sy = sum(xs), sum(ys)
    sxx = sum(x * x for x in xs)
    sxy = sum(x * y for x, y in zip(xs, ys))
    b = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    c = (sy - b * sx) / n
    my = sy / n
    ss_res = sum((y - (b * x + c)) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return b, c, 1 - ss_res / ss_tot if ss_tot > 0 else 1.0


for t in ["f16", "q8_0"]:
    files = pick(glob.glob(os.path.join(d, f"decode-{t}-*.jsonl")))
    rows = [json.loads(l) for f in files for l in open(f) if l.strip()]
    rows = [r for r in rows if r.get("threads") == int(os.environ.get("THREADS", "2"))]
    if not rows:
        continue
    print(f"\n### decode {t}: {len(files)} runs, threads {rows[0]['threads']}\n")
    print("| batch | decode tok/s | median step ms | prompt tok/s | MB/token | weight GB/s | "
          "read GB/s | of bandwidth | bw-bound tok/s | of bound | compute GMAC/s | "
          "compute-bound tok/s | experts/layer |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for b in sorted({r["batch"] for r in rows}):
        rs = [r for r in rows if r["batch"] == b]

        def f(k, scale=1.0, fmt="{:.1f}", rng=False):
            v = [r[k] * scale for r in rs]
            s = fmt.format(med(v))
            if rng and len(v) > 1:
                s += " (" + fmt.format(min(v)) + "–" + fmt.format(max(v)) + ")"
            return s

        print(f"| {b} | {f('decode_tok_s', rng=True)} | {f('step_ms_median')} | "
              f"{f('prompt_tok_s')} | {f('weight_bytes_per_token', 1e-6)} | "
              f"{f('weight_gb_s', fmt='{:.2f}')} | {f('bandwidth_gb_s', rng=True)} | "
              f"{f('frac_of_bandwidth', 100, '{:.0f}', rng=True)} % | {f('bound_tok_s')} | "
              f"{f('frac_of_bound', 100, '{:.0f}')} % | {f('compute_gmacs')} | "
              f"{f('compute_bound_tok_s')} | {f('distinct_experts_per_layer', fmt='{:.2f}')} |")

    mfiles = pick(glob.glob(os.path.join(d, f"moe-layer-{t}-*.txt")))
    curves = {"experts": {}, "batch": {}}
    for fpath in mfiles:
        cur = None
        for line in open(fpath):
            if line.startswith("curve 1"):
                cur = "experts"
            elif line.startswith("curve 2"):
                cur = "batch"
            m = re.match(r"\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s*$", line)
            if cur and m:
                curves[cur].setdefault(int(m.group(1)), []).append(float(m.group(2)))
    for name, pts in curves.items():
        if not pts:
            continue
        xs = sorted(pts)
        ys = [med(pts[x]) for x in xs]
        b, c, r2 = fit(xs, ys)
        label = "distinct experts a (batch 4)" if name == "experts" else "batch (4 experts)"
        print(f"\n#### MoE layer {t}: latency vs {label}, median of {len(mfiles)} runs × 5\n")
        print(f"| {name} | " + " | ".join(str(x) for x in xs) + " |")
        print("|---|" + "---|" * len(xs))
        print("| ms | " + " | ".join(f"{y:.2f}" for y in ys) + " |")
        print(f"\nfit: latency = {b:.4f} ms × {name} + {c:.3f} ms, R² = {r2:.4f}")
