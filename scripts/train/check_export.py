#!/usr/bin/python3
"""Checks an export against PyTorch (issue 14 item 2). Logits: for a few held-out
sequences, the last-position logits of `janus logits` (exact path) on an F32 export and of the
PyTorch model must agree within --tol (default 1e-4). Perplexity (--text): `janus perplexity
--json` on --ppl-gguf (default: the F32 export) and this script's own evaluation by the same
method (text tokenized whole by SentencePiece with BOS, non-overlapping windows of --ctx
tokens each starting with BOS, second half scored) must agree within --ppl-tol (1 %).
Exits 1 on any miss.
"""
import json
import math
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
    ap.add_argument("--text", help="also compare perplexity on this text")
    ap.add_argument("--spm", help="the SentencePiece .model (with --text)")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=0, help="at most this many windows (0: all)")
    ap.add_argument("--ppl-gguf", help="model for janus perplexity (default --gguf)")
    ap.add_argument("--ppl-tol", type=float, default=0.01)
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
    if a.text:
        ok &= check_ppl(m, a)
    return 0 if ok else 1


def torch_ppl(m, toks, ctx, chunks):
    """llama-perplexity's method on the token list toks (BOS already first)."""
    n_chunk = len(toks) // ctx
    if chunks:
        n_chunk = min(n_chunk, chunks)
    first, tot, cnt = ctx // 2, 0.0, 0
    for c in range(n_chunk):
        w = toks[c * ctx:(c + 1) * ctx]
        x = torch.tensor([[1] + w[1:]])
        with torch.no_grad():
            lp = torch.log_softmax(m(x)[0].double(), dim=-1)
        for i in range(first, ctx - 1):
            tot -= lp[i, w[i + 1]].item()
        cnt += ctx - 1 - first
    return math.exp(tot / cnt), cnt


def check_ppl(m, a):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=a.spm)
    with open(a.text, encoding="utf-8") as f:
        toks = [sp.bos_id()] + sp.encode(f.read())
    ref, cnt = torch_ppl(m, toks, a.ctx, a.chunks)
    cmd = [a.janus, "perplexity", "-m", a.ppl_gguf or a.gguf, "-f", a.text, "--ctx",
           str(a.ctx), "--json", "--threads", "2"]
    if a.chunks:
        cmd += ["--chunks", str(a.chunks)]
    got = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    rel = abs(got["ppl"] - ref) / ref
    ok = rel <= a.ppl_tol and got["tokens"] == cnt and got["text_tokens"] == len(toks)
    print(f"perplexity: janus {got['ppl']:.4f} ({got['tokens']} scored of {got['text_tokens']}),"
          f" PyTorch {ref:.4f} ({cnt} of {len(toks)}): relative difference {rel:.2e} "
          f"(tolerance {a.ppl_tol:g}): {'ok' if ok else 'FAIL'}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
