#!/usr/bin/python3
"""Checks an F32 export against PyTorch (issue 14 item 2): for a few held-out sequences, the
last-position logits of `janus logits` (exact path) and of the PyTorch model must agree within
--tol (default 1e-4). Prints the max |difference| per sequence; exits 1 on any miss.
"""
import argparse
import array
import subprocess
import sys
import os

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import load_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--gguf", required=True, help="an F32 export of the same checkpoint")
    ap.add_argument("--ids", required=True, help="tokenizer.py's PREFIX.heldout.ids")
    ap.add_argument("--janus", default="build/janus")
    ap.add_argument("--lengths", default="1,7,33,100")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    m, _ = load_model(a.run)
    ids = array.array("h")
    with open(a.ids, "rb") as f:
        ids.frombytes(f.read())
    worst, ok = 0.0, True
    for k, n in enumerate(int(x) for x in a.lengths.split(",")):
        n = min(n, m.c.context)
        seq = [1] + list(ids[k * 997:k * 997 + n - 1])
        with torch.no_grad():
            ref = m(torch.tensor([seq]))[0, -1].double()
        out = subprocess.run([a.janus, "logits", "-m", a.gguf, "--matmul", "exact", "-t",
                              ",".join(map(str, seq))], check=True, capture_output=True,
                             text=True).stdout.split()
        got = torch.tensor([float(x) for x in out], dtype=torch.float64)
        if got.numel() != ref.numel():
            print(f"length {n}: janus gave {got.numel()} logits, PyTorch {ref.numel()}")
            return 1
        d = (got - ref).abs().max().item()
        same = int(got.argmax()) == int(ref.argmax())
        print(f"length {n}: max |janus - torch| = {d:.3g}, argmax same: {same}")
        worst = max(worst, d)
        ok &= d <= a.tol and same
    print(f"worst {worst:.3g} (tolerance {a.tol:g}): {'ok' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
