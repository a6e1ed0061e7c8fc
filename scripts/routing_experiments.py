#!/usr/bin/python3
"""Statistics, resampling and report of the routing experiments (issue 14 item 4,
docs/ROUTING.md); driven by scripts/routing-experiments.sh. numpy only; SVG written by hand.

  split TRACE TRAIN TEST --train-frac F     windows (steps) [0, cut) -> TRAIN, the rest -> TEST
  resample TRACE OUT --batch B --steps S --seed N
                                            decode-like steps: each step is B tokens drawn
                                            uniformly (with replacement) from all the trace's
                                            tokens, the same token in every MoE layer
  stats TRACE OUTDIR --experts E            load skew, Zipf fit, co-activation, window
                                            locality: stats.md, stats.json, SVGs
  report OUTDIR                             a_max tables (raw/pe-*.txt) and plan comparison
                                            -> amax.md, plan.md, SVGs
"""
import json
import math
import os
import re
import sys

import numpy as np


# ---- trace I/O -----------------------------------------------------------------------

def read_trace(path):
    """-> (meta comments, {layer: [(step, ndarray (n_tok, k))]}) in file order."""
    comments, blocks, cur, rows = [], {}, None, []

    def flush():
        if cur is not None:
            k = len(rows[0]) if rows else 0
            arr = np.array(rows, dtype=np.int32).reshape(len(rows), k)
            blocks.setdefault(cur[1], []).append((cur[0], arr))

    with open(path) as f:
        for line in f:
            if line.startswith('#'):
                comments.append(line.rstrip('\n'))
                continue
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('step'):
                flush()
                p = line.split()
                cur, rows = (int(p[1]), int(p[3])), []
            else:
                rows.append([int(x) for x in line.split()])
    flush()
    return comments, blocks


def write_trace(path, comments, steps):
    """steps: list of (step, [(layer, ndarray)])."""
    with open(path, 'w') as f:
        for c in comments:
            f.write(c + '\n')
        for s, layers in steps:
            for ly, arr in layers:
                f.write(f'step {s} layer {ly}\n')
                f.write(''.join(' '.join(map(str, r)) + '\n' for r in arr.tolist()))


def layer_tokens(blocks):
    """{layer: ndarray (N, k)} all tokens of each layer, in file order."""
    return {ly: np.concatenate([a for _, a in bl]) for ly, bl in sorted(blocks.items())}


# ---- split / resample ----------------------------------------------------------------

def cmd_split(a):
    comments, blocks = read_trace(a[0])
    frac = float(a[a.index('--train-frac') + 1])
    steps = sorted({s for bl in blocks.values() for s, _ in bl})
    cut = max(1, min(len(steps) - 1, int(round(len(steps) * frac))))
    train_steps = set(steps[:cut])
    for path, keep in ((a[1], True), (a[2], False)):
        out = {}
        for ly, bl in blocks.items():
            for s, arr in bl:
                if (s in train_steps) == keep:
                    out.setdefault(s, []).append((ly, arr))
        write_trace(path, comments + [f'# split: {"train" if keep else "test"} windows of '
                                      f'{a[0]} (first {cut} of {len(steps)} are train)'],
                    sorted((s, sorted(v)) for s, v in out.items()))
    print(f'split: {cut} train windows, {len(steps) - cut} test windows')


def cmd_resample(a):
    comments, blocks = read_trace(a[0])
    B = int(a[a.index('--batch') + 1])
    S = int(a[a.index('--steps') + 1])
    rng = np.random.default_rng(int(a[a.index('--seed') + 1]))
    toks = layer_tokens(blocks)
    n = min(len(t) for t in toks.values())
    steps = []
    for s in range(S):
        idx = rng.integers(0, n, size=B)
        steps.append((s, [(ly, t[idx]) for ly, t in toks.items()]))
    write_trace(a[1], [f'# resampled from {a[0]}: {S} steps of {B} tokens drawn uniformly '
                       f'(one decode batch of B independent sequences), seed {a[a.index("--seed") + 1]}'],
                steps)


# ---- statistics ----------------------------------------------------------------------

def gini(x):
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1).dot(x) / (n * x.sum())) if x.sum() else 0.0


def zipf_fit(share):
    """Least-squares exponent s of share ~ rank^-s over the ranks with non-zero share."""
    y = np.sort(share)[::-1]
    r = np.arange(1, len(y) + 1)
    m = y > 0
    s, _ = np.polyfit(np.log(r[m]), np.log(y[m]), 1)
    return float(-s)


def zipf_hot_ratio(s, E):
    """Hottest expert's load / mean load under Zipf(s) over E experts."""
    w = np.arange(1, E + 1, dtype=float) ** -s
    return float(w[0] / w.mean())


def zipf_s_for_hot_ratio(h, E):
    """The Zipf exponent whose hottest / mean load over E experts is h (bisection)."""
    if h <= 1:
        return 0.0
    lo, hi = 0.0, 8.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if zipf_hot_ratio(mid, E) < h else (lo, mid)
    return (lo + hi) / 2


def layer_stats(ids, E):
    N, k = ids.shape
    t = np.bincount(ids.ravel(), minlength=E).astype(float)
    share = t / t.sum()
    srt = np.sort(share)[::-1]
    q = max(1, E // 4)
    f = t / N  # fraction of tokens choosing e
    # token-level pair co-occurrence: C[e, e'] = tokens choosing both
    onehot = np.zeros((N, E), dtype=np.float32)
    np.put_along_axis(onehot, ids.astype(np.int64), 1.0, axis=1)
    C = onehot.T @ onehot
    np.fill_diagonal(C, 0)
    # independence baseline with the right number of pairs per token
    exp_ = np.outer(f, f) * N * k * (k - 1) / (k * k - (f * f).sum())
    np.fill_diagonal(exp_, 0)
    iu = np.triu_indices(E, 1)
    obs, ex = C[iu], exp_[iu]
    lift = np.where(ex > 0, obs / np.maximum(ex, 1e-12), 0)
    valid = ex >= 5  # pairs with enough expected mass to judge
    order = np.argsort(-obs)
    top = [(int(iu[0][i]), int(iu[1][i]), int(obs[i]), float(lift[i])) for i in order[:5]]
    order_l = np.argsort(-(lift * valid))
    top_lift = [(int(iu[0][i]), int(iu[1][i]), int(obs[i]), float(lift[i])) for i in order_l[:5]]
    # share of all co-occurrences in the top 10 % of pairs, vs the same under independence
    n10 = max(1, len(obs) // 10)
    conc = float(np.sort(obs)[::-1][:n10].sum() / obs.sum())
    conc_ind = float(np.sort(ex)[::-1][:n10].sum() / ex.sum())
    # chi-square-like total deviation: half the L1 distance between the pair distributions
    tv = float(0.5 * np.abs(obs / obs.sum() - ex / ex.sum()).sum())
    s = zipf_fit(share)
    return {
        'tokens': int(N), 'top1_share': float(srt[0]), 'hot_ratio': float(srt[0] * E),
        'cold_ratio': float(srt[-1] * E), 'top25_share': float(srt[:q].sum()),
        'gini': gini(t), 'cv': float(t.std() / t.mean()), 'zipf_s': s,
        'zipf_hot_ratio': zipf_hot_ratio(s, E), 'zipf_s_hot': zipf_s_for_hot_ratio(srt[0] * E, E),
        'unused': int((t == 0).sum()),
        'share_sorted': srt.tolist(),
        'pairs_lift_gt2': float((lift[valid] > 2).mean()) if valid.any() else 0.0,
        'pairs_lift_lt05': float((lift[valid] < 0.5).mean()) if valid.any() else 0.0,
        'max_lift': float(lift[valid].max()) if valid.any() else 0.0,
        'pair_top10_share': conc, 'pair_top10_share_indep': conc_ind, 'pair_tv': tv,
        'top_pairs': top, 'top_lift_pairs': top_lift, 'lift_matrix': lift_matrix(C, exp_),
    }


def lift_matrix(C, exp_):
    """Lift per pair, experts in descending load order; -1 where fewer than 5
    co-occurrences are expected (not judged); also the expert order."""
    order = np.argsort(-exp_.sum(1), kind='stable')
    with np.errstate(divide='ignore', invalid='ignore'):
        L = np.where(exp_ >= 5, C / np.maximum(exp_, 1e-12), -1.0)
    np.fill_diagonal(L, -1.0)
    return {'order': order.tolist(), 'lift': L[np.ix_(order, order)].round(3).tolist()}


def window_locality(bl, E, q):
    """Mean over windows of the share of the window's own top-q experts; the same for
    pseudo-windows of as many tokens drawn at random from the whole trace (what finite
    windows give without any locality); and the global top-q share."""
    def own_top(arrs):
        out = []
        for arr in arrs:
            t = np.bincount(arr.ravel(), minlength=E)
            out.append(np.sort(t)[::-1][:q].sum() / t.sum())
        return float(np.mean(out))
    arrs = [arr for _, arr in bl]
    allids = np.concatenate(arrs)
    rng = np.random.default_rng(1)
    perm = allids[rng.permutation(len(allids))]
    shuffled, o = [], 0
    for arr in arrs:
        shuffled.append(perm[o:o + len(arr)])
        o += len(arr)
    allt = np.bincount(allids.ravel(), minlength=E)
    return own_top(arrs), own_top(shuffled), float(np.sort(allt)[::-1][:q].sum() / allt.sum())


def cross_layer_mi(toks):
    """Normalized mutual information between a token's expert set in consecutive MoE
    layers (expert-pair contingency over its k x k choice pairs)."""
    lys = sorted(toks)
    out = []
    for a, b in zip(lys, lys[1:]):
        A, B = toks[a], toks[b]
        n = min(len(A), len(B))
        E = int(max(A.max(), B.max())) + 1
        M = np.zeros((E, E))
        for i in range(A.shape[1]):
            for j in range(B.shape[1]):
                np.add.at(M, (A[:n, i], B[:n, j]), 1)
        P = M / M.sum()
        pa, pb = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
        with np.errstate(divide='ignore', invalid='ignore'):
            mi = np.nansum(P * np.log(P / (pa * pb)))
        ha = -np.nansum(pa * np.log(np.where(pa > 0, pa, 1)))
        hb = -np.nansum(pb * np.log(np.where(pb > 0, pb, 1)))
        out.append((a, b, float(mi / min(ha, hb)) if min(ha, hb) > 0 else 0.0))
    return out


def cmd_stats(a):
    path, outdir = a[0], a[1]
    E = int(a[a.index('--experts') + 1])
    comments, blocks = read_trace(path)
    toks = layer_tokens(blocks)
    k = next(iter(toks.values())).shape[1]
    res = {'trace': path, 'experts': E, 'top_k': k, 'layers': {}}
    for ly, ids in toks.items():
        st = layer_stats(ids, E)
        st['window_top25'], st['window_top25_shuffled'], st['window_top25_global'] = \
            window_locality(blocks[ly], E, E // 4)
        res['layers'][ly] = st
    res['cross_layer_nmi'] = cross_layer_mi(toks)
    # the synthetic assumptions, for comparison
    res['synthetic'] = {f'zipf {s}': zipf_hot_ratio(s, E) for s in (0.3, 1.0, 1.2)}
    with open(os.path.join(outdir, 'stats.json'), 'w') as f:
        json.dump(res, f, indent=1)
    md = stats_md(res, comments)
    with open(os.path.join(outdir, 'stats.md'), 'w') as f:
        f.write(md)
    svg_load(res, os.path.join(outdir, 'load.svg'))
    for ly, st in res['layers'].items():
        svg_heat(st['lift_matrix'], f'co-activation lift, layer {ly}: observed / independent',
                 os.path.join(outdir, f'coact-layer{ly}.svg'))
    print(md)


def stats_md(res, comments):
    E, k = res['experts'], res['top_k']
    L = res['layers']
    out = ['## Expert load skew per MoE layer', '',
           f'Trace `{os.path.basename(res["trace"])}`, E = {E}, top-k = {k}. Shares are of '
           f'all token-expert choices; uniform = {100 / E:.2f} % per expert, '
           f'{100 * (E // 4) / E:.0f} % for the top quarter.', '',
           '| layer | tokens | top expert share | hottest / mean | coldest / mean | top-25 % share '
           '| Gini | CV | Zipf s (LS fit) | its hottest/mean | Zipf s (same hottest/mean) | unused |',
           '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for ly, s in L.items():
        out.append(f'| {ly} | {s["tokens"]} | {100 * s["top1_share"]:.2f} % | '
                   f'{s["hot_ratio"]:.2f} | {s["cold_ratio"]:.2f} | {100 * s["top25_share"]:.1f} % | '
                   f'{s["gini"]:.3f} | {s["cv"]:.3f} | {s["zipf_s"]:.2f} | '
                   f'{s["zipf_hot_ratio"]:.2f} | {s["zipf_s_hot"]:.2f} | {s["unused"]} |')
    syn = res['synthetic']
    out += ['', 'Zipf s (LS fit): least-squares slope of log share vs log rank over the '
            'experts with a non-zero share; Zipf s (same hottest/mean): the exponent whose '
            'hottest expert carries the measured multiple of the mean load. Unused: experts '
            'no token chose.', '', 'Synthetic assumptions at the same E: hottest / mean = '
            + ', '.join(f'{v:.2f} ({n})' for n, v in syn.items())
            + ' (planner: Zipf 0.3 with co-activation groups; SCHEDULER.md: Zipf 1.0 / 1.2).', '',
            '## Co-activation (tokens choosing both experts of a pair)', '',
            'Lift = observed pair count / the count if a token\'s k choices were independent '
            'draws from the layer\'s load (scaled to k(k-1)/2 pairs per token); pairs with '
            'at least 5 expected co-occurrences. "top 10 % pairs" = share of all '
            'co-occurrences carried by the 10 % most frequent pairs (independent: same from '
            'the baseline). TV = total-variation distance between the two pair distributions.',
            '',
            '| layer | pairs lift > 2 | pairs lift < 0.5 | max lift | top 10 % pairs | '
            '(independent) | TV | window top-25 % share | (shuffled) | (global) | most frequent pairs (lift) '
            '| highest-lift pairs (count) |',
            '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|']
    for ly, s in L.items():
        pairs = ', '.join(f'{e1}+{e2} ({li:.1f})' for e1, e2, _, li in s['top_pairs'][:3])
        lifts = ', '.join(f'{e1}+{e2} ({li:.1f}, {c})' for e1, e2, c, li in s['top_lift_pairs'][:3])
        out.append(f'| {ly} | {100 * s["pairs_lift_gt2"]:.1f} % | {100 * s["pairs_lift_lt05"]:.1f} % | '
                   f'{s["max_lift"]:.1f} | {100 * s["pair_top10_share"]:.1f} % | '
                   f'{100 * s["pair_top10_share_indep"]:.1f} % | {s["pair_tv"]:.3f} | '
                   f'{100 * s["window_top25"]:.1f} % | {100 * s["window_top25_shuffled"]:.1f} % | '
                   f'{100 * s["window_top25_global"]:.1f} % | {pairs} | {lifts} |')
    out += ['', '"window top-25 %": mean over windows of the share of a window\'s tokens that '
            'go to that window\'s own top quarter of experts; "shuffled": the same for windows of '
            'as many tokens drawn at random from the whole trace (what finite windows give '
            'without locality); "global": the whole trace\'s top quarter. Window minus '
            'shuffled is sequence (topic) locality, which block sampling keeps and pool '
            'sampling removes.', '',
            'Cross-layer dependence (normalized mutual information of a token\'s experts in '
            'consecutive MoE layers; 0 = independent): '
            + ', '.join(f'{a}->{b}: {v:.3f}' for a, b, v in res['cross_layer_nmi']), '']
    return '\n'.join(out) + '\n'


# ---- SVG -----------------------------------------------------------------------------

# A label on every plot (model / checkpoint), from the environment: PLOT_NOTE.
NOTE = os.environ.get('PLOT_NOTE', '').replace('&', '&amp;').replace('<', '&lt;')

COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
          '#7f7f7f']


def svg_lines(path, title, xlabel, ylabel, series, logx=False, logy=False, xticks=None):
    """series: [(name, xs, ys, dashed)]"""
    W, H, l, r, t, b = 660, 400, 84, 170, 36, 48
    xs_all = [x for _, xs, _, _ in series for x in xs]
    if logy:  # floor: 1e-4 of the largest value
        top = max(y for _, _, ys, _ in series for y in ys)
        series = [(n, xs, [max(y, top * 1e-4) for y in ys], d) for n, xs, ys, d in series]
    ys_all = [y for _, _, ys, _ in series for y in ys if y > 0 or not logy]
    fx = (lambda v: math.log10(v)) if logx else (lambda v: v)
    fy = (lambda v: math.log10(v)) if logy else (lambda v: v)
    x0, x1 = fx(min(xs_all)), fx(max(xs_all))
    y0, y1 = fy(min(ys_all)), fy(max(ys_all))
    if not logy:
        y0 = min(0, y0)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    X = lambda v: l + (fx(v) - x0) / (x1 - x0) * (W - l - r)
    Y = lambda v: H - b - (fy(v) - y0) / (y1 - y0) * (H - t - b)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="13">{title}</text>',
         f'<text x="{W - 6}" y="{H - 4}" text-anchor="end" font-size="9" fill="#666">{NOTE}</text>',
         f'<line x1="{l}" y1="{H - b}" x2="{W - r}" y2="{H - b}" stroke="black"/>',
         f'<line x1="{l}" y1="{t}" x2="{l}" y2="{H - b}" stroke="black"/>',
         f'<text x="{(l + W - r) / 2}" y="{H - 12}" text-anchor="middle">{xlabel}</text>',
         f'<text x="14" y="{(t + H - b) / 2}" text-anchor="middle" transform="rotate(-90 14 {(t + H - b) / 2})">{ylabel}</text>']
    for xv in (xticks or sorted(set(xs_all))):
        o.append(f'<text x="{X(xv):.1f}" y="{H - b + 14}" text-anchor="middle">{xv:g}</text>')
    for i in range(6):
        yv = y0 + (y1 - y0) * i / 5
        val = 10 ** yv if logy else yv
        yy = H - b - i / 5 * (H - t - b)
        o.append(f'<line x1="{l}" y1="{yy:.1f}" x2="{W - r}" y2="{yy:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{l - 4}" y="{yy + 4:.1f}" text-anchor="end">{val:.3g}</text>')
    for i, (name, xs, ys, dashed) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        pts = ' '.join(f'{X(x):.1f},{Y(y):.1f}' for x, y in zip(xs, ys) if y > 0 or not logy)
        da = ' stroke-dasharray="5,3"' if dashed else ''
        o.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.8"{da} points="{pts}"/>')
        for x, y in zip(xs, ys):
            if y > 0 or not logy:
                o.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="2.5" fill="{c}"/>')
        ly = t + 14 + 16 * i
        o.append(f'<line x1="{W - r + 10}" y1="{ly - 4}" x2="{W - r + 30}" y2="{ly - 4}" stroke="{c}" stroke-width="2"{da}/>')
        o.append(f'<text x="{W - r + 34}" y="{ly}">{name}</text>')
    o.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(o) + '\n')


def svg_load(res, path):
    E = res['experts']
    r = list(range(1, E + 1))
    series = [(f'layer {ly}', r, s['share_sorted'], False) for ly, s in res['layers'].items()]
    for sz in (0.3, 1.0):
        w = np.arange(1, E + 1, dtype=float) ** -sz
        series.append((f'Zipf {sz}', r, (w / w.sum()).tolist(), True))
    series.append(('uniform', r, [1 / E] * E, True))
    svg_lines(path, 'Expert load share by rank (measured vs synthetic)', 'expert rank',
              'share of token-expert choices', series, logx=True, logy=True,
              xticks=[1, 2, 4, 8, 16, 32][:1 + int(math.log2(E))])


def svg_heat(LM, title, path):
    M, order = np.array(LM['lift']), LM['order']
    E = len(M)
    cell = 12
    l, t = 30, 40
    W, H = l + E * cell + 130, t + E * cell + 36
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="10">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="16" text-anchor="middle" font-size="12">{title}</text>',
         f'<text x="{W - 6}" y="{H - 4}" text-anchor="end" font-size="9" fill="#666">{NOTE}</text>']

    def color(v):  # log2 lift: blue < 1 < red, saturating at 4x
        z = max(-2.0, min(2.0, math.log2(v) if v > 0 else -2.0)) / 2
        if z >= 0:
            return f'rgb(255,{int(255 * (1 - z))},{int(255 * (1 - z))})'
        return f'rgb({int(255 * (1 + z))},{int(255 * (1 + z))},255)'
    for i in range(E):
        for j in range(E):
            fill = '#ddd' if M[i, j] < 0 else color(M[i, j])
            o.append(f'<rect x="{l + j * cell}" y="{t + i * cell}" width="{cell}" height="{cell}" fill="{fill}"/>')
    for i in range(0, E, 2):  # expert ids, hottest first
        o.append(f'<text x="{l - 3}" y="{t + i * cell + 9}" text-anchor="end">{order[i]}</text>')
        o.append(f'<text x="{l + i * cell + 6}" y="{t - 3}" text-anchor="middle">{order[i]}</text>')
    for n, v in enumerate((0.25, 0.5, 1, 2, 4)):
        y = t + n * 16
        o.append(f'<rect x="{l + E * cell + 12}" y="{y}" width="12" height="12" fill="{color(v)}" stroke="#999"/>')
        o.append(f'<text x="{l + E * cell + 30}" y="{y + 10}">lift {v:g}</text>')
    y = t + 5 * 16
    o.append(f'<rect x="{l + E * cell + 12}" y="{y}" width="12" height="12" fill="#ddd" stroke="#999"/>')
    o.append(f'<text x="{l + E * cell + 30}" y="{y + 10}">expected &lt; 5</text>')
    o.append(f'<text x="{l}" y="{H - 16}">experts in descending load order (ids on the axes)</text>')
    o.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(o) + '\n')


# ---- report: a_max tables and plan ---------------------------------------------------

def parse_pe(path):
    """place-eval output -> {batch: {policy: a_max}}"""
    rows, cols = {}, None
    with open(path) as f:
        for line in f:
            if line.startswith('#'):
                continue
            p = line.split()
            if p and p[0] == 'batch':
                cols = p[1:]
            elif p and cols:
                rows[int(p[0])] = dict(zip(cols, map(float, p[1:])))
    return rows


def cmd_report(a):
    outdir = a[0]
    raw = os.path.join(outdir, 'raw')
    cfg = {}
    for fn in os.listdir(raw):
        m = re.match(r'pe-n(\d+)-C(\d+)-(janus|eplb)-(pool|block)\.txt$', fn)
        if m:
            n, C, lay, smp = int(m[1]), int(m[2]), m[3], m[4]
            cfg.setdefault(smp, {}).setdefault((n, C), {})[lay] = parse_pe(os.path.join(raw, fn))
    md = []
    for smp in ('pool', 'block'):
        if smp not in cfg:
            continue
        desc = ('each batch = B tokens drawn uniformly from all test-split tokens of the layer '
                '(B independent sequences: the decode batch)' if smp == 'pool' else
                'each batch = B tokens of one test window (one sequence: keeps its topic '
                'locality; for B = 512 the whole window)')
        md += [f'### a_max, --sample {smp}', '', desc + '. Mean over MoE layers and samples; '
               '"fewer" = EPLB layout + token-balanced minus Janus layout + optimal (greedy).', '',
               '| n | C | B | Janus layout: greedy | optimal | token-bal. | random | EPLB layout: '
               'optimal | token-bal. | random | fewer (opt) | fewer (greedy) |',
               '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
        for (n, C), d in sorted(cfg[smp].items()):
            if 'janus' not in d or 'eplb' not in d:
                continue
            J, P = d['janus'], d['eplb']
            for B in sorted(J):
                j, p = J[B], P[B]
                md.append(f'| {n} | {C} | {B} | {j["greedy"]:.2f} | {j["optimal"]:.2f} | '
                          f'{j["token-balanced"]:.2f} | {j["random"]:.2f} | {p["optimal"]:.2f} | '
                          f'{p["token-balanced"]:.2f} | {p["random"]:.2f} | '
                          f'{p["token-balanced"] - j["optimal"]:.2f} | '
                          f'{p["token-balanced"] - j["greedy"]:.2f} |')
        md.append('')
        # plot per n: a_max vs B
        for (n, C), d in sorted(cfg[smp].items()):
            if 'janus' not in d or 'eplb' not in d:
                continue
            Bs = sorted(d['janus'])
            series = [('Janus + optimal', Bs, [d['janus'][B]['optimal'] for B in Bs], False),
                      ('Janus + greedy', Bs, [d['janus'][B]['greedy'] for B in Bs], False),
                      ('Janus + token-bal.', Bs, [d['janus'][B]['token-balanced'] for B in Bs], False),
                      ('Janus + random', Bs, [d['janus'][B]['random'] for B in Bs], False),
                      ('EPLB + optimal', Bs, [d['eplb'][B]['optimal'] for B in Bs], True),
                      ('EPLB + token-bal.', Bs, [d['eplb'][B]['token-balanced'] for B in Bs], True)]
            svg_lines(os.path.join(outdir, f'amax-n{n}-{smp}.svg'),
                      f'a_max vs batch, n = {n} instances x C = {C} slots ({smp} sampling)',
                      'batch size B (tokens)', 'mean a_max (activated experts, busiest instance)',
                      series, logx=True, xticks=Bs)
    with open(os.path.join(outdir, 'amax.md'), 'w') as f:
        f.write('\n'.join(md) + '\n')
    print('\n'.join(md))
    plan_report(outdir)


def plan_report(outdir):
    raw = os.path.join(outdir, 'raw')
    md = []
    rows = []
    for fn in sorted(os.listdir(raw)):
        m = re.match(r'plan-(synthetic|measured)-r(\d+)\.json$', fn)
        if not m:
            continue
        try:
            j = json.load(open(os.path.join(raw, fn)))
        except ValueError:
            continue
        systems = [('janus', j)] + sorted(j.get('baselines', {}).items())
        for name, v in systems:
            rows.append((int(m[2]), name, m[1], v))
    if rows:
        md += ['`janus plan --json` (SLO 50 ms) at two demanded rates, with the planner\'s '
               'synthetic statistics and with the measured ones (`--stats`):', '',
               '| rate tok/s | system | statistics | GPUs | n_attn | n_moe | C | batch | TPOT ms '
               '| a_max per layer |', '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|']
        for rate, name, tag, v in sorted(rows, key=lambda r: (r[0], r[1], r[2] != 'synthetic')):
            g = lambda k: v.get(k, float('nan'))
            md.append(f'| {rate} | {name} | {tag} | {g("n_gpus")} | {g("n_attn")} | {g("n_moe")} | '
                      f'{g("slots")} | {g("batch"):.1f} | {g("tpot_ms"):.3f} | '
                      f'{g("amax_per_layer"):.2f} |')
    sw = {tag: parse_sweep(os.path.join(raw, f'sweep-amax-{tag}.txt'))
          for tag in ('synthetic', 'measured')}
    if all(sw.values()):
        Bs = sorted({int(b) for b in os.environ.get('BATCHES', '1,8,32,128,512').split(',')})
        md += ['', 'The planner\'s Monte Carlo a_max (`janus sweep --what amax --amax-moe n`; '
               'C is the planner\'s, from memory) with its synthetic statistics and with the '
               'measured ones:', '',
               '| n | C | B | synthetic: greedy | eplb+token-bal. | random | measured: greedy | '
               'eplb+token-bal. | random |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
        for n in sorted(sw['synthetic']):
            if n not in sw['measured']:
                continue
            C, a = sw['synthetic'][n]
            _, b = sw['measured'][n]
            for B in Bs:
                if B in a and B in b:
                    md.append(f'| {n} | {C} | {B} | {a[B]["greedy"]:.2f} | '
                              f'{a[B]["eplb+token-balanced"]:.2f} | {a[B]["random"]:.2f} | '
                              f'{b[B]["greedy"]:.2f} | {b[B]["eplb+token-balanced"]:.2f} | '
                              f'{b[B]["random"]:.2f} |')
    with open(os.path.join(outdir, 'plan.md'), 'w') as f:
        f.write('\n'.join(md) + '\n')
    print('\n'.join(md))


def parse_sweep(path):
    """sweep-amax-*.txt (sections "## N MoE instances") -> {n: (C, {batch: {col: v}})}"""
    if not os.path.exists(path):
        return {}
    out, n, C, cols = {}, None, '?', None
    for line in open(path):
        m = re.match(r'## (\d+) MoE instances(?: x (\d+) slots)?', line)
        if m:
            n, cols = int(m[1]), None
            C = m[2] or '?'
            out[n] = (C, {})
            continue
        m = re.search(r'(\d+) MoE instances x (\d+) slots', line)
        if m and n is not None:
            out[n] = (m[2], out[n][1])
            continue
        p = line.split()
        if not p or n is None:
            continue
        if p[0] == 'batch':
            cols = p[1:]
        elif cols and p[0].isdigit():
            out[n][1][int(p[0])] = dict(zip(cols, map(float, p[1:])))
    return out


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ('split', 'resample', 'stats', 'report'):
        sys.exit(__doc__)
    {'split': cmd_split, 'resample': cmd_resample, 'stats': cmd_stats,
     'report': cmd_report}[sys.argv[1]](sys.argv[2:])


if __name__ == '__main__':
    main()
