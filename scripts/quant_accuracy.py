#!/usr/bin/env python3
# Accuracy of the numeric paths on the quantized fixtures (issue 13 item 2; docs/GGUF.md,
# "Numeric paths"). For every NAME.gguf of ../shared/fixtures/quant (README there): the
# last-position logits of NAME.tokens by `janus logits --matmul exact|int8`, each against
# NAME.deq.logits (llama.cpp on the exactly decoded weights: the reference) and against
# NAME.native.logits (llama.cpp's own integer path on the file), whether the argmax agrees,
# and the 8 greedy ids of `janus generate --matmul P` against NAME.greedy (ids equal before
# the first difference). Prints a Markdown table; exits 1 if a janus command fails.
#   scripts/quant_accuracy.py [--janus build/janus] [--fixtures DIR] [--paths exact,int8]
# JANUS_KERNELS=ref|avx2|avx512 in the environment picks the kernel table.
# SPDX-License-Identifier: MIT
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_floats(path):
    with open(path) as f:
        return [float(x) for x in f.read().split()]


def janus(binary, args):
    p = subprocess.run([binary] + args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"quant_accuracy: janus {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


def max_abs(a, b):
    if len(a) != len(b):
        sys.exit(f"quant_accuracy: {len(a)} logits vs {len(b)} in the reference")
    return max(abs(x - y) for x, y in zip(a, b))


def argmax(v):
    return max(range(len(v)), key=lambda i: v[i])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--janus", default=os.environ.get("JANUS_BIN", os.path.join(ROOT, "build/janus")))
    ap.add_argument("--fixtures", default=os.environ.get("JANUS_FIXTURES", os.path.join(ROOT, "../shared/fixtures")))
    ap.add_argument("--paths", default="exact,int8", help="numeric paths to measure (default exact,int8)")
    a = ap.parse_args()
    qdir = os.path.join(a.fixtures, "quant")
    names = sorted(f[:-5] for f in os.listdir(qdir) if f.endswith(".gguf"))
    if not names:
        sys.exit(f"quant_accuracy: no .gguf files in {qdir}")
    paths = a.paths.split(",")
    head = ["fixture"]
    for p in paths:
        head += [f"{p}: max\\|Δ\\| vs deq", f"{p}: argmax", f"{p}: greedy", f"{p}: max\\|Δ\\| vs native"]
    head += ["llama.cpp native vs deq"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    worst = {p: [0.0, 0.0, 0, 0] for p in paths}  # max vs deq, max vs native, argmax ok, greedy 8/8
    for n in names:
        base = os.path.join(qdir, n)
        ids = ",".join(open(base + ".tokens").read().split())
        deq = read_floats(base + ".deq.logits")
        nat = read_floats(base + ".native.logits")
        want = open(base + ".greedy").read().split()
        row = [n]
        for p in paths:
            lg = [float(x) for x in janus(a.janus, ["logits", "-m", base + ".gguf", "-t", ids, "--matmul", p]).split()]
            out = janus(a.janus, ["generate", "-m", base + ".gguf", "-t", ids, "-n", str(len(want)),
                                  "--ids", "--ignore-eos", "--matmul", p])
            got = out.strip().splitlines()[-1].split()
            same = 0
            while same < min(len(got), len(want)) and got[same] == want[same]:
                same += 1
            d_deq, d_nat = max_abs(lg, deq), max_abs(lg, nat)
            am = argmax(lg) == argmax(deq)
            row += [f"{d_deq:.3g}", "same" if am else "**differs**", f"{same}/{len(want)}", f"{d_nat:.3g}"]
            w = worst[p]
            w[0], w[1] = max(w[0], d_deq), max(w[1], d_nat)
            w[2] += am
            w[3] += same == len(want)
        row.append(f"{max_abs(nat, deq):.3g}")
        print("| " + " | ".join(row) + " |")
    kern = os.environ.get("JANUS_KERNELS", "best")
    print()
    for p in paths:
        w = worst[p]
        print(f"{p} (kernels {kern}): max |Δ| vs deq {w[0]:.3g}, vs native {w[1]:.3g}; argmax {w[2]}/{len(names)}, "
              f"all 8 greedy ids {w[3]}/{len(names)}")


if __name__ == "__main__":
    main()
