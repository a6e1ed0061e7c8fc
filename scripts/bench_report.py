#!/usr/bin/env python3
# Prints `janus bench --json` results (scripts/bench.sh keeps them in $JANUS_BENCH_DIR/results):
#   bench_report.py decode FILE.jsonl      one decode run as a table
#   bench_report.py moe FILE.jsonl         one --moe-layer run: both curves and their fits
#   bench_report.py summary DIR TYPE [--svg OUT]
#                                          medians (min-max) over every run of TYPE in DIR, as
#                                          the Markdown tables of docs/PERFORMANCE.md; --svg
#                                          draws the latency-vs-experts curve of those runs.
# Only reads and formats numbers; nothing here measures or judges a speed.
# SPDX-License-Identifier: MIT
import glob
import json
import os
import statistics
import sys


def rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def print_decode(path):
    rs = rows(path)
    r0 = rs[0]
    print(f"kernels {r0['kernels']}, {r0['threads']} threads, prompt {r0['prompt']}, gen {r0['gen']} "
          f"in {r0['rounds']} rounds, each after 3 bandwidth passes (read / triad GB/s: medians); "
          "'of bw' and 'of bound' are medians of the rounds' paired ratios (of bw: min-max)")
    print(f"{'batch':>5} {'prompt tok/s':>12} {'decode tok/s':>12} {'median step ms':>14} "
          f"{'MoE ms':>7} {'MB/token':>9} {'GB/s':>6} {'read/triad':>11} {'of bw (min-max)':>16} "
          f"{'experts/layer':>13} {'bound tok/s':>11} {'of bound':>8} {'GMAC/s':>7} "
          f"{'compute bound':>13}")
    for r in rs:
        bw = f"{100*r['frac_of_bandwidth']:.1f}% ({100*r['frac_of_bandwidth_min']:.0f}-" \
             f"{100*r['frac_of_bandwidth_max']:.0f})"
        print(f"{r['batch']:>5} {r['prompt_tok_s']:>12.1f} {r['decode_tok_s']:>12.2f} "
              f"{r['step_ms_median']:>14.2f} {r['moe_ms']:>7.2f} {r['weight_bytes_per_token']/1e6:>9.2f} "
              f"{r['weight_gb_s']:>6.2f} {r['bandwidth_gb_s']:>5.2f}/{r['triad_gb_s']:<5.2f} "
              f"{bw:>16} {r['distinct_experts_per_layer']:>13.2f} {r['bound_tok_s']:>11.2f} "
              f"{100*r['frac_of_bound']:>7.1f}% {r['compute_gmacs']:>7.1f} "
              f"{r['compute_bound_tok_s']:>13.2f}")


def curves(rs):
    ex = [r for r in rs if r["curve"] == "experts" and "experts" in r and "latency_ms" in r]
    bt = [r for r in rs if r["curve"] == "batch" and "latency_ms" in r]
    fits = {r["curve"]: r for r in rs if "r2" in r}
    return ex, bt, fits


def print_moe(path):
    ex, bt, fits = curves(rows(path))
    print(f"curve 1: latency vs distinct activated experts (batch {ex[0]['batch']})")
    print(f"{'experts':>8} {'latency ms':>11} {'GB/s':>7}")
    for r in ex:
        print(f"{r['experts']:>8} {r['latency_ms']:>11.3f} {r['gb_s']:>7.2f}")
    f = fits["experts"]
    print(f"fit: {f['fit_beta_ms']:.4f} ms x experts + {f['fit_c_ms']:.3f} ms, R^2 = {f['r2']:.4f}")
    print(f"curve 2: latency vs batch ({bt[0]['experts']} activated experts)")
    print(f"{'batch':>8} {'latency ms':>11}")
    for r in bt:
        print(f"{r['batch']:>8} {r['latency_ms']:>11.3f}")
    f = fits["batch"]
    print(f"fit: {f['fit_beta_ms']:.4f} ms x batch + {f['fit_c_ms']:.3f} ms, R^2 = {f['r2']:.4f}")


def med(v):
    return statistics.median(v)


def span(v, fmt):
    return f"{fmt.format(med(v))} ({fmt.format(min(v))}–{fmt.format(max(v))})"


def summary(d, typ, svg):
    dec = sorted(glob.glob(os.path.join(d, f"decode-{typ}-*.jsonl")))
    moe = sorted(glob.glob(os.path.join(d, f"moe-layer-{typ}-*.jsonl")))
    if not dec:
        sys.exit(f"bench_report: no decode-{typ}-*.jsonl in {d}")
    runs = [rows(p) for p in dec]
    print(f"{len(runs)} runs: {', '.join(os.path.basename(p) for p in dec)}\n")
    print("| batch | decode tok/s | median step ms | of which MoE ms | MB/token | weight GB/s | "
          "read GB/s | of bandwidth | bw-bound tok/s | of bound | GMAC/s | compute-bound tok/s | "
          "experts/layer |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for b in sorted({r["batch"] for run in runs for r in run}):
        at = [r for run in runs for r in run if r["batch"] == b]
        g = lambda k: [r[k] for r in at]
        print(f"| {b} | {span(g('decode_tok_s'), '{:.1f}')} | {med(g('step_ms_median')):.1f} | "
              f"{med(g('moe_ms')):.1f} | "
              f"{med(g('weight_bytes_per_token'))/1e6:.1f} | {med(g('weight_gb_s')):.2f} | "
              f"{span(g('bandwidth_gb_s'), '{:.1f}')} | "
              f"**{100*med(g('frac_of_bandwidth')):.0f} %** ({100*min(g('frac_of_bandwidth')):.0f}–"
              f"{100*max(g('frac_of_bandwidth')):.0f} %) | {med(g('bound_tok_s')):.1f} | "
              f"**{100*med(g('frac_of_bound')):.0f} %** | {med(g('compute_gmacs')):.1f} | "
              f"{med(g('compute_bound_tok_s')):.1f} | {med(g('distinct_experts_per_layer')):.2f} |")
    if not moe:
        return
    ms = [curves(rows(p)) for p in moe]
    print(f"\nMoE layer, {len(ms)} runs (median latency ms of the runs' medians)\n")
    xs = [r["experts"] for r in ms[0][0]]
    lat = [med([m[0][i]["latency_ms"] for m in ms]) for i in range(len(xs))]
    print("| experts | " + " | ".join(str(x) for x in xs) + " |")
    print("|---|" + "---|" * len(xs))
    print("| ms | " + " | ".join(f"{v:.2f}" for v in lat) + " |")
    fit = lambda m, c: m[2][c]
    print(f"\nfit per run: " + "; ".join(
        f"β = {fit(m, 'experts')['fit_beta_ms']:.3f} ms, c = {fit(m, 'experts')['fit_c_ms']:.2f} ms, "
        f"R² = {fit(m, 'experts')['r2']:.3f}" for m in ms))
    bs = [r["batch"] for r in ms[0][1]]
    blat = [med([m[1][i]["latency_ms"] for m in ms]) for i in range(len(bs))]
    print(f"\n| batch | " + " | ".join(str(b) for b in bs) + " |")
    print("|---|" + "---|" * len(bs))
    print("| ms | " + " | ".join(f"{v:.2f}" for v in blat) + " |")
    print(f"\nfit per run: " + "; ".join(
        f"β = {fit(m, 'batch')['fit_beta_ms']:.3f} ms, c = {fit(m, 'batch')['fit_c_ms']:.2f} ms, "
        f"R² = {fit(m, 'batch')['r2']:.4f}" for m in ms))
    if svg:
        write_svg(svg, xs, ms, ms[0][0][0]["batch"], typ)


def write_svg(out, xs, ms, batch, typ):
    W, H, L, R, T, B = 640, 400, 60, 20, 30, 50
    ymax = max(r["latency_ms"] for m in ms for r in m[0]) * 1.1
    px = lambda x: L + (x / max(xs)) * (W - L - R)
    py = lambda y: H - B - (y / ymax) * (H - T - B)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         'font-family="sans-serif" font-size="12">', f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2}" y="18" text-anchor="middle" font-size="14">MoE layer latency vs distinct '
         f'activated experts ({typ.upper()}, batch {batch}, 2 threads)</text>',
         f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>']
    for x in range(0, max(xs) + 1, 2):
        o.append(f'<text x="{px(x):.1f}" y="{H-B+16}" text-anchor="middle">{x}</text>')
    step = 1 if ymax < 12 else 2
    y = 0
    while y <= ymax:
        o.append(f'<text x="{L-6}" y="{py(y)+4:.1f}" text-anchor="end">{y}</text>')
        o.append(f'<line x1="{L}" y1="{py(y):.1f}" x2="{W-R}" y2="{py(y):.1f}" stroke="#ddd"/>')
        y += step
    o.append(f'<text x="{W/2}" y="{H-12}" text-anchor="middle">distinct activated experts</text>')
    o.append(f'<text x="16" y="{H/2}" text-anchor="middle" transform="rotate(-90 16 {H/2})">'
             'latency (ms)</text>')
    for i, m in enumerate(ms):
        for r in m[0]:
            o.append(f'<circle cx="{px(r["experts"]):.1f}" cy="{py(r["latency_ms"]):.1f}" r="3" '
                     f'fill="#1f77b4" fill-opacity="0.6"/>')
    f = [m[2]["experts"] for m in ms]
    beta = med([x["fit_beta_ms"] for x in f])
    c = med([x["fit_c_ms"] for x in f])
    o.append(f'<line x1="{px(0):.1f}" y1="{py(c):.1f}" x2="{px(max(xs)):.1f}" '
             f'y2="{py(c + beta*max(xs)):.1f}" stroke="#d62728"/>')
    o.append(f'<text x="{L+10}" y="{T+14}" fill="#d62728">fit (median of {len(ms)} runs): '
             f'{beta:.3f} ms × experts + {c:.2f} ms</text>')
    o.append("</svg>")
    with open(out, "w") as fh:
        fh.write("\n".join(o) + "\n")


def main(a):
    if len(a) == 2 and a[0] == "decode":
        print_decode(a[1])
    elif len(a) == 2 and a[0] == "moe":
        print_moe(a[1])
    elif len(a) in (3, 5) and a[0] == "summary":
        summary(a[1], a[2], a[4] if len(a) == 5 and a[3] == "--svg" else None)
    else:
        sys.exit(__doc__ if __doc__ else "usage: bench_report.py decode|moe FILE | summary DIR TYPE "
                 "[--svg OUT]")


if __name__ == "__main__":
    main(sys.argv[1:])
