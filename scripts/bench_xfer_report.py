#!/usr/bin/python3
"""Report of scripts/bench-xfer-hosts.sh (issue 18 item 3): reads its CSV (one row per
deployment, link, run, B, dispatch mode and scheme) and prints markdown tables of the median
over runs of the measured time per layer exchange beside the cost model's prediction, the
prediction error, the bytes moved, and the adaptive choice's regret (chosen vs best
measured: per mode the scheme, with both modes the (scheme, mode) pair); writes log-log SVG
plots (hand-written SVG, standard library only): broadcast, and selective against broadcast.
Deployment "1+1" is the timed one; "1+2" ran 3 busy ranks on 2 cores (indicative only).
usage: bench_xfer_report.py CSV SVG [SVG_SELECTIVE]
       bench_xfer_report.py --rows LOG DEPLOY RATE RUN LOAD ROW_BYTES   (CSV rows of one
       `janus xfer-bench` output, both modes timed; --header: the CSV header line)
SPDX-License-Identifier: MIT"""
import csv
import math
import statistics
import sys
from collections import Counter, defaultdict

SCHEMES = ["1pc", "2pc1", "2pc2"]
MODES = ["broadcast", "selective"]
NAMES = {"1pc": "1PC", "2pc1": "2PC1", "2pc2": "2PC2"}
MNAMES = {"broadcast": "bc", "selective": "sel"}


def pair_name(p):
    s, m = p.split("/")
    return f"{NAMES[s]} {MNAMES[m]}"


def load(path):
    cells = defaultdict(list)  # (deploy, rate, B, mode, scheme) -> rows
    for r in csv.DictReader(open(path)):
        r.setdefault("deploy", "1+1")  # CSVs of the broadcast-only sweep
        r.setdefault("mode", "broadcast")
        cells[(r["deploy"] or "1+1", r["rate"], int(r["B"]), r["mode"] or "broadcast",
               r["scheme"])].append(r)
    if not cells:
        sys.exit("bench_xfer_report: no rows in " + path)
    return cells


def med(rs, key):
    return statistics.median(float(r[key]) for r in rs)


def summarize(cells):
    """One row per (deploy, rate, B): medians over runs per (mode, scheme) and the choices."""
    keys = list(dict.fromkeys((k[0], k[1]) for k in cells))
    out = []
    for deploy, rate in keys:
        for B in sorted({k[2] for k in cells if k[:2] == (deploy, rate)}):
            row = {"deploy": deploy, "rate": rate, "B": B, "meas": {}, "spread": {}, "pred": {},
                   "route": {}, "bytes": {}, "fanout": {}, "fanout_model": {}}
            chosen = defaultdict(Counter)
            pair = Counter()
            checks = set()
            for m in MODES:
                for s in SCHEMES:
                    rs = cells.get((deploy, rate, B, m, s))
                    if not rs:
                        continue
                    v = [float(r["measured_us"]) for r in rs]
                    row["meas"][(m, s)] = statistics.median(v)
                    row["spread"][(m, s)] = (min(v), max(v))
                    row["pred"][(m, s)] = med(rs, "pred_us")
                    if "route_us" in rs[0]:
                        row["route"][(m, s)] = med(rs, "route_us")
                        row["bytes"][(m, s)] = med(rs, "bytes")
                        row["fanout"][(m, s)] = med(rs, "fanout")
                        row["fanout_model"][(m, s)] = med(rs, "fanout_model")
                    chosen[m].update(r["chosen"] for r in rs)
                    pair.update(r["pair_chosen"] for r in rs if r.get("pair_chosen"))
                    checks.update(r["check"] for r in rs)
            row["modes"] = [m for m in MODES if any(k[0] == m for k in row["meas"])]
            row["chosen"], row["best"], row["regret"] = {}, {}, {}
            for m in row["modes"]:
                cm = {s: v for (mm, s), v in row["meas"].items() if mm == m}
                c = chosen[m].most_common(1)[0][0]
                b = min(cm, key=cm.get)
                row["chosen"][m], row["best"][m] = c, b
                row["regret"][m] = 100.0 * (cm[c] - cm[b]) / cm[b] if c in cm else float("nan")
            row["pair"] = None
            if pair and len(row["modes"]) == 2:
                c = pair.most_common(1)[0][0]
                cs, cmode = c.split("/")
                bk = min(row["meas"], key=row["meas"].get)
                best = row["meas"][bk]
                reg = (100.0 * (row["meas"][(cmode, cs)] - best) / best
                       if (cmode, cs) in row["meas"] else float("nan"))
                row["pair"] = (c, f"{bk[1]}/{bk[0]}", reg)
            row["check"] = "ok" if checks == {"ok"} else ",".join(sorted(checks))
            any_rs = next(cells[k] for k in cells if k[:3] == (deploy, rate, B))
            row["lat_us"] = med(any_rs, "cross_lat_us")
            row["row_bytes"] = int(any_rs[0]["row_bytes"])
            row["runs"] = len(any_rs)
            out.append(row)
    return out


def nominal_bps(rate):
    """Bytes/s of a tc rate such as 10gbit or 1gbit; None for "none" (unshaped)."""
    units = {"kbit": 1e3, "mbit": 1e6, "gbit": 1e9}
    for u, f in units.items():
        if rate.endswith(u):
            return float(rate[:-len(u)]) * f / 8
    return None


def fmt_meas(r, m, s):
    if (m, s) not in r["meas"]:
        return "–"
    lo, hi = r["spread"][(m, s)]
    return f"{r['meas'][(m, s)]:.0f} ({lo:.0f}–{hi:.0f})"


def err(r, m, s):
    return 100 * (r["pred"][(m, s)] - r["meas"][(m, s)]) / r["meas"][(m, s)]


def pred_err(r, m):
    """Mode m's distinct predictions and the error of each scheme measured, as table cells."""
    preds = sorted({round(v, 1) for (mm, _), v in r["pred"].items() if mm == m})
    return (" / ".join(f"{v:.0f}" for v in preds),
            " / ".join(f"{err(r, m, s):+.0f} %" for s in SCHEMES if (m, s) in r["meas"]))


def table_broadcast(rows):
    print("| link | B | measured µs/layer: 1PC | 2PC1 | 2PC2 | predicted | error 1PC / 2PC1 / 2PC2 "
          "| at nominal rate | chosen | best | regret |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|")
    m = "broadcast"
    for r in rows:
        if m not in r["modes"]:
            continue
        pred, e = pred_err(r, m)
        bps = nominal_bps(r["rate"])
        nom = "–"
        if bps and (m, "1pc") in r["meas"]:  # (1,1): 2 (lat + B row_bytes / rate), 1 msg each way
            p = 2 * (r["lat_us"] + r["B"] * r["row_bytes"] / bps * 1e6)
            nom = f"{p:.0f} ({100 * (p - r['meas'][(m, '1pc')]) / r['meas'][(m, '1pc')]:+.0f} %)"
        print(f"| {r['rate']} | {r['B']} | {' | '.join(fmt_meas(r, m, s) for s in SCHEMES)} | "
              f"{pred} | {e} | {nom} | {NAMES[r['chosen'][m]]} | {NAMES[r['best'][m]]} | "
              f"{r['regret'][m]:.1f} % |")
    print()


def table_selective(rows):
    print("| link | B | selective µs/layer: 1PC | 2PC1 | 2PC2 | predicted | error 1PC / 2PC1 / 2PC2 "
          "| sel − bc (1PC): measured / predicted | bytes sel / bc | chosen pair | best pair "
          "| regret |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|")
    m = "selective"
    for r in rows:
        if m not in r["modes"]:
            continue
        pred, e = pred_err(r, m)
        extra = by = "–"
        if ("broadcast", "1pc") in r["meas"] and (m, "1pc") in r["meas"]:
            extra = (f"{r['meas'][(m, '1pc')] - r['meas'][('broadcast', '1pc')]:+.0f} / "
                     f"{r['pred'][(m, '1pc')] - r['pred'][('broadcast', '1pc')]:+.0f}")
            by = f"{r['bytes'][(m, '1pc')] / r['bytes'][('broadcast', '1pc')]:.3f}"
        pc, pb, reg = r["pair"] if r["pair"] else ("–", "–", float("nan"))
        print(f"| {r['rate']} | {r['B']} | {' | '.join(fmt_meas(r, m, s) for s in SCHEMES)} | "
              f"{pred} | {e} | {extra} | {by} | "
              f"{pair_name(pc) if r['pair'] else '–'} | {pair_name(pb) if r['pair'] else '–'} | "
              f"{reg:.1f} % |")
    print()


def table_indicative(rows):
    print("| link | B | broadcast µs/layer: 1PC | 2PC1 | 2PC2 | selective: 1PC | 2PC1 | 2PC2 | "
          "bytes sel / bc: 1PC | 2PC1 | 2PC2 | instances per row (model) | chosen pair | "
          "best pair | regret |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|")
    for r in rows:
        meas = [f"{r['meas'][(m, s)]:.0f}" if (m, s) in r["meas"] else "–"
                for m in MODES for s in SCHEMES]
        by = [f"{r['bytes'][('selective', s)] / r['bytes'][('broadcast', s)]:.3f}"
              if ("selective", s) in r["bytes"] and ("broadcast", s) in r["bytes"] else "–"
              for s in SCHEMES]
        fo = "–"
        if ("selective", "1pc") in r["fanout"]:
            fo = f"{r['fanout'][('selective', '1pc')]:.2f} ({r['fanout_model'][('selective', '1pc')]:.2f})"
        pc, pb, reg = r["pair"] if r["pair"] else ("–", "–", float("nan"))
        print(f"| {r['rate']} | {r['B']} | {' | '.join(meas)} | {' | '.join(by)} | {fo} | "
              f"{pair_name(pc) if r['pair'] else '–'} | {pair_name(pb) if r['pair'] else '–'} | "
              f"{reg:.1f} % |")
    print()


def fit_lines(rows):
    # What the exchange really costs per byte: least squares of the broadcast 1PC medians for
    # B >= 16 against the (1,1) model 2 (lat + B row_bytes / bw) (relative errors).
    for rate in dict.fromkeys(r["rate"] for r in rows):
        pts = [(r["B"] * r["row_bytes"], r["meas"][("broadcast", "1pc")] / 2) for r in rows
               if r["rate"] == rate and r["B"] >= 16 and ("broadcast", "1pc") in r["meas"]]
        if len(pts) < 2:
            continue
        w = [1 / (y * y) for _, y in pts]  # weights 1/y^2: relative errors
        sw = sum(w)
        mx = sum(wi * b for wi, (b, _) in zip(w, pts)) / sw
        my = sum(wi * y for wi, (_, y) in zip(w, pts)) / sw
        sxx = sum(wi * (b - mx) ** 2 for wi, (b, _) in zip(w, pts))
        slope = sum(wi * (b - mx) * (y - my) for wi, (b, y) in zip(w, pts)) / sxx
        lat = my - slope * mx
        worst = max(abs(100 * (2 * (lat + b * slope) - 2 * y) / (2 * y)) for b, y in pts)
        print(f"- {rate}: fitted to the broadcast 1PC medians (B ≥ 16): {lat:.0f} µs + "
              f"{1e-3 / slope:.2f} GB/s per direction; that model's worst error {worst:.0f} %")


def summary(rows, label):
    for m in MODES:
        e = [abs(err(r, m, s)) for r in rows if r["B"] >= 16 for s in SCHEMES
             if (m, s) in r["meas"]]
        if e:
            print(f"- {label}, {m}: prediction error for B ≥ 16: median {statistics.median(e):.0f} %, "
                  f"worst {max(e):.0f} % (goal 25 %)")
        reg = [r["regret"][m] for r in rows if m in r["regret"] and not math.isnan(r["regret"][m])]
        if reg:
            print(f"- {label}, {m}: regret of the scheme choice: worst {max(reg):.1f} % "
                  f"(goal 10 %); above 10 % in {sum(x > 10 for x in reg)} of {len(reg)} rows")
    reg = [r["pair"][2] for r in rows if r["pair"] and not math.isnan(r["pair"][2])]
    if reg:
        sel = sum(r["pair"][0].endswith("/selective") for r in rows if r["pair"])
        bsel = sum(r["pair"][1].endswith("/selective") for r in rows if r["pair"])
        print(f"- {label}: regret of the (scheme, mode) choice: median "
              f"{statistics.median(reg):.1f} %, worst {max(reg):.1f} % (goal 10 %); above 10 % "
              f"in {sum(x > 10 for x in reg)} of {len(reg)} rows; selective chosen in {sel}, "
              f"measured best in {bsel}")


def plot(path, series, title):
    """series: dicts with label, color, style ('line', 'pred', 'nominal'), dash, mark, pts."""
    W, H, L, R, T, Bm = 860, 500, 70, 280, 40, 50
    xs = [b for s in series for b, _ in s["pts"]]
    ys = [y for s in series for _, y in s["pts"]]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1

    def px(v):
        return L + (math.log10(v) - x0) / (x1 - x0) * (W - L - R)

    def py(v):
        return H - Bm - (math.log10(v) - y0) / (y1 - y0) * (H - T - Bm)

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="{T - 14}" font-size="13">{title}</text>']
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
    for i, s in enumerate(series):
        col = s["color"]
        pts = [(px(b), py(y)) for b, y in s["pts"]]
        d = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        if s["style"] == "pred":
            attr = 'stroke-width="4" stroke-opacity="0.3"'
        elif s["style"] == "nominal":
            attr = 'stroke-width="1" stroke-dasharray="1,4"'
        else:
            attr = 'stroke-width="1.5"' + (f' stroke-dasharray="{s["dash"]}"' if s["dash"] else "")
        o.append(f'<polyline points="{d}" fill="none" stroke="{col}" {attr}/>')
        for x, y in pts if s["style"] == "line" else []:
            if s["mark"] == "circle":
                o.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{col}"/>')
            elif s["mark"] == "square":
                o.append(f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" '
                         f'fill="none" stroke="{col}"/>')
            else:
                o.append(f'<path d="M{x:.1f},{y - 4:.1f} l4,4 l-4,4 l-4,-4 z" fill="none" '
                         f'stroke="{col}"/>')
        ly, lx = T + 10 + 18 * i, W - R + 10
        o.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" stroke="{col}" {attr}/>')
        o.append(f'<text x="{lx + 30}" y="{ly + 4}">{s["label"]}</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - Bm}" fill="none" '
             'stroke="#333"/>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
DASHES = {"1pc": "", "2pc1": "6,3", "2pc2": "2,2"}
MARKS = {"1pc": "circle", "2pc1": "square", "2pc2": "diamond"}


def series_broadcast(rows):
    out = []
    for ci, rate in enumerate(dict.fromkeys(r["rate"] for r in rows)):
        col = COLORS[ci % len(COLORS)]
        rr = [r for r in rows if r["rate"] == rate]
        for s in SCHEMES:
            pts = [(r["B"], r["meas"][("broadcast", s)]) for r in rr if ("broadcast", s) in r["meas"]]
            if pts:
                out.append({"label": f"{rate} {NAMES[s]} measured", "color": col, "style": "line",
                            "dash": DASHES[s], "mark": MARKS[s], "pts": pts})
        pts = [(r["B"], r["pred"][("broadcast", "1pc")]) for r in rr
               if ("broadcast", "1pc") in r["pred"]]
        if pts:
            out.append({"label": f"{rate} predicted (calibrated)", "color": col, "style": "pred",
                        "dash": "", "mark": None, "pts": pts})
        bps = nominal_bps(rate)
        if bps:
            pts = [(r["B"], 2 * (r["lat_us"] + r["B"] * r["row_bytes"] / bps * 1e6)) for r in rr]
            out.append({"label": f"{rate} model at the nominal rate", "color": col,
                        "style": "nominal", "dash": "", "mark": None, "pts": pts})
    return out


def series_selective(rows):
    out = []
    for ci, rate in enumerate(dict.fromkeys(r["rate"] for r in rows)):
        col = COLORS[ci % len(COLORS)]
        rr = [r for r in rows if r["rate"] == rate]
        for m, s, dash, mark in (("broadcast", "1pc", "", "circle"),
                                 ("selective", "1pc", "6,3", "square"),
                                 ("selective", "2pc2", "2,2", "diamond")):
            pts = [(r["B"], r["meas"][(m, s)]) for r in rr if (m, s) in r["meas"]]
            if pts:
                out.append({"label": f"{rate} {NAMES[s]} {m} measured", "color": col,
                            "style": "line", "dash": dash, "mark": mark, "pts": pts})
        pts = [(r["B"], r["pred"][("selective", "1pc")]) for r in rr
               if ("selective", "1pc") in r["pred"]]
        if pts:
            out.append({"label": f"{rate} 1PC selective predicted", "color": col,
                        "style": "pred", "dash": "", "mark": None, "pts": pts})
    return out


HEADER = ("deploy,rate,B,scheme,mode,run,measured_us,min_us,pred_us,route_us,bytes,cross_bytes,"
          "fanout,fanout_model,chosen,best,pair_chosen,pair_best,check,cross_lat_us,cross_gbps,"
          "load1,row_bytes")


def rows_of_log(log, deploy, rate, run, load, rb):
    """The CSV rows of one xfer-bench output (both modes timed: it has pair lines)."""
    cal, choice, pair, cells = {}, {}, {}, []
    for line in open(log):
        f = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
        if line.startswith("calibration"):
            cal = f
        elif line.startswith("xfer "):
            cells.append(f)
        elif line.startswith("choice "):
            choice[(f["B"], f["mode"])] = f
        elif line.startswith("pair "):
            pair[f["B"]] = f
    if not cells or not cal:
        sys.exit(f"bench_xfer_report: no xfer-bench cells in {log}")
    for f in cells:
        c, p = choice[(f["B"], f["mode"])], pair[f["B"]]
        print(",".join([deploy, rate, f["B"], f["scheme"], f["mode"], run, f["measured_us"],
                        f["min_us"], f["pred_us"], f["route_us"], f["bytes"], f["cross_bytes"],
                        f["fanout"], f["fanout_model"], c["chosen"], c["best"], p["chosen"],
                        p["best"], c["check"], cal["cross_lat_us"], cal["cross_gbps"], load, rb]))


def main():
    if sys.argv[1:2] == ["--header"]:
        print(HEADER)
        return
    if sys.argv[1:2] == ["--rows"] and len(sys.argv) == 8:
        rows_of_log(*sys.argv[2:])
        return
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: bench_xfer_report.py CSV SVG [SVG_SELECTIVE]")
    cells = load(sys.argv[1])
    cal = defaultdict(list)
    seen = set()
    for rs in cells.values():
        for r in rs:
            if (r["deploy"], r["rate"], r["run"]) not in seen:
                seen.add((r["deploy"], r["rate"], r["run"]))
                cal[(r["deploy"], r["rate"])].append((r["cross_lat_us"], r["cross_gbps"], r["load1"]))
    rows = summarize(cells)
    timed = [r for r in rows if r["deploy"] == "1+1"]
    other = [r for r in rows if r["deploy"] != "1+1"]
    if timed:
        print("### (1 attention, 1 MoE), one rank per host: broadcast\n")
        table_broadcast(timed)
        if any("selective" in r["modes"] for r in timed):
            print("### (1 attention, 1 MoE), one rank per host: selective\n")
            table_selective(timed)
    for deploy in dict.fromkeys(r["deploy"] for r in other):
        print(f"### ({deploy.replace('+', ' attention, ')} MoE), one rank per host: "
              "oversubscribed, times indicative only\n")
        table_indicative([r for r in other if r["deploy"] == deploy])
    for (deploy, rate), c in cal.items():
        print(f"- {deploy} {rate}: calibrated cross-node link, per run: "
              + ", ".join(f"{float(a):.1f} µs + {float(b):.2f} GB/s" for a, b, _ in c)
              + "; load average before each run " + ", ".join(l for _, _, l in c))
    fit_lines(timed)
    summary(timed, "1+1")
    for deploy in dict.fromkeys(r["deploy"] for r in other):
        summary([r for r in other if r["deploy"] == deploy], deploy + " (indicative)")
    if timed:
        plot(sys.argv[2], series_broadcast(timed),
             "(1 attention, 1 MoE), one rank per host: broadcast dispatch")
        if len(sys.argv) == 4 and any("selective" in r["modes"] for r in timed):
            plot(sys.argv[3], series_selective(timed),
                 "(1 attention, 1 MoE), one rank per host: selective vs broadcast")


if __name__ == "__main__":
    main()
