#!/usr/bin/python3
"""Report of scripts/bench-xfer-hosts.sh (issue 18 item 3): reads its CSV (one row per run,
link, B and scheme), prints a markdown table of the median over runs of the measured time
per layer exchange beside the cost model's prediction, the prediction error, and the
adaptive choice's regret (chosen vs best measured), and writes a log-log SVG plot
(hand-written SVG, standard library only).
usage: bench_xfer_report.py CSV SVG
SPDX-License-Identifier: MIT"""
import csv
import math
import statistics
import sys
from collections import Counter, defaultdict

SCHEMES = ["1pc", "2pc1", "2pc2"]
NAMES = {"1pc": "1PC", "2pc1": "2PC1", "2pc2": "2PC2"}


def load(path):
    cells = defaultdict(list)  # (rate, B, scheme) -> rows
    for r in csv.DictReader(open(path)):
        cells[(r["rate"], int(r["B"]), r["scheme"])].append(r)
    if not cells:
        sys.exit("bench_xfer_report: no rows in " + path)
    return cells


def summarize(cells):
    rates = list(dict.fromkeys(k[0] for k in cells))
    out = []
    for rate in rates:
        for B in sorted({k[1] for k in cells if k[0] == rate}):
            row = {"rate": rate, "B": B, "meas": {}, "spread": {}, "pred": {}}
            chosen = Counter()
            checks = set()
            for s in SCHEMES:
                rs = cells.get((rate, B, s))
                if not rs:
                    continue
                m = [float(r["measured_us"]) for r in rs]
                row["meas"][s] = statistics.median(m)
                row["spread"][s] = (min(m), max(m))
                row["pred"][s] = statistics.median(float(r["pred_us"]) for r in rs)
                chosen.update(r["chosen"] for r in rs)
                checks.update(r["check"] for r in rs)
            row["chosen"] = chosen.most_common(1)[0][0]
            row["best"] = min(row["meas"], key=row["meas"].get)
            best = row["meas"][row["best"]]
            row["regret"] = 100.0 * (row["meas"][row["chosen"]] - best) / best
            row["check"] = "ok" if checks == {"ok"} else ",".join(sorted(checks))
            row["runs"] = len(cells[(rate, B, row["best"])])
            rs = cells[(rate, B, row["best"])]
            row["lat_us"] = statistics.median(float(r["cross_lat_us"]) for r in rs)
            row["row_bytes"] = int(rs[0]["row_bytes"])
            out.append(row)
    return out


def nominal_bps(rate):
    """Bytes/s of a tc rate such as 10gbit or 1gbit; None for "none" (unshaped)."""
    units = {"kbit": 1e3, "mbit": 1e6, "gbit": 1e9}
    for u, f in units.items():
        if rate.endswith(u):
            return float(rate[:-len(u)]) * f / 8
    return None


def table(rows, cal):
    print("| link | B | measured µs/layer: 1PC | 2PC1 | 2PC2 | predicted | error 1PC / 2PC1 / 2PC2 "
          "| at nominal rate | chosen | best | regret |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|")
    for r in rows:
        meas = []
        for s in SCHEMES:
            if s in r["meas"]:
                lo, hi = r["spread"][s]
                meas.append(f"{r['meas'][s]:.0f} ({lo:.0f}–{hi:.0f})")
            else:
                meas.append("–")
        preds = sorted({round(v, 1) for v in r["pred"].values()})
        pred = " / ".join(f"{v:.0f}" for v in preds)
        err = " / ".join(f"{100 * (r['pred'][s] - r['meas'][s]) / r['meas'][s]:+.0f} %"
                         for s in SCHEMES if s in r["meas"])
        bps = nominal_bps(r["rate"])
        nom = "–"
        if bps:  # (1,1): the model is 2 (lat + B row_bytes / rate), one message each way
            p = 2 * (r["lat_us"] + r["B"] * r["row_bytes"] / bps * 1e6)
            nom = f"{p:.0f} ({100 * (p - r['meas']['1pc']) / r['meas']['1pc']:+.0f} %)"
        print(f"| {r['rate']} | {r['B']} | {' | '.join(meas)} | {pred} | {err} | {nom} | "
              f"{NAMES[r['chosen']]} | {NAMES[r['best']]} | {r['regret']:.1f} % |")
    print()
    for rate, c in cal.items():
        lat = [float(x[0]) for x in c]
        bw = [float(x[1]) for x in c]
        print(f"- {rate}: calibrated cross-node link, per run: "
              + ", ".join(f"{a:.1f} µs + {b:.2f} GB/s" for a, b in zip(lat, bw)))
    # What the exchange really costs per byte: least squares of the 1PC medians for B >= 16
    # against the (1,1) model 2 (lat + B row_bytes / bw) (relative errors), and its worst error.
    for rate in dict.fromkeys(r["rate"] for r in rows):
        pts = [(r["B"] * r["row_bytes"], r["meas"]["1pc"] / 2) for r in rows
               if r["rate"] == rate and r["B"] >= 16 and "1pc" in r["meas"]]
        if len(pts) < 2:
            continue
        # weights 1/y^2: relative errors, so the small B count as much as the large
        w = [1 / (y * y) for _, y in pts]
        sw = sum(w)
        mx = sum(wi * b for wi, (b, _) in zip(w, pts)) / sw
        my = sum(wi * y for wi, (_, y) in zip(w, pts)) / sw
        sxx = sum(wi * (b - mx) ** 2 for wi, (b, _) in zip(w, pts))
        slope = sum(wi * (b - mx) * (y - my) for wi, (b, y) in zip(w, pts)) / sxx
        lat = my - slope * mx
        worst = max(abs(100 * (2 * (lat + b * slope) - 2 * y) / (2 * y)) for b, y in pts)
        print(f"- {rate}: fitted to the 1PC medians (B ≥ 16): {lat:.0f} µs + "
              f"{1e-3 / slope:.2f} GB/s per direction; that model's worst error {worst:.0f} %")
    b16 = [abs(100 * (r["pred"][s] - r["meas"][s]) / r["meas"][s])
           for r in rows if r["B"] >= 16 for s in r["meas"]]
    if b16:
        print(f"- prediction error for B ≥ 16: median {statistics.median(b16):.0f} %, "
              f"worst {max(b16):.0f} % (goal 25 %)")
    print(f"- regret of the adaptive choice: worst {max(r['regret'] for r in rows):.1f} % "
          "(goal 10 %)")


def svg(rows, path):
    W, H, L, R, T, Bm = 820, 480, 70, 240, 30, 50
    xs = [r["B"] for r in rows]
    ys = [v for r in rows for v in list(r["meas"].values()) + list(r["pred"].values())]
    for r in rows:
        if nominal_bps(r["rate"]):
            ys.append(2 * (r["lat_us"] + r["B"] * r["row_bytes"] / nominal_bps(r["rate"]) * 1e6))
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    x1 = x1 if x1 > x0 else x0 + 1

    def px(v):
        return L + (math.log10(v) - x0) / (x1 - x0) * (W - L - R)

    def py(v):
        return H - Bm - (math.log10(v) - y0) / (y1 - y0) * (H - T - Bm)

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>']
    for e in range(y0, y1 + 1):
        y = py(10 ** e)
        o.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g}</text>')
    for B in sorted(set(xs)):
        x = px(B)
        o.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - Bm}" stroke="#eee"/>')
        o.append(f'<text x="{x:.1f}" y="{H - Bm + 16}" text-anchor="middle">{B}</text>')
    o.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">batch size B '
             '(rows of the step)</text>')
    o.append(f'<text x="16" y="{(T + H - Bm) / 2}" text-anchor="middle" '
             f'transform="rotate(-90 16 {(T + H - Bm) / 2})">µs per layer exchange</text>')
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    dashes = {"1pc": "", "2pc1": "6,3", "2pc2": "2,2"}
    marks = {"1pc": "circle", "2pc1": "square", "2pc2": "diamond"}
    leg = []
    for ci, rate in enumerate(dict.fromkeys(r["rate"] for r in rows)):
        col = colors[ci % len(colors)]
        rr = [r for r in rows if r["rate"] == rate]
        for s in SCHEMES:
            pts = [(px(r["B"]), py(r["meas"][s])) for r in rr if s in r["meas"]]
            if not pts:
                continue
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            da = f' stroke-dasharray="{dashes[s]}"' if dashes[s] else ""
            o.append(f'<polyline points="{d}" fill="none" stroke="{col}" stroke-width="1.5"{da}/>')
            for x, y in pts:
                if marks[s] == "circle":
                    o.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{col}"/>')
                elif marks[s] == "square":
                    o.append(f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" '
                             f'fill="none" stroke="{col}"/>')
                else:
                    o.append(f'<path d="M{x:.1f},{y - 4:.1f} l4,4 l-4,4 l-4,-4 z" fill="none" '
                             f'stroke="{col}"/>')
            leg.append((col, dashes[s], f"{rate} {NAMES[s]} measured", marks[s]))
        pred = [(px(r["B"]), py(r["pred"]["1pc"])) for r in rr if "1pc" in r["pred"]]
        if pred:
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in pred)
            o.append(f'<polyline points="{d}" fill="none" stroke="{col}" stroke-width="4" '
                     f'stroke-opacity="0.3"/>')
            leg.append((col, "pred", f"{rate} predicted (calibrated)", None))
        bps = nominal_bps(rate)
        if bps:
            nom = [(px(r["B"]), py(2 * (r["lat_us"] + r["B"] * r["row_bytes"] / bps * 1e6)))
                   for r in rr]
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in nom)
            o.append(f'<polyline points="{d}" fill="none" stroke="{col}" stroke-width="1" '
                     'stroke-dasharray="1,4"/>')
            leg.append((col, "1,4", f"{rate} model at the nominal rate", None))
    for i, (col, da, label, _) in enumerate(leg):
        y = T + 10 + 18 * i
        x = W - R + 10
        if da == "pred":
            o.append(f'<line x1="{x}" y1="{y}" x2="{x + 24}" y2="{y}" stroke="{col}" '
                     f'stroke-width="4" stroke-opacity="0.3"/>')
        else:
            dd = f' stroke-dasharray="{da}"' if da else ""
            o.append(f'<line x1="{x}" y1="{y}" x2="{x + 24}" y2="{y}" stroke="{col}"{dd}/>')
        o.append(f'<text x="{x + 30}" y="{y + 4}">{label}</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - Bm}" fill="none" '
             'stroke="#333"/>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench_xfer_report.py CSV SVG")
    cells = load(sys.argv[1])
    cal = defaultdict(list)
    seen = set()
    for rs in cells.values():
        for r in rs:
            if (r["rate"], r["run"]) not in seen:
                seen.add((r["rate"], r["run"]))
                cal[r["rate"]].append((r["cross_lat_us"], r["cross_gbps"]))
    rows = summarize(cells)
    table(rows, cal)
    svg(rows, sys.argv[2])


if __name__ == "__main__":
    main()
