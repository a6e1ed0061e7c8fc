#!/usr/bin/python3
"""Draws a training run's loss curve (train.py's OUT/loss.csv and eval.csv) as a small
self-contained SVG (issue 14 item 1): training cross-entropy (a moving average over 20 steps,
the raw values faint), held-out cross-entropy at each evaluation, and the uniform baseline
ln(n_vocab), against the step. Standard library only.
"""
import argparse
import csv
import json
import math
import os


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    with open(os.path.join(a.run, "config.json")) as f:
        n_vocab = json.load(f)["model"]["n_vocab"]
    tr = [(int(r[0]), float(r[2])) for r in csv.reader(open(os.path.join(a.run, "loss.csv")))]
    ev = [(int(r[0]), float(r[2])) for r in csv.reader(open(os.path.join(a.run, "eval.csv")))]
    if not tr:
        raise SystemExit("no training steps in loss.csv")
    W, H, L, R, T, B = 720, 360, 56, 16, 28, 40
    x_max = max(s for s, _ in tr)
    uni = math.log(n_vocab)
    y_max = max(uni, max(v for _, v in tr)) * 1.05
    y_min = min(min(v for _, v in tr), min((v for _, v in ev), default=uni)) * 0.9
    sx = lambda s: L + (W - L - R) * (s / max(x_max, 1))
    sy = lambda v: T + (H - T - B) * (1 - (v - y_min) / (y_max - y_min))
    smooth, win = [], []
    for s, v in tr:
        win = (win + [v])[-20:]
        smooth.append((s, sum(win) / len(win)))
    path = lambda pts: " ".join(f"{sx(s):.1f},{sy(v):.1f}" for s, v in pts)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="18" font-size="14">Training of the default model: '
           f'cross-entropy (nats) vs step</text>']
    for k in range(6):
        v = y_min + (y_max - y_min) * k / 5
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" '
                   f'stroke="#ddd"/><text x="{L - 6}" y="{sy(v) + 4:.1f}" '
                   f'text-anchor="end">{v:.1f}</text>')
    for k in range(6):
        s = x_max * k / 5
        out.append(f'<text x="{sx(s):.1f}" y="{H - B + 16}" text-anchor="middle">{s:.0f}</text>')
    out.append(f'<line x1="{L}" x2="{W - R}" y1="{sy(uni):.1f}" y2="{sy(uni):.1f}" '
               f'stroke="#999" stroke-dasharray="4,3"/><text x="{W - R}" y="{sy(uni) - 4:.1f}" '
               f'text-anchor="end" fill="#666">uniform ln {n_vocab} = {uni:.2f}</text>')
    out.append(f'<polyline fill="none" stroke="#9ecae1" points="{path(tr)}"/>')
    out.append(f'<polyline fill="none" stroke="#08519c" stroke-width="2" points="{path(smooth)}"/>')
    if ev:
        out.append(f'<polyline fill="none" stroke="#d94801" stroke-width="2" points="{path(ev)}"/>')
        out += [f'<circle cx="{sx(s):.1f}" cy="{sy(v):.1f}" r="3" fill="#d94801"/>' for s, v in ev]
    out.append(f'<text x="{L + 8}" y="{H - 8}" fill="#08519c">training (20-step mean)</text>'
               f'<text x="{L + 190}" y="{H - 8}" fill="#d94801">held out</text>'
               f'<text x="{W - R}" y="{H - 8}" text-anchor="end">step</text></svg>')
    with open(a.output, "w") as f:
        f.write("\n".join(out) + "\n")
    last = ev[-1] if ev else None
    print(f"{a.output}: {len(tr)} steps" + (f", held-out ce {last[1]:.3f} (ppl "
                                           f"{math.exp(last[1]):.1f}) at step {last[0]}" if last else ""))


if __name__ == "__main__":
    main()
