#!/usr/bin/env python3
"""Prints docs/PLANNER.md section 6 from the outputs of scripts/planner-results.sh (argv[1]).

Every number of the section is read from those outputs, so the text cannot drift from
the code. SPDX-License-Identifier: MIT
"""
import re, sys, os
D = sys.argv[1]
SYS = ['janus', 'sglang-mono', 'megascale-infer', 'xdeepserve']
M = {'ds': 'deepseek-v2', 'qw': 'qwen3-235b-a22b'}

def rd(name):
    return open(os.path.join(D, name)).read()

CELL_B = re.compile(r'(\d+) \((\d+)\+(\d+), (\d+)ms\)|(?<![\w(])-(?![\w)])')
CELL_S = re.compile(r'(\d+) \((\d+)\+(\d+), B (\d+)\)|(?<![\w(])-(?![\w)])')

def parse_cells(rest, rx):
    out = []
    for m in rx.finditer(rest):
        if m.group(1) is None:
            out.append(None)
        else:
            out.append(tuple(int(x) for x in m.groups()[:4]))
    return out

def batch_tables(text):
    """{slo: {batch: [cell per system]}} cell = (tpg, na, ne, tpot) or None."""
    res, cur = {}, None
    for line in text.splitlines():
        m = re.match(r'## TPG .*SLO (\d+) ms', line)
        if m:
            cur = int(m.group(1)); res[cur] = {}; continue
        if line.startswith('##'):
            cur = None; continue
        if cur is not None:
            m = re.match(r'^(\d+)\s+(.*)$', line)
            if m:
                cells = parse_cells(m.group(2), CELL_B)
                if len(cells) == 4: res[cur][int(m.group(1))] = cells
    return res

def slo_table(text):
    res, on = {}, False
    for line in text.splitlines():
        if line.startswith('## SLO sweep'): on = True; continue
        if line.startswith('##'): on = False; continue
        if on:
            m = re.match(r'^(\d+)\s+(.*)$', line)
            if m:
                cells = parse_cells(m.group(2), CELL_S)
                if len(cells) == 4: res[int(m.group(1))] = cells
    return res

def amax_table(text):
    res, head, on = {}, None, False
    for line in text.splitlines():
        if line.startswith('## a_max'):
            on = True; head = line; continue
        if on:
            m = re.match(r'^(\d+)\s+([\d.\s]+)$', line)
            if m: res[int(m.group(1))] = [float(x) for x in m.group(2).split()]
    return head, res

def sim_rows(text):
    res = {}
    for line in text.splitlines():
        p = line.split()
        if p and p[0] in SYS:
            res[p[0]] = dict(gh=float(p[1]), att=float(p[2].rstrip('%')), rec=int(p[3]),
                             inf=int(p[4]), peak=int(p[5]), save=' '.join(p[6:]))
    return res

def fc(c, colo=False, bold=False, ms=True):
    if c is None: return '–'
    v = f'**{c[0]}**' if bold else f'{c[0]}'
    cfg = f'{c[1]}' if colo else f'{c[1]}+{c[2]}'
    return f'{v} ({cfg}, {c[3]} ms)' if ms else f'{v} ({cfg})'

def batch_md(bt, slo, rows):
    out = ['| batch | janus | sglang-mono | megascale-infer | xdeepserve |', '|---|---|---|---|---|']
    for b in rows:
        if b not in bt[slo]: continue
        cells = bt[slo][b]
        best = max((c[0] for c in cells if c), default=None)
        out.append(f'| {b} | ' + ' | '.join(fc(c, k == 1, c is not None and c[0] == best)
                                           for k, c in enumerate(cells)) + ' |')
    return '\n'.join(out)

def diff200(bt):
    parts = {0: [], 3: []}
    for b in sorted(bt[150]):
        for k in (0, 3):
            a, c = bt[150][b][k], bt[200][b][k]
            if (a[0] if a else None) != (c[0] if c else None) and c:
                parts[k].append(f'{c[0]} at {b}')
    s = []
    if parts[0]: s.append('Janus ' + ', '.join(parts[0]))
    if parts[3]: s.append('xDeepServe ' + ', '.join(parts[3]))
    return '; '.join(s) if s else 'no difference'

ds_b, qw_b = batch_tables(rd('sweep-deepseek-v2.txt')), batch_tables(rd('sweep-qwen3-235b-a22b.txt'))
ds_s, qw_s = slo_table(rd('sweep-deepseek-v2.txt')), slo_table(rd('sweep-qwen3-235b-a22b.txt'))
ds_a_head, ds_a = amax_table(rd('sweep-deepseek-v2.txt'))
qw_a_head, qw_a = amax_table(rd('sweep-qwen3-235b-a22b.txt'))
sim = {k: sim_rows(rd(f'sim-{v}.txt')) for k, v in M.items()}
simlast = {k: sim_rows(rd(f'simlast-{v}.txt')) for k, v in M.items()}
simb = {k: sim_rows(rd(f'simbursty-{v}.txt')) for k, v in M.items()}
sim8 = {k: sim_rows(rd(f'sim8-{v}.txt')) for k, v in M.items()}
simall = {k: sim_rows(rd(f'simall-{v}.txt')) for k, v in M.items()}
s8 = {k: slo_table(rd(f'sweep8-{v}.txt')) for k, v in M.items()}
sall = {k: slo_table(rd(f'sweepall-{v}.txt')) for k, v in M.items()}

def ratio_range(bt, num, den, maxb=256):
    r = [bt[150][b][num][0] / bt[150][b][den][0] for b in bt[150]
         if b <= maxb and bt[150][b][num] and bt[150][b][den]]
    return (min(r), max(r)) if r else None

def cap(st, slo, k):
    c = st.get(slo, [None] * 4)[k]
    return c[0] if c else None

o = []
o.append('''## 6. Results

Commands, from a build at the repository root (tables print on stdout; `--out` writes
CSV, JSON and the SVGs under `docs/img/`):

```
bash scripts/planner-results.sh        # runs everything below, copies the SVGs, rewrites this section
janus sweep --model deepseek-v2 --hw h100 --out docs/img             # 6.1, 6.2, 6.4
janus sweep --model qwen3-235b-a22b --hw h100 --out docs/img
janus simulate --model deepseek-v2 --hw h100 --slo-ms 150 --trace diurnal --interval 15m --out docs/img
janus simulate --model qwen3-235b-a22b --hw h100 --slo-ms 150 --trace diurnal --interval 15m --out docs/img
# 6.3 variants: --forecast last; --trace bursty
# 6.5 sensitivity: the same with --coef leader_rails=8 (files renamed *-rails8.svg), and
#     --coef leader_rails=8 --coef m2n_per_instance=1 --coef moe_overlap=1
```

The inputs are the defaults: seed 1, 8 Monte Carlo samples, 4 layer profiles, up to 64 GPUs, the
ShareGPT-like mean decode context `S = 161 + 338·e/2 = 620` tokens (§7), and a charge of
30 s per added or removed GPU at each reconfiguration.

### 6.1 TPG vs batch size, H100, TPOT SLO 150 and 200 ms

Each cell is the best configuration of that system at that batch size: the highest
`B / TPOT / GPUs` with `TPOT ≤ SLO` and `B ≤ B_max`. The cell shows output tokens/s per
GPU, the configuration (`n_attn+n_moe`, or the device count for the monolithic system)
and the TPOT. The best of each row is in bold. "–" means no configuration within 64 GPUs
meets the SLO at that batch.
''')
o.append(f'DeepSeek-V2, SLO 150 ms (at 200 ms the values change only for: {diff200(ds_b)}):\n')
o.append(batch_md(ds_b, 150, [16, 64, 256, 512, 1024, 2048, 4096, 8192]) + '\n')
o.append(f'Qwen3-235B-A22B, SLO 150 ms (at 200 ms: {diff200(qw_b)}):\n')
o.append(batch_md(qw_b, 150, [16, 64, 256, 512, 1024, 2048, 4096, 8192]) + '\n')
o.append('''Plots: [DS-V2 150 ms](img/deepseek-v2-h100-tpg-vs-batch-slo150.svg),
[DS-V2 200 ms](img/deepseek-v2-h100-tpg-vs-batch-slo200.svg),
[Qwen3 150 ms](img/qwen3-235b-a22b-h100-tpg-vs-batch-slo150.svg),
[Qwen3 200 ms](img/qwen3-235b-a22b-h100-tpg-vs-batch-slo200.svg); TPOT vs batch:
`img/*-tpot-vs-batch-slo*.svg`.

### 6.2 SLO sweep: best TPG within the SLO (≤ 64 H100)

Each system's configuration with the highest capacity TPG, `B_cap / TPOT / GPUs`:

| SLO ms | DS-V2 janus | DS-V2 mono | DS-V2 msi | DS-V2 xds | Qwen3 janus | Qwen3 mono | Qwen3 msi | Qwen3 xds |
|---|---|---|---|---|---|---|---|---|''')
for slo in [50, 100, 150, 200, 300]:
    row = [fc(c, k == 1, ms=False) for k, c in enumerate(ds_s[slo])] + \
          [fc(c, k == 1, ms=False) for k, c in enumerate(qw_s[slo])]
    o.append(f'| {slo} | ' + ' | '.join(row) + ' |')
o.append('''
Plots: [DS-V2](img/deepseek-v2-h100-slo-sweep.svg),
[Qwen3](img/qwen3-235b-a22b-h100-slo-sweep.svg). Full tables (75, 125, 175, 250 ms too):
the `sweep` command above.

### 6.3 GPU-hours over 24 hours

The diurnal trace has a daily swing plus 8 bursts (10–60 min, +20–80 %). Its mean is
2000 output tokens/s and its peak is 15000, exactly 7.5x the mean (`test_workload:
diurnal_peak_to_mean`). Re-planning happens every 15 min, for each system, for the
interval's peak: the "oracle" forecast, so that all systems are compared at 100 % SLO
attainment. The SLO is 150 ms, with up to 64 H100.
''')
o.append('| system | DS-V2 GPU-h | SLO att. | reconf. | peak GPUs | Janus saving | Qwen3 GPU-h | SLO att. | reconf. | Janus saving |')
o.append('|---|---|---|---|---|---|---|---|---|---|')
def save(r, k):
    if r['save'] == 'n/a': return f"n/a (infeasible in {r['inf']} of 96 intervals)"
    return '–' if r['save'] == '-' else f"**{r['save'].replace(' %', ' %')}**"
for s in SYS:
    a, b = sim['ds'][s], sim['qw'][s]
    gh_a = f"**{a['gh']:.1f}**" if s == 'janus' else f"{a['gh']:.1f}"
    gh_b = f"**{b['gh']:.1f}**" if s == 'janus' else f"{b['gh']:.1f}"
    o.append(f"| {s} | {gh_a} | {a['att']:.0f} % | {a['rec']} | {a['peak']} | {save(a, 'ds')} | "
             f"{gh_b} | {b['att']:.0f} % | {b['rec']} | {save(b, 'qw')} |")
L, B = simlast['ds'], simb['ds']
o.append(f'''
Plots: [DS-V2 GPUs over the day](img/deepseek-v2-h100-sim-diurnal-gpus.svg),
[load](img/deepseek-v2-h100-sim-diurnal-load.svg),
[Qwen3](img/qwen3-235b-a22b-h100-sim-diurnal-gpus.svg).

We also ran reactive planning (`--forecast last`: plan each interval for the previous
one's peak). GPU-hours barely change, but attainment drops to {L['janus']['att']:.0f} %
(Janus, DS-V2), {L['xdeepserve']['att']:.0f} % (xDeepServe) and
{L['sglang-mono']['att']:.0f} % (monolithic, whose 16-GPU unit has ample headroom).
Janus's fine granularity tracks the load closely, so a rising load catches it
under-provisioned. Headroom (`--headroom 1.3`) buys attainment back for more GPU-hours.
The bursty trace (gamma arrivals, shape 0.25, mean 2000 tok/s) peaks at only 1.5x its
mean in 1-minute bins. There Janus needs {B['janus']['gh']:.0f} GPU-h, against
{B['sglang-mono']['gh']:.0f} for the monolithic system ({B['sglang-mono']['save']}
saving) and {B['xdeepserve']['gh']:.0f} for xDeepServe ({B['xdeepserve']['save']}).

### 6.4 a_max vs batch for each scheduler
''')
hd = re.search(r'(\d+) MoE instances x (\d+) slots', ds_a_head)
o.append(f'DeepSeek-V2 with {hd.group(1)} MoE instances × {hd.group(2)} slots (160 experts), 8 samples × 4 layer profiles. '
         'Rows are the Monte Carlo means and the last column is the analytic bound:\n')
o.append('| B | optimal | greedy | token-bal. | round-robin | random | first | EPLB + token-bal. | EPLB + random | bound |')
o.append('|---|---|---|---|---|---|---|---|---|---|')
for b in [1, 8, 32, 64, 256, 4096]:
    v = ds_a[b]
    o.append(f'| {b} | ' + ' | '.join(f'{x:.2f}' for x in v) + ' |')
q = qw_a[4096]
hq = re.search(r'(\d+) MoE instances x (\d+) slots', qw_a_head)
d = ds_a[4096]
o.append(f'''
On Qwen3-235B ({hq.group(1)} × {hq.group(2)} slots, 128 experts) at B = 4096: optimal
{q[0]:.2f}, greedy {q[1]:.2f}, token-balanced {q[2]:.2f}, round-robin {q[3]:.2f}, random
{q[4]:.2f}, first {q[5]:.2f}, EPLB + token-balanced {q[6]:.2f}, EPLB + random {q[7]:.2f};
the bound is {q[8]:.2f}. On DeepSeek-V2, greedy ({d[1]:.2f}) is {d[1]-d[0]:.2f} above the
optimum ({d[0]:.2f}; perfect balance is 160/{hd.group(1)} = {160/int(hd.group(1)):.0f}), and
{d[6]-d[1]:.2f} below EPLB + token-balanced, the baselines' combination. Plots:
[DS-V2](img/deepseek-v2-h100-amax-vs-batch.svg),
[Qwen3](img/qwen3-235b-a22b-h100-amax-vs-batch.svg).

The Monte Carlo never exceeds the bound and is monotone in B (`test_amax`). Per sample,
optimal ≤ greedy and ≤ any other policy, thanks to the common random numbers.

### 6.5 Sensitivity to the stated assumptions
''')
o.append('| change | DS-V2 150 ms best TPG: janus / mono / msi / xds | DS-V2 GPU-h janus (saving vs mono, xds) | Qwen3 GPU-h janus (saving vs mono, xds) |')
o.append('|---|---|---|---|')
def tpgs(st):
    return ' / '.join(str(cap(st, 150, k)) if cap(st, 150, k) else '–' for k in range(4))
def ghs(r):
    return f"{r['janus']['gh']:.1f} ({r['sglang-mono']['save']}, {r['xdeepserve']['save']})"
o.append(f"| defaults | {tpgs(ds_s)} | {ghs(sim['ds'])} | {ghs(sim['qw'])} |")
o.append(f"| `leader_rails=8` (2PC stripes over the node's 8 NICs) | {tpgs(s8['ds'])} | {ghs(sim8['ds'])} | {ghs(sim8['qw'])} |")
o.append(f"| + `m2n_per_instance=1` + `moe_overlap=1` | {tpgs(sall['ds'])} | {ghs(simall['ds'])} | {ghs(simall['qw'])} |")
p20 = rd('plan-20k.txt'); p20r = rd('plan-20k-r8.txt')
def plan_rows(t):
    r = {}
    for line in t.splitlines():
        p = line.split()
        if p and p[0] in SYS and len(p) >= 8 and p[1].isdigit(): r[p[0]] = (int(p[1]), int(p[2]), int(p[3]), float(p[5]))
    return r
a20, b20 = plan_rows(p20), plan_rows(p20r)
o.append(f'''
At 20000 tok/s and 150 ms on DeepSeek-V2, `janus plan` chooses {a20['janus'][1]}+{a20['janus'][2]} =
{a20['janus'][0]} GPUs with the defaults and {b20['janus'][1]}+{b20['janus'][2]} = {b20['janus'][0]} GPUs
with `leader_rails=8`, against {a20['sglang-mono'][0]} (monolithic) and {a20['xdeepserve'][0]}
(xDeepServe). Plots with `leader_rails=8`: `img/*-rails8.svg`.

### 6.6 Beside the publication (SPEC §1)
''')
rm = ratio_range(ds_b, 0, 1); rmq = ratio_range(qw_b, 0, 1)
rx = ratio_range(ds_b, 0, 3); rxq = ratio_range(qw_b, 0, 3)
rmsi = ratio_range(ds_b, 0, 2, 64)
c = lambda st, k: cap(st, 150, k)
o.append('| claim | publication | ours (defaults) | ours (leader_rails=8) |')
o.append('|---|---|---|---|')
o.append(f"| TPG vs SGLang monolithic, 150–200 ms | up to 4.7x (earlier 3.9x) | "
         f"{min(rm[0], rmq[0]):.2f}–{max(rm[1], rmq[1]):.2f}x at B ≤ 256; {c(ds_s,0)/c(ds_s,1):.2f}x at capacity (DS-V2), "
         f"{c(qw_s,0)/c(qw_s,1):.2f}x (Qwen3) | {c(s8['ds'],0)/c(s8['ds'],1):.2f}x (DS-V2), {c(s8['qw'],0)/c(s8['qw'],1):.2f}x (Qwen3) at capacity |")
msi_all = c(sall['ds'], 2)
def msi_where(bt):
    bs = [b for b in sorted(bt[150]) if bt[150][b][2]]
    return f"B ≤ {max(bs)}" if bs else "no batch"
o.append(f"| TPG vs MegaScale-Infer | 2.2x | MSI meets 150 ms only at {msi_where(ds_b)} on DS-V2 (Janus "
         f"{rmsi[0]:.1f}–{rmsi[1]:.1f}x there) and at {msi_where(qw_b)} on Qwen3 | with all three changes of §6.5: "
         f"{c(sall['ds'],0)/msi_all:.1f}x at capacity (DS-V2) |")
o.append(f"| TPG vs xDeepServe | 3.3x | {min(rx[0], rxq[0]):.1f}–{max(rx[1], rxq[1]):.1f}x at B ≤ 256; "
         f"{c(ds_s,0)/c(ds_s,3):.2f}x at capacity (DS-V2), {c(qw_s,0)/c(qw_s,3):.2f}x (Qwen3) | "
         f"{c(s8['ds'],0)/c(s8['ds'],3):.2f}x (DS-V2), {c(s8['qw'],0)/c(s8['qw'],3):.2f}x (Qwen3) at capacity |")
o.append(f"| GPU-hours, 24 h vs SGLang | −39 % (earlier ≈ −25 %) | −{sim['ds']['sglang-mono']['save']} (DS-V2), "
         f"−{sim['qw']['sglang-mono']['save']} (Qwen3) | −{sim8['ds']['sglang-mono']['save']}, −{sim8['qw']['sglang-mono']['save']} |")
o.append(f"| GPU-hours vs MegaScale-Infer | −16 % | n/a (MSI infeasible in {sim['ds']['megascale-infer']['inf']}–"
         f"{sim['qw']['megascale-infer']['inf']} of 96 intervals) | n/a |")
o.append("| GPU-hours vs xDeepServe | – | "
         f"−{sim['ds']['xdeepserve']['save']} (DS-V2), −{sim['qw']['xdeepserve']['save']} (Qwen3) | "
         f"−{sim8['ds']['xdeepserve']['save']}, −{sim8['qw']['xdeepserve']['save']} |")
o.append("| scheduler cost per layer | < 20 µs small batch, < 90–100 µs at 4096 (GPU kernel) | used as a "
         "coefficient (15 µs + 18 ns/token); the CPU implementation is measured by `janus sched-bench` "
         "(sched issue) | – |")
q15 = rd('plan-q15k.txt')
m15 = re.search(r'n_attn (\d+), n_moe (\d+).*?TPOT ([\d.]+) ms', q15, re.S)
e15 = re.search(r'exchange ([\d.]+) ms', q15)
o.append(f'''
Why our numbers differ:

1. **The monolithic baseline is idealised.** Under one roofline with the same
   efficiencies for everybody, the monolithic deployment streams experts from all 16
   GPUs. It holds only 11 experts per GPU (a_max ≤ 11), and its expert all-to-all sends
   each token to about 5 devices instead of every MoE instance. At capacity it therefore
   has the highest TPG. We model none of the real SGLang overheads, the ones the
   publication measured: kernel efficiency at small per-GPU batches, DeepEP dispatch
   latency, CUDA-graph padding, stragglers. Our ratios are ratios of mechanisms alone.
   Janus's advantage in our model comes from granularity: 1+7 = 8 GPUs serve what the
   monolithic system needs a 16-GPU unit for, and at small batches its TPG is higher.
   The same granularity gives the 24-hour savings, which land close to the publication's.
2. **Janus ships complete hidden states to every MoE instance** (SPEC §3). Each MoE
   instance therefore receives `B·d·2` bytes per layer and per direction. For
   DeepSeek-V2 at B = 2048 that is 21 MB, 0.52 ms over one 50 GB/s NIC, and about 62 ms
   per step over 59 layers. Under SPEC §4's leader funnel, 2PC removes messages, not
   bytes. This caps Janus's batch at a 150 ms SLO near 2000–3000. Qwen3 has 94 layers,
   which makes it worse: at 15000 tok/s Janus needs {m15.group(1)}+{m15.group(2)} GPUs,
   {e15.group(1)} ms of its {m15.group(3)} ms TPOT being exchange. With multi-rail
   striping (`leader_rails=8`), Janus's capacity TPG nearly doubles. It then beats
   xDeepServe, but still not the monolithic system.
3. **MegaScale-Infer-like as SPEC §8 words it** sends one message per activated expert.
   At b ≈ 240 tokens that is about 150 messages at 8 µs, per layer and direction, twice
   (ping-pong). Its balance rule also forbids the memory-bound MoE side at low load.
   Both make it infeasible at 150 ms beyond small batches. With one message per
   destination instance (MegaScale-Infer's M2N) it becomes competitive. Its ping-pong
   overlaps attention with experts, which Janus does not do beyond the shared experts.
4. **Statistics are synthetic** (Zipf 0.3 with groups), shared by all systems. Real
   DeepSeek/Qwen routing, with its temporal locality, would change a_max for everybody.
   It would probably widen the greedy/co-activation advantage, which is
   {d[6]-d[1]:.1f} experts ({100*(d[6]-d[1])/d[6]:.0f} %) below EPLB + token-balanced here.
5. **Layer profiles differ only in which experts are hot**, not in skew. Real models
   have layers that are more or less balanced than others.
''')
print('\n'.join(o))
